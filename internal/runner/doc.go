// Package runner is Fledge's local mode: a daemon that runs each rollout's
// versions as processes on this machine, behind the embedded proxy.
//
// It is an edge around the pure engine (internal/rollout). Per rollout, one
// worker goroutine loops: gather (replica readiness from process groups, the
// traffic the proxy enforces, analysis verdicts, the user's command) ->
// rollout.Decide -> persist the status and events (internal/runner/store,
// before anything acts on them, so a crash resumes where it was) -> apply
// (traffic first, then replica counts, then analysis runs). Decisions are
// idempotent, so the loop simply runs again on every change and on a short
// tick.
//
// Processes and probes live in runner/process; the store in runner/store.
package runner
