// Package e2e tests Fledge's local mode end to end, as a user drives it:
// the fledge binary is built once, the daemon runs as a subprocess (`fledge
// run -f FILE` or `fledge serve`) over a state dir of the test's own, the
// CLI (`apply`, `status -o json`, `promote`, `undo`, ...) runs as further
// subprocesses, the replicas are `fledge sample-app` processes, and traffic
// is real HTTP through the embedded proxy on loopback.
//
// Every test waits on conditions (the status the CLI prints, the processes
// in /proc, the versions the proxy answers with) with a generous deadline,
// never on a fixed sleep, so that a loaded machine makes them slower, not
// flaky.
package e2e
