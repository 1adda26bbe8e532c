// Package notify tells people and other systems what a rollout did:
// started, stepped, paused, failed its analysis, aborted, promoted.
//
// The edges (the local daemon's workers, the controller) hand each decision
// to Notify as a Change: the status before and after it and the events it
// stored. Messages maps that to at most one Message per kind of event, a
// pure function. The Notifier then queues each message for every sink (a
// generic JSON webhook or a Slack-compatible incoming webhook) and delivers
// it from the sink's own goroutine, retrying with exponential back-off and
// jitter. The queue is bounded and drops its oldest message when full, so
// that a slow or dead receiver never holds a rollout up: Notify never
// blocks and never does I/O.
//
// Besides the sinks the flags configure for every rollout, a rollout may
// name its own (spec.notifications, rollout.go): NotifyRollout sends to
// both, reading a URL kept in a Kubernetes Secret through the edge's
// SecretReader only when there is something to send. Those sinks are
// pooled by URL, started on first use and stopped once idle.
//
// Sink URLs often carry a secret (Slack's path is one): the package logs
// and labels a sink by its scheme and host only. docs/notifications.md
// documents the payloads.
package notify
