package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/router"
)

// shutdownTimeout bounds how long Start waits, once its context is done, for
// the requests in flight before it closes the connections.
const shutdownTimeout = 30 * time.Second

// Config is what a Proxy is built from.
type Config struct {
	// Rollout is the rollout's name, used as metrics.Key.Rollout.
	Rollout string
	// Routing holds the listen addresses and the canary failover (defaulted;
	// a nil canaryFailover means the defaults: enabled, GET/HEAD/OPTIONS, 1 MiB).
	Routing v1alpha1.ProxyRouting
	// Stickiness keeps users on one version; nil: none.
	Stickiness *v1alpha1.Stickiness
	// Metrics receives every request; it must not be nil.
	Metrics *metrics.Registry
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Proxy is the embedded router. Build it with New, run it with Start.
type Proxy struct {
	log           *slog.Logger
	rollout       string
	listen        string
	previewListen string
	transport     *http.Transport
	rp            *httputil.ReverseProxy

	// The request path reads table and the atomics below, nothing else.
	table          atomic.Pointer[table]
	weightN        atomic.Uint64 // position in the weighted sequence
	users          userSeq
	routes         routeNames
	failovers      atomic.Uint64
	mirrored       atomic.Uint64
	mirrorsDropped atomic.Uint64
	noRevision     counters      // user errors when no revision could serve
	fastServed     atomic.Uint64 // requests the fast path served (fast.go), for tests
	mirrorSlots    chan struct{}
	mirrors        sync.WaitGroup

	// base is the context of every request: it outlives Start's context so
	// that requests in flight finish during shutdown, and is cancelled once
	// the servers are shut down (ending upgraded connections and mirrors).
	base context.Context
	stop context.CancelFunc

	started atomic.Bool
	ready   chan struct{}

	mu           sync.Mutex // guards what follows and serialises table rebuilds
	set          *settings
	traffic      rollout.Traffic
	headerRoutes []headerRoute
	mirrorRoutes []*mirrorRoute
	eps          map[string][]*endpoint // revision -> its set, in the order given
	byAddr       map[string]*endpoint
	retired      map[string]*endpoint // left their set with requests still in flight
	counters     map[string]*counters
	addr         string
	previewAddr  string
}

var _ router.Router = (*Proxy)(nil)

func init() {
	router.Register("proxy", func(cfg router.Config) (router.Router, error) {
		ro := cfg.Rollout
		if ro == nil {
			return nil, errors.New("proxy: router.Config.Rollout is nil")
		}
		pc := Config{Rollout: ro.Name, Metrics: cfg.Metrics}
		tr := ro.Spec.Strategy.TrafficRouting()
		if c := ro.Spec.Strategy.Canary; c != nil {
			pc.Stickiness = c.Stickiness
		}
		if tr == nil || tr.Proxy == nil {
			return nil, fmt.Errorf("rollout %s: spec.strategy.*.trafficRouting.proxy is not set", ro.Name)
		}
		pc.Routing = *tr.Proxy
		return New(pc)
	})
}

// settings are the parts of a Config that Configure may change.
type settings struct {
	metrics  *metrics.Registry
	failover failoverPolicy
	// stickyHeader (canonical) and stickyCookie name the user; both "" when
	// there is no stickiness.
	stickyHeader, stickyCookie string
}

type failoverPolicy struct {
	enabled bool
	methods []string
	// maxBody is the largest request body buffered, for a replay on stable
	// and for a mirror copy.
	maxBody int64
}

func (f *failoverPolicy) retriesStatus(method string) bool {
	return slices.Contains(f.methods, method)
}

// retriesMethod is retriesStatus for the fast path's method bytes.
func (f *failoverPolicy) retriesMethod(method []byte) bool {
	for _, m := range f.methods {
		if string(method) == m {
			return true
		}
	}
	return false
}

func newSettings(cfg Config) (*settings, error) {
	if cfg.Metrics == nil {
		return nil, errors.New("proxy: Config.Metrics must not be nil")
	}
	s := &settings{metrics: cfg.Metrics, failover: failoverPolicy{
		enabled: true,
		methods: v1alpha1.DefaultFailoverMethods,
		maxBody: v1alpha1.DefaultFailoverMaxBodyBytes,
	}}
	if f := cfg.Routing.CanaryFailover; f != nil {
		if f.Enabled != nil {
			s.failover.enabled = *f.Enabled
		}
		if len(f.Methods) > 0 {
			s.failover.methods = nil
			for _, m := range f.Methods {
				s.failover.methods = append(s.failover.methods, strings.ToUpper(m))
			}
		}
		if f.MaxBodyBytes != nil {
			if *f.MaxBodyBytes < 0 {
				return nil, fmt.Errorf("proxy: routing.canaryFailover.maxBodyBytes: %d is negative", *f.MaxBodyBytes)
			}
			s.failover.maxBody = *f.MaxBodyBytes
		}
	}
	if st := cfg.Stickiness; st != nil {
		if st.Header == "" && st.Cookie == "" {
			return nil, errors.New("proxy: stickiness: set cookie or header")
		}
		if st.Header != "" {
			if !httpguts.ValidHeaderFieldName(st.Header) {
				return nil, fmt.Errorf("proxy: stickiness.header: %q is not a valid header name", st.Header)
			}
			s.stickyHeader = textproto.CanonicalMIMEHeaderKey(st.Header)
		}
		if st.Cookie != "" {
			if err := (&http.Cookie{Name: st.Cookie, Value: "x"}).Valid(); err != nil {
				return nil, fmt.Errorf("proxy: stickiness.cookie: %w", err)
			}
			s.stickyCookie = st.Cookie
		}
	}
	return s, nil
}

// New validates cfg and builds a proxy; it does not listen yet. Until the
// first SetTraffic there is no revision to route to (503).
func New(cfg Config) (*Proxy, error) {
	set, err := newSettings(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Routing.Listen == "" {
		return nil, errors.New("proxy: routing.listen must not be empty")
	}
	if cfg.Routing.PreviewListen == cfg.Routing.Listen && !strings.HasSuffix(cfg.Routing.Listen, ":0") {
		return nil, fmt.Errorf("proxy: routing.previewListen: %s is also the listen address", cfg.Routing.Listen)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	p := &Proxy{
		log:           log.With("rollout", cfg.Rollout),
		rollout:       cfg.Rollout,
		listen:        cfg.Routing.Listen,
		previewListen: cfg.Routing.PreviewListen,
		transport:     newTransport(),
		mirrorSlots:   make(chan struct{}, maxMirrorsInFlight),
		ready:         make(chan struct{}),
		set:           set,
		eps:           map[string][]*endpoint{},
		byAddr:        map[string]*endpoint{},
		retired:       map[string]*endpoint{},
		counters:      map[string]*counters{},
	}
	p.base, p.stop = context.WithCancel(context.Background())
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.transport,
		BufferPool:     &bufferPool{},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.handleError,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	p.mu.Lock()
	p.rebuild()
	p.mu.Unlock()
	return p, nil
}

// newTransport is shared by every replica of the proxy: many idle
// keep-alive connections per replica (a proxy under load reuses them all),
// no proxy from the environment, no transparent gzip (the client's own
// Accept-Encoding passes through).
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// Configure changes stickiness, failover, metrics at runtime; the listen
// addresses and the rollout name cannot change (start a new proxy instead).
// The logger is kept.
func (p *Proxy) Configure(cfg Config) error {
	if cfg.Routing.Listen != p.listen || cfg.Routing.PreviewListen != p.previewListen {
		return fmt.Errorf("proxy: listen addresses cannot change (have %q and %q, got %q and %q)",
			p.listen, p.previewListen, cfg.Routing.Listen, cfg.Routing.PreviewListen)
	}
	if cfg.Rollout != p.rollout {
		return fmt.Errorf("proxy: the rollout name cannot change (have %q, got %q)", p.rollout, cfg.Rollout)
	}
	set, err := newSettings(cfg)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set = set
	p.rebuild()
	return nil
}

// Start listens on the listen address (and the preview address if set) and
// serves until ctx is done, then shuts down gracefully: it stops accepting,
// lets requests in flight finish (up to 30s), then closes what is left. A
// listen error (such as an address in use) is returned at once.
func (p *Proxy) Start(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("proxy: Start called twice")
	}
	defer p.stop()
	ln, err := net.Listen("tcp", p.listen)
	if err != nil {
		return fmt.Errorf("proxy %s: listen: %w", p.rollout, err)
	}
	servers := []*http.Server{p.server(http.HandlerFunc(p.serveMain))}
	listeners := []net.Listener{ln}
	if p.previewListen != "" {
		pln, err := net.Listen("tcp", p.previewListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("proxy %s: listen (preview): %w", p.rollout, err)
		}
		servers = append(servers, p.server(http.HandlerFunc(p.servePreview)))
		listeners = append(listeners, pln)
	}
	p.mu.Lock()
	p.addr = ln.Addr().String()
	if len(listeners) > 1 {
		p.previewAddr = listeners[1].Addr().String()
	}
	p.mu.Unlock()

	// The main address: the fast path accepts, and hands net/http
	// (servers[0]) the connections it does not serve itself.
	fast := newFastServer(p, ln.Addr())
	errc := make(chan error, len(servers)+1)
	go func() { errc <- fast.serve(ln) }()
	go func() { errc <- servers[0].Serve(fast.handoff) }()
	for i, srv := range servers[1:] {
		go func() { errc <- srv.Serve(listeners[i+1]) }()
	}
	close(p.ready)
	p.log.Info("proxy listening", "addr", p.Addr(), "preview", p.PreviewAddr())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		serveErr = fmt.Errorf("proxy %s: serve: %w", p.rollout, serveErr)
	}
	ln.Close()
	p.shutdown(fast, servers)
	return serveErr
}

func (p *Proxy) server(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return p.base },
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	// HTTP/1.1 and cleartext HTTP/2 with prior knowledge (h2c), natively:
	// golang.org/x/net/http2/h2c is deprecated in favour of this.
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}

func (p *Proxy) shutdown(fast *fastServer, servers []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := fast.shutdown(ctx); err != nil {
			p.log.Warn("proxy: requests still in flight after the shutdown timeout; closed", "err", err)
		}
	})
	for _, srv := range servers {
		wg.Go(func() {
			if err := srv.Shutdown(ctx); err != nil {
				p.log.Warn("proxy: requests still in flight after the shutdown timeout; closing", "err", err)
				srv.Close()
			}
		})
	}
	wg.Wait()
	p.stop() // upgraded connections (not tracked by Shutdown) and mirrors end here
	p.mirrors.Wait()
	p.transport.CloseIdleConnections()
	p.closeAllIdle()
	p.log.Info("proxy stopped")
}

// Ready is closed once the proxy listens.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Addr is the bound main address (useful with port 0), once Ready is closed.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// PreviewAddr is the bound preview address, or "" when there is none.
func (p *Proxy) PreviewAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.previewAddr
}
