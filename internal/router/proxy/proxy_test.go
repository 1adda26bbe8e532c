package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
)

func TestExactSplitOnOneKeepAliveConnection(t *testing.T) {
	stable, canary := newBackend(t, "stable", nil), newBackend(t, "canary", nil)
	p, reg := startProxy(t)
	p.SetEndpoints("stable", []string{stable.addr()})
	p.SetEndpoints("canary", []string{canary.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 5})

	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	var conns atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			conns.Add(1)
		}
	}}
	got := map[string]int{}
	for range 1000 {
		req := newRequest(t, "GET", "http://"+p.Addr()+"/items?page=2", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		code, who := get(t, c, req)
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		got[who]++
	}
	if conns.Load() != 1 {
		t.Fatalf("the client opened %d connections, want 1 (keep-alive)", conns.Load())
	}
	if got["canary"] != 50 || got["stable"] != 950 {
		t.Fatalf("split %v, want exactly 50 canary and 950 stable", got)
	}
	cc := reg.Snapshot(nil)[metrics.Key{Rollout: "demo", Revision: "canary", Route: "GET /items"}]
	if cc.Requests != 50 || cc.Errors != 0 {
		t.Errorf("canary metrics %d requests, %d errors; want 50, 0 under route \"GET /items\"", cc.Requests, cc.Errors)
	}
	if s := counts(reg, "stable"); s.Requests != 950 || s.SumSeconds <= 0 {
		t.Errorf("stable metrics %d requests, %.6fs; want 950 with a latency", s.Requests, s.SumSeconds)
	}
}

func TestH2CRequest(t *testing.T) {
	stable := newBackend(t, "stable", nil)
	p, _ := startProxy(t)
	p.SetEndpoints("stable", []string{stable.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	res, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.ProtoMajor != 2 || string(body) != "stable" {
		t.Fatalf("got %s %q, want HTTP/2 from stable", res.Proto, body)
	}
}

func TestWebSocketPassesThrough(t *testing.T) {
	echo := newBackend(t, "stable", websocket.Handler(func(ws *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(ws, &msg) == nil {
			if websocket.Message.Send(ws, msg) != nil {
				return
			}
		}
	}).ServeHTTP)
	p, _ := startProxy(t)
	p.SetEndpoints("stable", []string{echo.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})

	ws, err := websocket.Dial("ws://"+p.Addr()+"/ws", "", "http://"+p.Addr()+"/")
	if err != nil {
		t.Fatalf("dial through the proxy: %v", err)
	}
	defer ws.Close()
	for _, msg := range []string{"hello", "fledge", strings.Repeat("x", 70000)} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		var back string
		if err := websocket.Message.Receive(ws, &back); err != nil {
			t.Fatal(err)
		}
		if back != msg {
			t.Fatalf("echo of %d bytes came back as %d bytes", len(msg), len(back))
		}
	}
}

func TestWeightChangeUnderLoadDropsNothing(t *testing.T) {
	stable, canary := newBackend(t, "stable", nil), newBackend(t, "canary", nil)
	p, _ := startProxy(t)
	p.SetEndpoints("stable", []string{stable.addr()})
	p.SetEndpoints("canary", []string{canary.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary"})

	var failures, done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	c := client()
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := c.Get("http://" + p.Addr() + "/")
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failures.Add(1)
				}
				done.Add(1)
			}
		})
	}
	for round := range 3 {
		for _, w := range []int32{1, 10, 25, 50, 75, 100, 50, 0} {
			setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: w})
			n := done.Load()
			eventually(t, fmt.Sprintf("round %d: requests at weight %d", round, w), func() bool { return done.Load() >= n+20 })
		}
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d requests failed while weights changed", failures.Load(), done.Load())
	}
	if stable.hits.Load() == 0 || canary.hits.Load() == 0 {
		t.Fatalf("stable %d, canary %d hits: both should have served", stable.hits.Load(), canary.hits.Load())
	}
}

func TestStickyCookieEndToEnd(t *testing.T) {
	stable, canary := newBackend(t, "stable", nil), newBackend(t, "canary", nil)
	p, _ := startProxy(t, withStickiness(v1alpha1.Stickiness{Cookie: "fledge-user"}))
	p.SetEndpoints("stable", []string{stable.addr()})
	p.SetEndpoints("canary", []string{canary.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 25})

	type browser struct {
		c     *http.Client
		first string
	}
	browsers := make([]browser, 40)
	onCanary := 0
	for i := range browsers {
		jar, _ := cookiejar.New(nil)
		b := &browsers[i]
		b.c = &http.Client{Jar: jar, Timeout: 5 * time.Second}
		for visit := range 5 {
			res, err := b.c.Get("http://" + p.Addr() + "/page")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			set := res.Header.Get("Set-Cookie")
			if (visit == 0) != (set != "") {
				t.Fatalf("browser %d visit %d: Set-Cookie %q; want one only on the first visit", i, visit, set)
			}
			who := res.Header.Get("X-Backend")
			if visit == 0 {
				b.first = who
				if who == "canary" {
					onCanary++
				}
			} else if who != b.first {
				t.Fatalf("browser %d moved from %s to %s", i, b.first, who)
			}
		}
	}
	if onCanary != 10 {
		t.Errorf("%d of 40 new users on the canary at 25%%, want 10", onCanary)
	}
	// Abort: everyone back on stable, cookies kept.
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 0})
	for i, b := range browsers {
		res, err := b.c.Get("http://" + p.Addr() + "/page")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if who := res.Header.Get("X-Backend"); who != "stable" || res.Header.Get("Set-Cookie") != "" {
			t.Fatalf("browser %d after abort: %s, Set-Cookie %q; want stable and no new cookie", i, who, res.Header.Get("Set-Cookie"))
		}
	}
}

func TestHeaderRouteEndToEnd(t *testing.T) {
	stable, canary := newBackend(t, "stable", nil), newBackend(t, "canary", nil)
	p, _ := startProxy(t, withStickiness(v1alpha1.Stickiness{Header: "X-User"}))
	p.SetEndpoints("stable", []string{stable.addr()})
	p.SetEndpoints("canary", []string{canary.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 0, HeaderRoutes: mustHeaderRoutes()})

	c := client()
	req := newRequest(t, "GET", "http://"+p.Addr()+"/", nil)
	req.Header.Set("X-User", "alice") // stickiness says stable at weight 0: the route wins
	if _, who := get(t, c, req); who != "stable" {
		t.Fatalf("without the route header: %s, want stable", who)
	}
	req.Header.Set("X-Canary", "always")
	if _, who := get(t, c, req); who != "canary" {
		t.Fatalf("with the route header: %s, want canary", who)
	}
	// A canary without replicas: the route cannot fail the user.
	p.SetEndpoints("canary", nil)
	if code, who := get(t, c, req); code != 200 || who != "stable" {
		t.Fatalf("route to a canary without replicas: %d from %s, want 200 from stable", code, who)
	}
}

func TestMirrorReachesCanaryUserGetsStable(t *testing.T) {
	got := make(chan string, 1)
	stable := newBackend(t, "stable", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "stable:%s", b)
	})
	canary := newBackend(t, "canary", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Method + " " + r.URL.Path + " " + string(b)
		w.WriteHeader(http.StatusInternalServerError) // a mirror's answer never reaches the user
	})
	p, reg := startProxy(t)
	p.SetEndpoints("stable", []string{stable.addr()})
	p.SetEndpoints("canary", []string{canary.addr()})
	pct := int32(100)
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", MirrorRoutes: []v1alpha1.SetMirrorRoute{{
		Name: "orders", Percentage: &pct, Match: []v1alpha1.RouteMatch{{Path: &v1alpha1.StringMatch{Prefix: "/orders"}}},
	}}})

	res, err := client().Post("http://"+p.Addr()+"/orders", "text/plain", strings.NewReader("order-42"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "stable:order-42" {
		t.Fatalf("user got %d %q, want 200 from stable with the body", res.StatusCode, body)
	}
	select {
	case m := <-got:
		if m != "POST /orders order-42" {
			t.Fatalf("canary got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the canary never got the mirror copy")
	}
	eventually(t, "the mirror copy recorded", func() bool { return counts(reg, "canary").Requests == 1 })
	if c := counts(reg, "canary"); c.Errors != 1 {
		t.Errorf("canary metrics: %d errors, want the mirror's 500 recorded", c.Errors)
	}
	if s := p.Stats(); s.Mirrored != 1 || len(s.UserErrors) != 0 {
		t.Errorf("stats %+v: want 1 mirrored and no user error", s)
	}
	// Not matching: no copy.
	get(t, client(), newRequest(t, "GET", "http://"+p.Addr()+"/other", nil))
	if s := p.Stats(); s.Mirrored != 1 {
		t.Errorf("a request outside the route was mirrored")
	}
}

func TestDrainWaitsForSlowInFlightRequest(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	})
	other := newBackend(t, "other", nil)
	p, _ := startProxy(t)
	p.SetEndpoints("stable", []string{slow.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})

	c := client()
	result := make(chan int, 1)
	go func() {
		res, err := c.Get("http://" + p.Addr() + "/slow")
		if err != nil {
			result <- 0
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		result <- res.StatusCode
	}()
	<-entered
	p.SetEndpoints("stable", []string{slow.addr(), other.addr()})
	drained := make(chan error, 1)
	go func() { drained <- p.Drain(context.Background(), slow.addr()) }()
	// New requests avoid the draining replica at once.
	eventually(t, "the drained replica out of rotation", func() bool {
		_, who := get(t, c, newRequest(t, "GET", "http://"+p.Addr()+"/", nil))
		return who == "other"
	})
	for range 20 {
		if _, who := get(t, c, newRequest(t, "GET", "http://"+p.Addr()+"/", nil)); who != "other" {
			t.Fatalf("a new request went to the draining replica")
		}
	}
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if err := <-drained; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if code := <-result; code != 200 {
		t.Fatalf("the slow request ended with %d, want 200", code)
	}
	// A drain that cannot finish in time says so.
	entered2, release2 := make(chan struct{}), make(chan struct{})
	stuck := newBackend(t, "stuck", func(w http.ResponseWriter, r *http.Request) { close(entered2); <-release2 })
	defer close(release2)
	p.SetEndpoints("stuck", []string{stuck.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stuck"})
	go c.Get("http://" + p.Addr() + "/")
	<-entered2
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Drain(ctx, stuck.addr()); err == nil || !strings.Contains(err.Error(), "1 requests still in flight") {
		t.Fatalf("Drain with an expired context: %v", err)
	}
}

func TestObservedEqualsSet(t *testing.T) {
	p, _ := startProxy(t)
	pct := int32(20)
	want := rollout.Traffic{
		Stable: "r1", Canary: "r2", CanaryWeight: 35, Preview: "r2",
		HeaderRoutes: mustHeaderRoutes(),
		MirrorRoutes: []v1alpha1.SetMirrorRoute{{Name: "m", Percentage: &pct, Match: []v1alpha1.RouteMatch{{
			Method: &v1alpha1.StringMatch{Exact: "GET"}, Headers: map[string]v1alpha1.StringMatch{"X-A": {Prefix: "b"}}}}}},
	}
	setTraffic(t, p, want)
	got, err := p.Observed(context.Background())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Observed = %+v, %v; want %+v", got, err, want)
	}
	// The proxy keeps its own copy.
	want.HeaderRoutes[0].Match[0].HeaderValue.Exact = "changed"
	*want.MirrorRoutes[0].Percentage = 99
	again, _ := p.Observed(context.Background())
	if again.HeaderRoutes[0].Match[0].HeaderValue.Exact != "always" || *again.MirrorRoutes[0].Percentage != 20 {
		t.Fatal("changing what was set changed what is observed")
	}
	// A bad route changes nothing.
	bad := got
	bad.CanaryWeight = 50
	bad.HeaderRoutes = []v1alpha1.SetHeaderRoute{{Name: "x", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "A", HeaderValue: &v1alpha1.StringMatch{Regex: "("}}}}}
	if err := p.SetTraffic(context.Background(), bad); err == nil {
		t.Fatal("SetTraffic accepted a bad regex")
	}
	if err := p.SetTraffic(context.Background(), rollout.Traffic{Stable: "r1", CanaryWeight: 101}); err == nil {
		t.Fatal("SetTraffic accepted weight 101")
	}
	if now, _ := p.Observed(context.Background()); now.CanaryWeight != 35 {
		t.Fatalf("a rejected SetTraffic changed the weight to %d", now.CanaryWeight)
	}
}

func TestNoReplicas(t *testing.T) {
	stable := newBackend(t, "stable", nil)
	p, reg := startProxy(t)
	c := client()
	p.SetEndpoints("stable", []string{stable.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 100})
	if code, who := get(t, c, newRequest(t, "GET", "http://"+p.Addr()+"/", nil)); code != 200 || who != "stable" {
		t.Fatalf("canary without replicas: %d from %q, want 200 from stable", code, who)
	}
	if n := counts(reg, "stable").Requests; n != 1 {
		t.Fatalf("the fallback counted %d stable requests, want 1", n)
	}
	p.SetEndpoints("stable", nil)
	res, err := c.Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || !strings.Contains(string(body), "no ready replica") {
		t.Fatalf("no replica at all: %d %q, want 503 saying so", res.StatusCode, body)
	}
	if ue := p.UserErrors(); ue["stable"] != 1 {
		t.Fatalf("UserErrors = %v, want stable: 1", ue)
	}
}

func TestPreviewAddress(t *testing.T) {
	stable, green := newBackend(t, "blue", nil), newBackend(t, "green", nil)
	p, reg := startProxy(t, withPreview())
	p.SetEndpoints("blue", []string{stable.addr()})
	p.SetEndpoints("green", []string{green.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "blue", Preview: "green"})
	c := client()
	for range 5 {
		if _, who := get(t, c, newRequest(t, "GET", "http://"+p.PreviewAddr()+"/", nil)); who != "green" {
			t.Fatalf("preview address served %s, want green", who)
		}
		if _, who := get(t, c, newRequest(t, "GET", "http://"+p.Addr()+"/", nil)); who != "blue" {
			t.Fatalf("main address served %s, want blue", who)
		}
	}
	if n := counts(reg, "green").Requests; n != 5 {
		t.Fatalf("preview requests recorded: %d, want 5 (they are evidence for pre-promotion analysis)", n)
	}
	p.SetEndpoints("green", nil)
	if code, _ := get(t, c, newRequest(t, "GET", "http://"+p.PreviewAddr()+"/", nil)); code != 503 {
		t.Fatalf("preview without replicas: %d, want 503 (never stable on the preview)", code)
	}
}

func TestForwardedHeaders(t *testing.T) {
	seen := make(chan http.Header, 1)
	hosts := make(chan string, 1)
	b := newBackend(t, "stable", func(w http.ResponseWriter, r *http.Request) { seen <- r.Header.Clone(); hosts <- r.Host })
	p, _ := startProxy(t)
	p.SetEndpoints("stable", []string{b.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})
	req := newRequest(t, "GET", "http://"+p.Addr()+"/", nil)
	req.Host = "shop.example"
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // a client's claim is not trusted
	get(t, client(), req)
	h := <-seen
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Host") != "shop.example" || h.Get("X-Forwarded-Proto") != "http" {
		t.Fatalf("forwarded headers %v", h)
	}
	if host := <-hosts; host != "shop.example" {
		t.Fatalf("Host %q, want the client's", host)
	}
}
