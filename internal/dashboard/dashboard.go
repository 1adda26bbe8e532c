package dashboard

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
)

// Control is what the dashboard reads and drives: the local daemon
// (runner.Daemon), or anything that acts like it.
type Control interface {
	Get(ctx context.Context, name string) (*v1alpha1.Rollout, error)
	List(ctx context.Context) ([]*v1alpha1.Rollout, error)
	// Command returns an error saying why a command did not apply.
	Command(ctx context.Context, name string, cmd rollout.Command) error
	// Undo goes back to revision, or to the previous stable one when empty.
	Undo(ctx context.Context, name, revision string) error
	Runs(ctx context.Context, name string) ([]*v1alpha1.AnalysisRun, error)
	Events(ctx context.Context, name string) ([]store.Event, error)
}

// Watcher is a Control with a change feed (the cluster's watches): live
// pages update as soon as Changed is closed, not at the next poll.
type Watcher interface {
	// Changed is closed (and replaced) after the next change.
	Changed() <-chan struct{}
}

// Limited is a Control that cannot do every command of the buttons.
type Limited interface {
	// Unsupported maps each command it cannot do (e.g. "undo") to why;
	// the page disables its button with the reason as the tooltip.
	Unsupported() map[string]string
}

// Config configures a Dashboard.
type Config struct {
	// Token is the API's token: logging in is proving one knows it. An
	// empty token lets nobody in.
	Token   string
	Control Control
	// Metrics are the proxies' counters, sampled for the charts; nil: no
	// charts, and the page says NoMetrics instead.
	Metrics *metrics.Registry
	// Mode names the source on the page: "local" (the default) or "cluster".
	Mode string
	// NoMetrics is why there are no charts when Metrics is nil.
	NoMetrics string
	// NotFound tells whether an error of Control means the rollout does not
	// exist; store.ErrNotFound is always recognised.
	NotFound func(error) bool
	Logger   *slog.Logger

	// SampleInterval is the charts' resolution (default 1s); Retention how
	// far back they go (default 15m).
	SampleInterval time.Duration
	Retention      time.Duration
	// PollInterval is how often a live page asks Control for changes
	// (default 300ms): the daemon has no change feed, and this is local.
	PollInterval time.Duration
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
}

// Dashboard serves the web dashboard under /dashboard/ (and redirects / to
// it). It is an http.Handler for the daemon's server to mount, and a
// runnable: Start samples the metrics for the charts.
type Dashboard struct {
	cfg     Config
	log     *slog.Logger
	auth    *auth
	actors  *actors
	sampler *Sampler
	handler http.Handler
}

// splitWindow is the window of the observed traffic split.
const splitWindow = 10 * time.Second

// New builds a dashboard.
func New(cfg Config) *Dashboard {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = time.Second
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 15 * time.Minute
	}
	if cfg.Mode == "" {
		cfg.Mode = "local"
	}
	if cfg.Metrics == nil && cfg.NoMetrics == "" {
		cfg.NoMetrics = "this dashboard was started without the proxies' request counters."
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 300 * time.Millisecond
	}
	d := &Dashboard{
		cfg: cfg, log: cfg.Logger,
		auth:    newAuth(cfg.Token, cfg.SessionTTL, time.Now),
		actors:  &actors{},
		sampler: NewSampler(cfg.Metrics, cfg.SampleInterval, cfg.Retention),
	}
	d.handler = d.routes()
	return d
}

// ServeHTTP serves the dashboard.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.handler.ServeHTTP(w, r) }

// Start samples the metrics and forgets expired sessions until ctx ends.
func (d *Dashboard) Start(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- d.sampler.Start(ctx) }()
	gc := time.NewTicker(time.Minute)
	defer gc.Stop()
	for {
		select {
		case <-ctx.Done():
			return <-done
		case <-gc.C:
			d.auth.gc()
		}
	}
}

// routes maps the endpoints. Every route but the login's needs a session:
// pages answer 401 with the login form, the JSON API a 401 error, and
// every POST also needs the session's CSRF token and a same-origin request.
func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	sameOrigin := http.NewCrossOriginProtection()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusFound)
	})
	mux.HandleFunc("GET /dashboard/login", d.loginLink)
	mux.Handle("POST /dashboard/login", sameOrigin.Handler(http.HandlerFunc(d.loginForm)))
	mux.HandleFunc("POST /dashboard/api/login-links", d.mintLink)
	mux.Handle("POST /dashboard/logout", sameOrigin.Handler(d.post(d.logout)))

	mux.Handle("GET /dashboard/{$}", d.page(d.index))
	mux.Handle("GET /dashboard/rollouts/{name}", d.page(d.index))
	assets := assetServer()
	mux.Handle("GET /dashboard/assets/", d.page(func(w http.ResponseWriter, r *http.Request, _ *session) {
		assets.ServeHTTP(w, r)
	}))

	mux.Handle("GET /dashboard/api/rollouts", d.api(d.list))
	mux.Handle("GET /dashboard/api/rollouts/{name}", d.api(d.get))
	mux.Handle("GET /dashboard/api/stream", d.api(d.streamList))
	mux.Handle("GET /dashboard/api/rollouts/{name}/stream", d.api(d.streamRollout))
	mux.Handle("POST /dashboard/api/rollouts/{name}/{command}", sameOrigin.Handler(d.post(d.command)))

	mux.Handle("/dashboard/", d.page(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.NotFound(w, r)
	}))
	return secureHeaders(mux)
}

// sessionHandler is a handler that runs inside a session.
type sessionHandler func(http.ResponseWriter, *http.Request, *session)

// page serves a page to a logged-in browser, and the login form with 401
// to any other.
func (d *Dashboard) page(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := d.auth.session(r)
		if !ok {
			writeLogin(w, http.StatusUnauthorized, "")
			return
		}
		h(w, r, s)
	})
}

// api serves JSON to a logged-in browser.
func (d *Dashboard) api(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := d.auth.session(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "not logged in: open the link `fledge dashboard --url` prints, or log in with the daemon's token")
			return
		}
		h(w, r, s)
	})
}

// post serves a state-changing request of the dashboard's own page.
func (d *Dashboard) post(h sessionHandler) http.Handler {
	return d.api(func(w http.ResponseWriter, r *http.Request, s *session) {
		if !checkCSRF(s, r) {
			writeError(w, http.StatusForbidden, "missing or wrong "+csrfHeader+" header: reload the dashboard")
			return
		}
		h(w, r, s)
	})
}

// secureHeaders keeps the pages out of frames (the buttons act) and
// scripts to the dashboard's own files.
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
