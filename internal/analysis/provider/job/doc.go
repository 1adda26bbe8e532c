// Package job is the "job" metric provider in local mode: it runs a
// metric's command as a process, a smoke test or a load test, and its exit
// status is the result. It registers itself on import and needs nothing
// from the host (provider.Deps). (In Kubernetes mode a job metric will run
// a Kubernetes Job; that edge lives elsewhere.)
//
// `result` is the exit status as a number; the default successCondition,
// "result == 0" (v1alpha1.DefaultJobSuccessCondition), makes exit 0
// Successful and anything else Failed, as a Kubernetes Job's success and
// failure do in Argo Rollouts. A process ended by a signal has the status a
// shell gives it, 128 + the signal's number.
//
// The command runs in its own process group, with the daemon's environment
// plus FLEDGE_ROLLOUT, FLEDGE_CANARY_REVISION and FLEDGE_STABLE_REVISION,
// then the metric's env. When it outlives timeoutSeconds the whole group
// is sent SIGTERM, then SIGKILL KillGrace later, and the result is
// TimeoutStatus (124, as timeout(1)): the test did not pass in time, so
// the measurement is Failed. When the measurement's own limit (its
// context) ends first, the group is killed the same way but the
// measurement is an error: the limit was not the user's to judge by. Once
// the command has exited, whatever it left running in its group is killed,
// so that a measurement leaves no process behind.
//
// Output (stdout and stderr together) is kept to its last OutputTail bytes,
// which end the measurement's message.
package job
