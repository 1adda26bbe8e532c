package proxy

import (
	"context"
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
	"fledge.dev/fledge/internal/router"
)

func TestNewValidates(t *testing.T) {
	reg := metrics.New()
	listen := v1alpha1.ProxyRouting{Listen: "127.0.0.1:8080"}
	tests := map[string]struct {
		cfg  Config
		want string
	}{
		"no metrics":       {cfg: Config{Routing: listen}, want: "Metrics must not be nil"},
		"no listen":        {cfg: Config{Metrics: reg}, want: "routing.listen must not be empty"},
		"same addresses":   {cfg: Config{Metrics: reg, Routing: v1alpha1.ProxyRouting{Listen: "127.0.0.1:8080", PreviewListen: "127.0.0.1:8080"}}, want: "previewListen"},
		"empty stickiness": {cfg: Config{Metrics: reg, Routing: listen, Stickiness: &v1alpha1.Stickiness{}}, want: "set cookie or header"},
		"bad cookie name":  {cfg: Config{Metrics: reg, Routing: listen, Stickiness: &v1alpha1.Stickiness{Cookie: "a b"}}, want: "stickiness.cookie"},
		"bad header name":  {cfg: Config{Metrics: reg, Routing: listen, Stickiness: &v1alpha1.Stickiness{Header: "X:Y"}}, want: "stickiness.header"},
		"negative body": {cfg: Config{Metrics: reg, Routing: v1alpha1.ProxyRouting{Listen: "127.0.0.1:8080",
			CanaryFailover: &v1alpha1.CanaryFailover{MaxBodyBytes: ptr(int64(-1))}}}, want: "maxBodyBytes"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestStartReturnsListenErrorPromptly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p, err := New(Config{Rollout: "demo", Routing: v1alpha1.ProxyRouting{Listen: ln.Addr().String()}, Metrics: metrics.New(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Start(context.Background()) // would block forever if it listened
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start: %v, want address already in use", err)
	}
	select {
	case <-p.Ready():
		t.Fatal("Ready closed although nothing listens")
	default:
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	b := newBackend(t, "stable", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "late but whole")
	})
	p, err := New(Config{Rollout: "demo", Routing: v1alpha1.ProxyRouting{Listen: "127.0.0.1:0"}, Metrics: metrics.New(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p.SetEndpoints("stable", []string{b.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- p.Start(ctx) }()
	<-p.Ready()

	type answer struct {
		code int
		body string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		res, err := client().Get("http://" + p.Addr() + "/")
		if err != nil {
			got <- answer{err: err}
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- answer{code: res.StatusCode, body: string(body)}
	}()
	<-entered
	cancel()
	// The listener closes first: new connections are refused.
	eventually(t, "the listener closed", func() bool {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Start returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if a := <-got; a.err != nil || a.code != 200 || a.body != "late but whole" {
		t.Fatalf("in-flight request: %+v, want 200 with the whole body", a)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func TestConfigure(t *testing.T) {
	stable, canary := echoBackend(t, "stable", 200), echoBackend(t, "canary", 500)
	p, _ := startProxy(t, withFailover(v1alpha1.CanaryFailover{Enabled: new(bool)}))
	p.SetEndpoints("stable", []string{stable.addr()})
	p.SetEndpoints("canary", []string{canary.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 100})
	c := client()
	if code, _ := get(t, c, newRequest(t, "GET", "http://"+p.Addr()+"/", nil)); code != 500 {
		t.Fatalf("failover disabled: %d, want the canary's 500", code)
	}
	cfg := Config{Rollout: "demo", Routing: v1alpha1.ProxyRouting{Listen: "127.0.0.1:0"}, Metrics: metrics.New()}
	if err := p.Configure(cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	if code, who := get(t, c, newRequest(t, "GET", "http://"+p.Addr()+"/", nil)); code != 200 || who != "stable" {
		t.Fatalf("failover enabled at runtime: %d from %s, want 200 from stable", code, who)
	}
	cfg.Routing.Listen = "127.0.0.1:9"
	if err := p.Configure(cfg); err == nil || !strings.Contains(err.Error(), "listen addresses cannot change") {
		t.Fatalf("Configure with a new address: %v", err)
	}
}

func TestRegisteredAsRouter(t *testing.T) {
	ro := &v1alpha1.Rollout{}
	ro.Name = "shop"
	ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{
		TrafficRouting: &v1alpha1.TrafficRouting{Proxy: &v1alpha1.ProxyRouting{Listen: "127.0.0.1:0"}},
		Stickiness:     &v1alpha1.Stickiness{Cookie: "u"},
	}
	ro.Default()
	r, err := router.New("proxy", router.Config{Rollout: ro, Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := r.(*Proxy)
	if !ok || p.rollout != "shop" || p.table.Load().set.stickyCookie != "u" {
		t.Fatalf("router.New built %#v", r)
	}
	ro.Spec.Strategy.Canary.TrafficRouting = nil
	if _, err := router.New("proxy", router.Config{Rollout: ro, Metrics: metrics.New()}); err == nil {
		t.Fatal("built a proxy without trafficRouting.proxy")
	}
}
