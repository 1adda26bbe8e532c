// Package process runs the replicas of one revision as local processes and
// watches them the way a kubelet watches containers. It is an edge of local
// mode: the rollout engine decides how many replicas each revision should
// have; the daemon calls Group.Scale with that number; this package starts,
// probes, restarts and stops processes to match, and reports back through
// Hooks (Changed to re-gather, Endpoints for the proxy, Drain before a stop).
//
// Semantics follow Kubernetes so an SRE can predict them:
//
//   - Every replica gets a free loopback port in PORT and runs in its own
//     process group, so signals reach the children it forks.
//   - Startup, readiness and liveness probes (httpGet, tcpSocket, exec) keep
//     their Kubernetes meanings: thresholds count consecutive results, the
//     startup probe gates the others, a failed startup or liveness probe
//     restarts the process, a failed readiness probe only removes it from
//     the endpoints.
//   - A process that exits or is restarted waits a growing back-off
//     (CrashLoopBackOff) before it starts again.
//   - Stopping a replica is ordered so no request is lost: out of the
//     endpoints, drained, SIGTERM, the grace period, SIGKILL.
//
// A daemon that is SIGKILLed leaves its replicas running. Each replica's pid,
// command line and start time are recorded in a pid file under
// GroupConfig.StateDir, and ReapOrphans, run when the daemon starts, kills
// the ones that are still the processes recorded.
//
// The package needs a Unix kernel (process groups, signals); orphan checks
// read /proc and therefore only act on Linux.
package process
