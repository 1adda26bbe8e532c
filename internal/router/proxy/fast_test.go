package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
)

// rawConn opens a client connection to addr for hand-written requests.
func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	for err == nil && res.StatusCode < 200 { // 100 Continue
		res, err = http.ReadResponse(br, &http.Request{Method: method})
	}
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return res, string(body)
}

// stableProxy is a proxy sending everything to one replica answered by h.
func stableProxy(t *testing.T, h http.HandlerFunc, opts ...proxyOption) (*Proxy, *backend) {
	t.Helper()
	b := newBackend(t, "stable", h)
	p, _ := startProxy(t, opts...)
	p.SetEndpoints("stable", []string{b.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})
	return p, b
}

func TestFastPathServesPlainRequestsAndHandsOffTheRest(t *testing.T) {
	p, _ := stableProxy(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
	})
	cases := map[string]struct {
		req  string
		fast bool
		want string
	}{
		"GET":                  {"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", true, "GET /a?x=1 "},
		"POST with a body":     {"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", true, "POST /p hello"},
		"escaped path":         {"GET /a%20b HTTP/1.1\r\nHost: h\r\n\r\n", true, "GET /a%20b "},
		"HTTP/1.0":             {"GET /old HTTP/1.0\r\nHost: h\r\n\r\n", false, "GET /old "},
		"chunked request body": {"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false, "POST /c abc"},
		"Expect":               {"POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", false, "POST /e hi"},
		"bare LF":              {"GET /lf HTTP/1.1\nHost: h\n\n", false, "GET /lf "},
		"large head":           {"GET /big HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", maxHead) + "\r\n\r\n", false, "GET /big "},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, br := rawConn(t, p.Addr())
			before := p.fastServed.Load()
			io.WriteString(c, tc.req)
			res, body := readResponse(t, br, "GET")
			if res.StatusCode != 200 || body != tc.want {
				t.Fatalf("got %d %q, want 200 %q", res.StatusCode, body, tc.want)
			}
			if fast := p.fastServed.Load() > before; fast != tc.fast {
				t.Fatalf("served by the fast path: %v, want %v", fast, tc.fast)
			}
			if name == "HTTP/1.0" {
				return // no keep-alive asked for: net/http closes
			}
			// The connection goes on serving, whichever path has it.
			io.WriteString(c, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
			if res, body := readResponse(t, br, "GET"); res.StatusCode != 200 || body != "GET /next " {
				t.Fatalf("second request: %d %q", res.StatusCode, body)
			}
		})
	}
}

func TestFastPathInvalidRequestGetsNetHTTPAnswer(t *testing.T) {
	p, b := stableProxy(t, nil)
	for name, req := range map[string]string{
		"no Host":        "GET / HTTP/1.1\r\n\r\n",
		"two lengths":    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"bad escape":     "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
		"space in name":  "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n",
		"absolute form?": "GET http://h/ HTTP/1.1\r\nHost: other\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			hits := b.hits.Load()
			c, br := rawConn(t, p.Addr())
			io.WriteString(c, req)
			res, _ := readResponse(t, br, "GET")
			if name == "absolute form?" { // valid, and net/http forwards it
				if res.StatusCode != 200 {
					t.Fatalf("status %d", res.StatusCode)
				}
				return
			}
			if res.StatusCode != 400 || b.hits.Load() != hits {
				t.Fatalf("status %d, replica hit %d times: want 400 from net/http, replica untouched", res.StatusCode, b.hits.Load()-hits)
			}
		})
	}
}

func TestFastPathHopByHopHeaders(t *testing.T) {
	seen := make(chan http.Header, 1)
	p, _ := stableProxy(t, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Proxy-Authenticate", "Basic")
		w.Header().Set("X-App", "yes")
	})
	c, br := rawConn(t, p.Addr())
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nKeep-Alive: 300\r\nProxy-Connection: keep-alive\r\n"+
		"Proxy-Authorization: secret\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Proto: https\r\nTE: trailers, deflate\r\nX-Keep: 1\r\n\r\n")
	res, _ := readResponse(t, br, "GET")
	h := <-seen
	for _, name := range []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Forwarded"} {
		if v, ok := h[name]; ok {
			t.Errorf("the replica got hop-by-hop %s: %q", name, v)
		}
	}
	if h.Get("X-Keep") != "1" || h.Get("Te") != "trailers" || h.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("forwarded headers: %v", h)
	}
	if res.Header.Get("Keep-Alive") != "" || res.Header.Get("Proxy-Authenticate") != "" || res.Header.Get("X-App") != "yes" {
		t.Errorf("response headers: %v", res.Header)
	}
}

func TestFastPathChunkedResponseStreamsWithTrailers(t *testing.T) {
	release := make(chan struct{})
	p, _ := stableProxy(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		<-release // the first part must reach the user before the rest exists
		io.WriteString(w, "second")
		w.Header().Set("X-Sum", "42")
	})
	c, br := rawConn(t, p.Addr())
	io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
	res, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, len("first;"))
	if _, err := io.ReadFull(res.Body, first); err != nil || string(first) != "first;" {
		t.Fatalf("first part: %q %v", first, err)
	}
	close(release)
	rest, err := io.ReadAll(res.Body)
	if err != nil || string(rest) != "second" {
		t.Fatalf("rest: %q %v", rest, err)
	}
	if res.Trailer.Get("X-Sum") != "42" {
		t.Fatalf("trailer: %v", res.Trailer)
	}
	if p.fastServed.Load() == 0 {
		t.Fatal("not served by the fast path")
	}
}

// rawReplica answers every request on a connection with resp, then closes
// the connection when closeAfter is set, without saying so beforehand: the
// race net/http's Transport retries.
func rawReplica(t *testing.T, resp string, closeAfter bool) (addr string, conns func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan struct{}, 1000)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, resp)
					if closeAfter {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), func() int { return len(accepted) }
}

func TestFastPathRetriesAConnectionTheReplicaClosed(t *testing.T) {
	addr, conns := rawReplica(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true)
	p, reg := startProxy(t)
	p.SetEndpoints("stable", []string{addr})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})
	c := client()
	for i := range 20 {
		method, body := "GET", io.Reader(nil)
		if i%2 == 1 {
			method, body = "POST", strings.NewReader("payload")
		}
		if code, _ := get(t, c, newRequest(t, method, "http://"+p.Addr()+"/", body)); code != 200 {
			t.Fatalf("request %d: status %d", i, code)
		}
		// The replica closed the connection after answering: wait until the
		// proxy's side has seen it, so that the next request meets a stale one.
		time.Sleep(2 * time.Millisecond)
	}
	if got := counts(reg, "stable"); got.Errors != 0 || got.Requests != 20 {
		t.Fatalf("metrics %+v: want 20 requests, no error", got)
	}
	if conns() < 20 {
		t.Fatalf("%d connections for 20 requests: the replica closes each", conns())
	}
}

func TestFastPathBodyDelimitedByClose(t *testing.T) {
	addr, _ := rawReplica(t, "HTTP/1.0 200 OK\r\nX-Backend: old\r\n\r\nuntil the end", true)
	p, _ := startProxy(t)
	p.SetEndpoints("stable", []string{addr})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})
	c, br := rawConn(t, p.Addr())
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	res, body := readResponse(t, br, "GET")
	if res.StatusCode != 200 || body != "until the end" || !res.Close {
		t.Fatalf("got %d %q close=%v: want the whole body, then the connection closed", res.StatusCode, body, res.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the connection stayed open: %v", err)
	}
}

func TestFastPathMalformedResponseIs502(t *testing.T) {
	addr, _ := rawReplica(t, "HTTP/1.1 2x0 Nope\r\n\r\n", false)
	p, reg := startProxy(t)
	p.SetEndpoints("stable", []string{addr})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})
	if code, _ := get(t, client(), newRequest(t, "GET", "http://"+p.Addr()+"/", nil)); code != 502 {
		t.Fatalf("status %d, want 502", code)
	}
	if got := counts(reg, "stable"); got.Errors != 1 {
		t.Fatalf("metrics %+v: want 1 error", got)
	}
	if p.UserErrors()["stable"] != 1 {
		t.Fatalf("user errors %v", p.UserErrors())
	}
}

func TestFastPathPipelinedAndHeadRequests(t *testing.T) {
	p, _ := stableProxy(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "body of "+r.URL.Path) })
	c, br := rawConn(t, p.Addr())
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	for i, want := range []string{"body of /1", "", "body of /3"} {
		method := "GET"
		if i == 1 {
			method = "HEAD"
		}
		res, body := readResponse(t, br, method)
		if res.StatusCode != 200 || body != want {
			t.Fatalf("response %d: %d %q, want %q", i+1, res.StatusCode, body, want)
		}
		if i == 1 && res.ContentLength != int64(len("body of /2")) {
			t.Fatalf("HEAD Content-Length %d", res.ContentLength)
		}
		if i == 2 && !res.Close {
			t.Fatal("Connection: close not answered in kind")
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the connection stayed open after Connection: close: %v", err)
	}
	if p.fastServed.Load() != 3 {
		t.Fatalf("fast path served %d, want 3", p.fastServed.Load())
	}
}

func TestFastPathStreamsLargeBodiesToEitherVersion(t *testing.T) {
	sizes := make(chan int, 10)
	echo := func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		sizes <- int(n)
	}
	stable, canary := newBackend(t, "stable", echo), newBackend(t, "canary", echo)
	max := int64(1024)
	p, _ := startProxy(t, withFailover(v1alpha1.CanaryFailover{MaxBodyBytes: &max}))
	p.SetEndpoints("stable", []string{stable.addr()})
	p.SetEndpoints("canary", []string{canary.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 50})
	c := client()
	seen := map[string]bool{}
	for range 4 {
		body := strings.Repeat("x", 256<<10)
		code, who := get(t, c, newRequest(t, "POST", "http://"+p.Addr()+"/upload", strings.NewReader(body)))
		if code != 200 || <-sizes != len(body) {
			t.Fatalf("upload to %s: status %d", who, code)
		}
		seen[who] = true
	}
	if !seen["stable"] || !seen["canary"] {
		t.Fatalf("versions reached: %v, want both at weight 50", seen)
	}
}

func TestFastPathClosesIdleConnectionsOnShutdown(t *testing.T) {
	b := newBackend(t, "stable", nil)
	p, err := New(Config{Rollout: "demo", Routing: v1alpha1.ProxyRouting{Listen: "127.0.0.1:0"}, Metrics: metrics.New(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Start(ctx) }()
	<-p.Ready()
	p.SetEndpoints("stable", []string{b.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})
	c, br := rawConn(t, p.Addr())
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	readResponse(t, br, "GET")
	cancel()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the idle connection was not closed by the shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Start: %v", err)
	}
}
