// Package gate calls a rollout's webhook gates (Flagger-style:
// pre-rollout, confirm-traffic-increase, confirm-promotion, post-rollout,
// rollback) and turns their answers into the observations the engine reads.
//
// It is an edge: the engine (internal/rollout) lists in each Decision the
// gates it waits on, the runner hands that list to a Poller, and the Poller
// calls the webhooks in its own goroutines, re-polling every few seconds
// while a gate is wanted, so that a slow or dead receiver never blocks the
// decision loop. The next gather reads Poller.Observations into
// Input.Gates. A Caller makes one gate check: an HTTP POST of the JSON
// Payload, with a timeout and retries with back-off. See docs/webhooks.md.
package gate
