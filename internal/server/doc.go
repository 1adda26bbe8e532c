// Package server is the local daemon's HTTP API: the door through which the
// CLI (and anything else on this machine holding the token) reads rollouts
// and sends commands to the runner.
//
// It listens on a loopback admin address. Everything under /api requires the
// bearer token kept in the state directory (see Discover); /metrics (for
// Prometheus scrapers) and /healthz do not, as they reveal nothing secret
// and change nothing. The server only translates: requests become calls on
// a Control (the runner's Daemon), and errors become status codes with
// every detail (a spec's mistakes, one per line).
//
// Client is the other side, used by the CLI, and the files in the state
// directory (token, daemon.json) are how a client finds the daemon.
package server
