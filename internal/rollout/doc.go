// Package rollout is Fledge's rollout engine: a pure state machine.
//
// The edges (the local daemon in internal/runner, the Kubernetes controller)
// gather observations into an Input — the spec, the last status, the ready
// replicas per revision, the traffic the router applied, the analysis
// verdicts, the time and the user's command — and Decide returns a Decision:
// the next status and the desired state of replicas, traffic and analysis
// runs. The edges persist the status, then apply. Nothing here reads a clock,
// does I/O or imports a client.
//
// Invariants the engine keeps, whatever the edges do:
//   - traffic leaves a revision before the revision is scaled down (a
//     revision the router still routes to keeps its replicas);
//   - the canary never gets more weight than the current step allows, and a
//     weight rises only once enough canary replicas are ready for it;
//   - a weight does not rise (a setWeight step to a higher weight, or the
//     promotion to 100%) while a run the rollout depends on holds it (its
//     judge has not passed: RunObservation.HoldWeight); the status message
//     says so. The first weight, from 0, is never held (without traffic there
//     is nothing to judge), and `promote --full` overrides the hold, as it
//     skips analyses (its event records the override);
//   - a webhook gate (Input.Gates, asked for in Decision.Gates) holds what
//     it guards while closed: pre-rollout the first traffic,
//     confirm-traffic-increase every weight increase, confirm-promotion the
//     promotion; a failed pre-rollout and an open rollback gate abort;
//   - nothing is promoted before every step and analysis passed (unless a
//     human says `promote --full`);
//   - a revision becomes stable only once the router sends it everything;
//   - an inconclusive analysis pauses (or aborts, when its templates say
//     inconclusivePolicy: Abort), it never passes;
//   - a command that does not apply changes nothing but CommandError;
//   - deciding again from the decided status, with the same observations,
//     changes nothing.
//
// The tests check these on every decision they make (contract_test.go), in
// table tests, in random worlds that lag behind the decisions
// (world_test.go) and under the fuzzer (FuzzDecide).
package rollout
