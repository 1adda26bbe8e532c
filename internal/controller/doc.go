// Package controller is Fledge's Kubernetes mode: a controller-runtime
// manager whose Rollout reconciler gathers observations from the cluster
// (gather.go), asks the pure engine in internal/rollout for a Decision, and
// applies it (apply.go): the status first (through the status subresource,
// with optimistic locking, so that a deposed leader cannot act on a stale
// decision), then the traffic through a registered router, then the
// replicas. The same engine drives the local daemon (internal/runner); a
// difference between the modes lives here, never in the engine.
//
// A reconcile decides on events, not on a clock (reconcile.go): it decides
// again at once while a decision moves the router or steps the rollout, up
// to a few times, so that a step does not wait for the queue twice; the
// Rollout's own status writes wake no reconcile; the resync (30 s in
// flight, 5 min at rest) is only a safety net. Reads come from the
// informers' cache, the routers' unstructured objects included, through
// freshClient, which reads the API server instead while the cache is
// behind the controller's own last write of an object (fresh.go). What
// this buys and what limits it: bench/controller/README.md.
//
// Notifications (notify.go) go out from the leader after each persisted
// decision, to the --notify-* flags' sinks and each Rollout's own
// spec.notifications, whose URLs may come from Secrets.
//
// The workload design is in docs/design/2026-12-02-workload.md: the user's
// Deployment (spec.workloadRef) is the template source and is scaled to 0
// once Fledge's copy runs; each revision (a hash of the pod template) runs
// as a Deployment <rollout>-<revision> owned by the Rollout, and the
// Services <rollout>-stable and <rollout>-canary select one revision each.
//
// Analysis (analysis*.go) runs on the same engine inputs as the local
// daemon: the Analyses runnable keeps one run.Manager per Rollout that
// names an analysis or ran one, which gather reads (Input.Analysis) and
// the reconciler feeds after each decision (Decision.Analysis). Templates a Rollout names resolve from its
// inline analysisTemplates, the AnalysisTemplates of its namespace and,
// with clusterScope, the ClusterAnalysisTemplates, copied into the
// controller's copy of the spec before it is validated; a template that
// cannot measure in a cluster (the builtin provider and a judge without a
// Prometheus source read the embedded proxy's counters; job runs a local
// command) makes the spec invalid, naming the metric. Prometheus, web and
// the judge on Prometheus measure here. Each
// run is saved at every change as an AnalysisRun owned by the Rollout, so
// that a restarted controller or a new leader restores and resumes it;
// only the leader measures (the runnable needs the leader election), and
// a run changing phase wakes its Rollout's reconcile through a channel
// source instead of waiting for the resync.
//
// Webhook gates (gates.go) work the same way: the Gates runnable keeps one
// gate.Poller per Rollout with webhooks, read into Input.Gates and handed
// Decision.Gates after each decision; only the leader calls them, and an
// answer that changes wakes the Rollout through the same channel source.
//
// Users send commands (promote, abort, retry, pause, resume) by annotating
// the Rollout with fledge.dev/command, and name themselves in
// fledge.dev/command-by (informational, not authenticated: actor.go); the
// reconciler applies the command in its next decision, records its Events
// with that actor, and removes both annotations.
//
// metrics.go exports the local daemon's fledge_* families (internal/metrics/
// rollouts) on controller-runtime's metrics endpoint, with a namespace label.
package controller
