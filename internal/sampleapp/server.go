package sampleapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// maxSlow bounds GET /slow?ms=N, so a typo cannot hold a connection for hours.
const maxSlow = 60 * time.Second

// Run serves cfg until ctx is done, then shuts down gracefully: it stops
// accepting, lets the requests in flight finish (up to ShutdownTimeout) and
// returns nil. It returns an error when it cannot listen, when requests are
// still running at the timeout, and when CrashAfter fires.
func Run(ctx context.Context, cfg Config) error {
	return newServer(cfg).run(ctx)
}

type server struct {
	cfg Config
	log *slog.Logger

	started  time.Time // when the server began listening
	draining atomic.Bool
	// inflight counts requests being served, so a test can see one arrive.
	inflight atomic.Int64
}

func newServer(cfg Config) *server {
	if cfg.Version == "" {
		cfg.Version = "v1"
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &server{cfg: cfg, log: log.With("version", cfg.Version)}
}

func (s *server) run(ctx context.Context) error {
	cfg := s.cfg
	if cfg.StartupDelay > 0 {
		s.log.Info("starting up", "delay", cfg.StartupDelay)
		select {
		case <-time.After(cfg.StartupDelay):
		case <-ctx.Done():
			return nil // stopped before it ever listened: nothing to drain
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("sample app %s: listen on %q: %w", cfg.Version, cfg.Listen, err)
	}
	s.started = time.Now()
	hs := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "errorRates", cfg.ErrorRates.String(),
		"latency", cfg.Latency.String(), "failHealthAfter", cfg.FailHealthAfter, "crashAfter", cfg.CrashAfter)
	if cfg.Started != nil {
		cfg.Started(ln.Addr())
	}

	var crash <-chan time.Time
	if cfg.CrashAfter > 0 {
		t := time.NewTimer(cfg.CrashAfter)
		defer t.Stop()
		crash = t.C
	}
	select {
	case err := <-served:
		return fmt.Errorf("sample app %s: serve on %s: %w", cfg.Version, ln.Addr(), err)
	case <-crash:
		hs.Close() // drop everything at once, as a crash would
		return fmt.Errorf("sample app %s: crashed as told, %s after listening", cfg.Version, cfg.CrashAfter)
	case <-ctx.Done():
	}

	s.draining.Store(true)
	s.log.Info("draining", "inflight", s.inflight.Load(), "timeout", cfg.ShutdownTimeout)
	// The caller's ctx is done; the drain gets its own deadline.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("sample app %s: drain requests in flight within %s: %w", cfg.Version, cfg.ShutdownTimeout, err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sample app %s: serve on %s: %w", cfg.Version, ln.Addr(), err)
	}
	s.log.Info("stopped")
	return nil
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.hello)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /version", s.version)
	mux.HandleFunc("GET /slow", s.slow)
	return s.faults(mux)
}

// faults wraps every route with the configured latency and error rate, and
// names the version in a header.
func (s *server) faults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		w.Header().Set("X-Version", s.cfg.Version)
		if d := s.cfg.Latency.For(r.Method, r.URL.Path); d > 0 {
			if !wait(r.Context(), jittered(d)) {
				return // the client left; nobody reads the answer
			}
		}
		// A fresh draw per request from math/rand/v2's randomly seeded
		// source: the rate holds over many requests, no request is foretold.
		if p := s.cfg.ErrorRates.For(r.Method, r.URL.Path); p > 0 && rand.Float64() < p {
			s.reply(w, http.StatusInternalServerError, map[string]any{
				"ok": false, "error": fmt.Sprintf("injected failure (error rate %g on %s %s)", p, r.Method, r.URL.Path),
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func jittered(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 + Jitter*(2*rand.Float64()-1)))
}

// wait sleeps for d unless ctx ends first; it reports whether d elapsed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *server) hello(w http.ResponseWriter, r *http.Request) {
	greeting := s.cfg.Greeting
	if greeting == "" {
		greeting = "hello"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s from %s\n", greeting, s.cfg.Version)
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	// Read the body as a real login would, so that clients and proxies
	// sending one see it consumed; its content does not matter.
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1<<20)); err != nil {
		s.reply(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "read body: " + err.Error()})
		return
	}
	s.reply(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *server) healthy() bool {
	return s.cfg.FailHealthAfter <= 0 || time.Since(s.started) < s.cfg.FailHealthAfter
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if !s.healthy() {
		s.reply(w, http.StatusInternalServerError, map[string]any{"status": "failing",
			"reason": fmt.Sprintf("told to fail health %s after start", s.cfg.FailHealthAfter)})
		return
	}
	s.reply(w, http.StatusOK, map[string]any{"status": "ok"})
}

// readyz is healthz that also fails while draining, so that a prober stops
// sending new work to a replica on its way out.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.draining.Load():
		s.reply(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
	case !s.healthy():
		s.reply(w, http.StatusServiceUnavailable, map[string]any{"status": "failing"})
	default:
		s.reply(w, http.StatusOK, map[string]any{"status": "ready"})
	}
}

// version names the version, and counts the other requests in flight so
// that a test can see its requests arrive.
func (s *server) version(w http.ResponseWriter, r *http.Request) {
	s.reply(w, http.StatusOK, map[string]any{"inflight": s.inflight.Load() - 1})
}

func (s *server) slow(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	d := time.Duration(ms) * time.Millisecond
	if err != nil || ms < 0 || d > maxSlow {
		s.reply(w, http.StatusBadRequest, map[string]any{"ok": false,
			"error": fmt.Sprintf("ms: want a whole number of milliseconds from 0 to %d, got %q", maxSlow.Milliseconds(), r.URL.Query().Get("ms"))})
		return
	}
	if !wait(r.Context(), d) {
		return
	}
	s.reply(w, http.StatusOK, map[string]any{"ok": true, "sleptMs": ms})
}

// reply writes body as JSON, with the version added.
func (s *server) reply(w http.ResponseWriter, code int, body map[string]any) {
	body["version"] = s.cfg.Version
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body) // a write error means the client left
}
