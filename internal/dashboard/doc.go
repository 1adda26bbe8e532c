// Package dashboard is the web dashboard: the rollouts at a glance, and a
// page per rollout that updates live and shows why Fledge decided what it
// did (steps, deployment markers, per-version charts, analysis
// measurements, applied versus observed traffic) with buttons to steer it.
//
// It sits beside the API (internal/server mounts it at /dashboard/) and
// reads the same Control, the runner's Daemon. Control is the one data
// source the pages consume; the other one is a cluster's namespace
// (package cluster, for `fledge dashboard --kubeconfig`), which also feeds
// the live pages from its watches (Watcher), cannot undo (Limited), and
// has no request counters, so its pages say there is no metrics source
// instead of drawing charts. Nothing is served without
// a session: a browser logs in once, with the API token typed into a form
// or with a one-time link that `fledge dashboard --url` obtains with the
// token, and gets an HttpOnly, SameSite=Strict cookie. Every POST also
// needs the session's CSRF token in a header and a same-origin request.
//
// The daemon has no change feed, so a live page is a server-sent event
// stream fed by polling Control (cheap: it is in-process) and by the
// Sampler, which turns the proxies' cumulative counters into per-version
// time series for the charts. The views are built in Go (view.go,
// analysis_view.go, and judge_view.go for the statistical judge's
// evidence as the run's status persists it; pure);
// the browser only draws them. The front end (web/ in the repository) is
// hand-written JavaScript with uPlot from npm, copied into assets/ by
// web/build.sh and embedded.
package dashboard
