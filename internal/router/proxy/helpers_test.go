package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
)

// backend is a real replica on loopback that names itself in its answers.
type backend struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

// addr is the replica's address as the runner gives it.
func (b *backend) addr() string { return strings.TrimPrefix(b.URL, "http://") }

// newBackend starts a replica; h, if not nil, answers after the name is set.
func newBackend(t testing.TB, name string, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.Header().Set("X-Backend", name)
		if h != nil {
			h(w, r)
			return
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

type proxyOption func(*Config)

func withStickiness(s v1alpha1.Stickiness) proxyOption {
	return func(c *Config) { c.Stickiness = &s }
}

func withFailover(f v1alpha1.CanaryFailover) proxyOption {
	return func(c *Config) { c.Routing.CanaryFailover = &f }
}

func withPreview() proxyOption {
	return func(c *Config) { c.Routing.PreviewListen = "127.0.0.1:0" }
}

// startProxy starts a proxy on loopback port 0 and stops it at the end of
// the test.
func startProxy(t testing.TB, opts ...proxyOption) (*Proxy, *metrics.Registry) {
	t.Helper()
	reg := metrics.New()
	cfg := Config{Rollout: "demo", Routing: v1alpha1.ProxyRouting{Listen: "127.0.0.1:0"}, Metrics: reg, Logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Start(ctx) }()
	select {
	case <-p.Ready():
	case err := <-done:
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start returned %v", err)
		}
	})
	return p, reg
}

func setTraffic(t testing.TB, p *Proxy, tr rollout.Traffic) {
	t.Helper()
	if err := p.SetTraffic(context.Background(), tr); err != nil {
		t.Fatalf("SetTraffic: %v", err)
	}
}

// client is a keep-alive HTTP/1.1 client with a timeout.
func client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

// get returns the status and the X-Backend header of one request.
func get(t testing.TB, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("X-Backend")
}

func newRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// counts reads the metrics of a revision, summed over routes.
func counts(reg *metrics.Registry, rev string) metrics.Counts {
	var c metrics.Counts
	for _, v := range reg.Snapshot(func(k metrics.Key) bool { return k.Revision == rev }) {
		c = c.Add(v)
	}
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
