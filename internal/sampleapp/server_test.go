package sampleapp

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// running is a sample app started by a test on a free loopback port.
type running struct {
	srv     *server
	url     string
	addr    string
	started time.Time // when it began listening, as the test saw it
	stop    context.CancelFunc
	done    chan error // Run's result
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	listening := make(chan net.Addr, 1)
	cfg.Started = func(a net.Addr) { listening <- a }
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{srv: newServer(cfg), stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- r.srv.run(ctx) }()
	select {
	case a := <-listening:
		r.started, r.addr, r.url = time.Now(), a.String(), "http://"+a.String()
	case err := <-r.done:
		t.Fatalf("sample app did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("sample app did not listen within 10s")
	}
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait returns Run's result once the test has stopped it.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for Cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of being stopped")
		return nil
	}
}

func do(t *testing.T, c *http.Client, method, url, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestRoutes(t *testing.T) {
	app := start(t, Config{Version: "v2", Greeting: "hi"})
	tests := map[string]struct {
		method, path, body string
		code               int
		want               string
	}{
		"hello":            {method: "GET", path: "/", code: 200, want: "hi from v2\n"},
		"hello head":       {method: "HEAD", path: "/", code: 200, want: ""},
		"login":            {method: "POST", path: "/login", body: `{"user":"ann","password":"x"}`, code: 200, want: `{"ok":true,"version":"v2"}` + "\n"},
		"login needs post": {method: "GET", path: "/login", code: 405},
		"healthz":          {method: "GET", path: "/healthz", code: 200, want: `{"status":"ok","version":"v2"}` + "\n"},
		"readyz":           {method: "GET", path: "/readyz", code: 200, want: `{"status":"ready","version":"v2"}` + "\n"},
		"version":          {method: "GET", path: "/version", code: 200, want: `{"inflight":0,"version":"v2"}` + "\n"},
		"slow":             {method: "GET", path: "/slow?ms=1", code: 200, want: `{"ok":true,"sleptMs":1,"version":"v2"}` + "\n"},
		"slow no ms":       {method: "GET", path: "/slow", code: 400},
		"slow too long":    {method: "GET", path: "/slow?ms=3600000", code: 400},
		"unknown":          {method: "GET", path: "/nope", code: 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, h, body := do(t, http.DefaultClient, tc.method, app.url+tc.path, tc.body)
			if code != tc.code {
				t.Fatalf("%s %s = %d %q, want %d", tc.method, tc.path, code, body, tc.code)
			}
			if tc.want != "" && body != tc.want {
				t.Errorf("%s %s body = %q, want %q", tc.method, tc.path, body, tc.want)
			}
			if v := h.Get("X-Version"); v != "v2" {
				t.Errorf("X-Version = %q, want v2", v)
			}
		})
	}
}

func TestDefaultVersionAndGreeting(t *testing.T) {
	app := start(t, Config{})
	if _, _, body := do(t, http.DefaultClient, "GET", app.url+"/", ""); body != "hello from v1\n" {
		t.Fatalf("GET / = %q, want the default greeting and version", body)
	}
}

func TestErrorRate(t *testing.T) {
	const n, rate = 2000, 0.2
	app := start(t, Config{ErrorRates: Routes[float64]{"POST /login": rate}})
	count := func(method, path string) (failed int) {
		for range n {
			code, _, body := do(t, http.DefaultClient, method, app.url+path, "{}")
			switch code {
			case 200:
			case 500:
				failed++
				if !strings.Contains(body, "injected failure (error rate 0.2 on POST /login)") {
					t.Fatalf("500 body = %q, want it to say the failure is injected", body)
				}
			default:
				t.Fatalf("%s %s = %d %q", method, path, code, body)
			}
		}
		return failed
	}
	// Binomial(2000, 0.2) has a standard deviation of 17.9: ±100 is over 5σ.
	if got := count("POST", "/login"); got < n*rate-100 || got > n*rate+100 {
		t.Errorf("POST /login failed %d of %d, want %v ± 100", got, n, n*rate)
	}
	if got := count("GET", "/"); got != 0 {
		t.Errorf("GET / (no error rate) failed %d of %d, want 0", got, n)
	}
}

func TestAnyRouteAndCertainFailure(t *testing.T) {
	app := start(t, Config{ErrorRates: Routes[float64]{"*": 1, "GET /healthz": 0}})
	if code, _, _ := do(t, http.DefaultClient, "GET", app.url+"/version", ""); code != 500 {
		t.Errorf("GET /version with rate 1 for any route = %d, want 500", code)
	}
	if code, _, _ := do(t, http.DefaultClient, "GET", app.url+"/healthz", ""); code != 200 {
		t.Errorf("GET /healthz with its own rate 0 = %d, want 200", code)
	}
}

func TestLatencyIsAdded(t *testing.T) {
	const added = 80 * time.Millisecond
	app := start(t, Config{Latency: Routes[time.Duration]{"GET /": added}})
	for range 5 {
		begin := time.Now()
		do(t, http.DefaultClient, "GET", app.url+"/", "")
		if took, least := time.Since(begin), time.Duration(float64(added)*(1-Jitter)); took < least {
			t.Fatalf("GET / took %s, want at least %s (%s - %v jitter)", took, least, added, Jitter)
		}
	}
}

func TestFailHealthAfter(t *testing.T) {
	const after = 400 * time.Millisecond
	app := start(t, Config{FailHealthAfter: after})
	c := http.DefaultClient
	asked := time.Now()
	if code, _, body := do(t, c, "GET", app.url+"/healthz", ""); code != 200 && asked.Before(app.started.Add(after)) {
		t.Fatalf("healthz %s after start = %d %q, want 200 until %s", asked.Sub(app.started), code, body, after)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		asked := time.Now()
		code, _, body := do(t, c, "GET", app.url+"/healthz", "")
		if code == 500 {
			if asked.Before(app.started.Add(after - 50*time.Millisecond)) {
				t.Fatalf("healthz failed %s after start, want not before %s", asked.Sub(app.started), after)
			}
			if !strings.Contains(body, `"status":"failing"`) {
				t.Errorf("failing healthz body = %q", body)
			}
			break
		}
		if code != 200 || time.Now().After(deadline) {
			t.Fatalf("healthz = %d %q, want 200 then 500 from %s after start", code, body, after)
		}
		time.Sleep(20 * time.Millisecond) // polling period, not synchronisation
	}
	if code, _, _ := do(t, c, "GET", app.url+"/readyz", ""); code != 503 {
		t.Errorf("readyz after health failed = %d, want 503", code)
	}
	if code, _, _ := do(t, c, "GET", app.url+"/", ""); code != 200 {
		t.Errorf("GET / after health failed = %d, want 200 (only the probe fails)", code)
	}
}

func TestStartupDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	begin := time.Now()
	app := start(t, Config{StartupDelay: delay})
	if waited := app.started.Sub(begin); waited < delay {
		t.Fatalf("listened %s after Run, want at least the startup delay %s", waited, delay)
	}
	if code, _, _ := do(t, http.DefaultClient, "GET", app.url+"/readyz", ""); code != 200 {
		t.Fatalf("readyz after startup = %d, want 200", code)
	}
}

func TestStopDuringStartupDelay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	listened := make(chan struct{}, 1)
	go func() {
		done <- Run(ctx, Config{Listen: "127.0.0.1:0", StartupDelay: time.Hour, Started: func(net.Addr) { listened <- struct{}{} }})
	}()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run stopped during its startup delay = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when stopped during its startup delay")
	}
	if len(listened) > 0 {
		t.Fatal("Run listened although it was stopped before its startup delay ended")
	}
}

func TestCrashAfter(t *testing.T) {
	app := start(t, Config{CrashAfter: 100 * time.Millisecond})
	select {
	case err := <-app.done:
		app.done <- err
		if err == nil || !strings.Contains(err.Error(), "crashed as told, 100ms after listening") {
			t.Fatalf("Run = %v, want the crash error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not crash within 10s")
	}
	if c, err := net.Dial("tcp", app.addr); err == nil {
		c.Close()
		t.Fatal("still accepting connections after the crash")
	}
}

// TestGracefulShutdown stops the app while a slow request runs: the app
// stops accepting at once, the request still gets its whole answer, and Run
// returns nil.
func TestGracefulShutdown(t *testing.T) {
	app := start(t, Config{Version: "v2"})
	type result struct {
		code int
		body string
		err  error
		at   time.Time
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(app.url + "/slow?ms=1500")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{code: resp.StatusCode, body: string(b), err: err, at: time.Now()}
	}()
	waitFor(t, "the slow request to be in flight", func() bool { return app.srv.inflight.Load() == 1 })

	app.stop()
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", app.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	closed := time.Now()

	r := <-got
	if r.err != nil || r.code != 200 || r.body != `{"ok":true,"sleptMs":1500,"version":"v2"}`+"\n" {
		t.Fatalf("slow request during shutdown = %d %q, %v; want its whole answer", r.code, r.body, r.err)
	}
	if !r.at.After(closed) {
		t.Errorf("the slow request ended before the listener closed: the test did not overlap them")
	}
	if err := app.wait(t); err != nil {
		t.Fatalf("Run after a graceful shutdown = %v, want nil", err)
	}
}

func TestShutdownTimeoutCutsStragglers(t *testing.T) {
	app := start(t, Config{ShutdownTimeout: 100 * time.Millisecond})
	failed := make(chan error, 1)
	go func() {
		resp, err := http.Get(app.url + "/slow?ms=30000")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		failed <- err
	}()
	waitFor(t, "the slow request to be in flight", func() bool { return app.srv.inflight.Load() == 1 })
	app.stop()
	if err := app.wait(t); err == nil || !strings.Contains(err.Error(), "drain requests in flight within 100ms") {
		t.Fatalf("Run = %v, want the drain timeout error", err)
	}
	if err := <-failed; err == nil {
		t.Error("the straggler got an answer, want its connection cut")
	}
}

func TestReadyzWhileDraining(t *testing.T) {
	s := newServer(Config{})
	s.draining.Store(true)
	rec := httptest.NewRecorder()
	s.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 503 || body["status"] != "draining" {
		t.Fatalf("readyz while draining = %d %q, want 503 draining", rec.Code, rec.Body.String())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
