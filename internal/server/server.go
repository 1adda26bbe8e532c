package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
)

// Control is what the API drives: the local daemon (runner.Daemon), or
// anything that acts like it.
type Control interface {
	// Apply stores and acts on rollouts; a validation error (an ErrorList, a
	// FieldError, or several joined) means nothing was applied.
	Apply(ctx context.Context, rs []*v1alpha1.Rollout, dir string) error
	Get(ctx context.Context, name string) (*v1alpha1.Rollout, error)
	List(ctx context.Context) ([]*v1alpha1.Rollout, error)
	// Command returns an error saying why a command did not apply.
	Command(ctx context.Context, name string, cmd rollout.Command) error
	// Undo goes back to revision, or to the previous stable one when empty.
	Undo(ctx context.Context, name, revision string) error
	History(ctx context.Context, name string) ([]store.Revision, error)
	Runs(ctx context.Context, name string) ([]*v1alpha1.AnalysisRun, error)
	Events(ctx context.Context, name string) ([]store.Event, error)
	Delete(ctx context.Context, name string) error
}

// Config configures a Server.
type Config struct {
	// Addr is the address to listen on, e.g. "127.0.0.1:9470" (port 0: any).
	Addr string
	// Token is the bearer token every /api request must carry. An empty
	// token refuses every /api request.
	Token   string
	Control Control
	// Metrics, if set, is exposed on /metrics.
	Metrics *metrics.Registry
	// Recorder, if set, adds the events and decision times it counted to
	// /metrics; Collectors add their own families.
	Recorder   *Recorder
	Collectors []Collector
	// NotFound tells whether an error of Control means the rollout does not
	// exist (404); store.ErrNotFound is always recognised.
	NotFound func(error) bool
	Logger   *slog.Logger
	// Dashboard, if set, serves /dashboard/ and / (it does its own auth).
	Dashboard http.Handler
}

// Server serves the API. Start runs it.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
	token   [sha256.Size]byte

	once  sync.Once
	ready chan struct{}
	addr  string
}

// New builds a server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ready: make(chan struct{}), token: sha256.Sum256([]byte(cfg.Token))}
	s.handler = s.routes()
	return s
}

// Handler is the server's handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address the server listens on, once Ready is closed.
func (s *Server) Addr() string {
	<-s.ready
	return s.addr
}

// shutdownGrace bounds how long in-flight requests may finish on shutdown.
const shutdownGrace = 5 * time.Second

// Start listens and serves until ctx is done, then shuts down gracefully.
// It is called once.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("admin API: listen on %s: %w", s.cfg.Addr, err)
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.once.Do(func() {
		s.addr = ln.Addr().String()
		close(s.ready)
	})
	s.log.Debug("admin API listening", "addr", s.addr)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin API on %s: %w", s.addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
		return fmt.Errorf("admin API shutdown: %w", err)
	}
	return nil
}

// routes maps the endpoints; /api needs the token.
func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/rollouts", s.list)
	api.HandleFunc("POST /api/v1/rollouts", s.apply)
	api.HandleFunc("GET /api/v1/rollouts/{name}", s.get)
	api.HandleFunc("DELETE /api/v1/rollouts/{name}", s.delete)
	api.HandleFunc("POST /api/v1/rollouts/{name}/{command}", s.command)
	api.HandleFunc("POST /api/v1/rollouts/{name}/undo", s.undo)
	api.HandleFunc("GET /api/v1/rollouts/{name}/history", s.history)
	api.HandleFunc("GET /api/v1/rollouts/{name}/runs", s.runs)
	api.HandleFunc("GET /api/v1/rollouts/{name}/events", s.events)
	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path), nil)
	})

	mux := http.NewServeMux()
	mux.Handle("/api/", s.authorize(api))
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if s.cfg.Dashboard != nil {
		mux.Handle("/dashboard/", s.cfg.Dashboard)
		mux.Handle("GET /{$}", s.cfg.Dashboard)
	}
	return s.logRequests(mux)
}

// authorize lets through requests that carry the token. The comparison is
// of fixed-size digests in constant time, so that neither the token's
// content nor its length leaks through timing.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(given)))
		if !ok || s.cfg.Token == "" || subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fledge"`)
			msg := "missing or wrong token: send `Authorization: Bearer <token>` with the token from the daemon's state dir"
			writeError(w, http.StatusUnauthorized, msg, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs each request at debug level: method, path, status and
// time; never headers, which hold the token.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.log.Debug("api request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush (the dashboard's streams).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isNotFound recognises the store's not-found and the configured one.
func (s *Server) isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound) || (s.cfg.NotFound != nil && s.cfg.NotFound(err))
}
