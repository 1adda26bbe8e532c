// Package rollouts writes the metric families that describe Fledge's own
// work, in the Prometheus text format of internal/metrics: each rollout's
// phase, weight, step and revisions (WriteState), the verdicts of its
// analysis runs (WriteAnalysis), and the events and decision times a
// Recorder counts. The local daemon serves them on /metrics
// (internal/server); the Kubernetes controller serves the same families,
// with the same names, help and meaning, from its manager's metrics
// endpoint (internal/controller), a namespace label added, so that one
// Grafana dashboard (docs/grafana/fledge.json) draws either.
//
// The package reads nothing itself: its callers gather the rollouts, runs
// and stored events (from the daemon's store, or from the cluster), and
// feed the Recorder from wherever their decisions are made.
package rollouts
