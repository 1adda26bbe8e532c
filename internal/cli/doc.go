// Package cli is the fledge command: one file per verb or group of verbs,
// each a cobra command built over a shared Options (the IO streams and the
// global flags), so that tests run commands in-process against a real
// daemon API.
//
// `fledge serve` and `fledge run` host the daemon (runner + server) in the
// foreground; every other verb finds the daemon through its state directory
// (daemon.json and the token, see server.Discover) and calls its API.
//
// Commands register themselves from init() with register, so that adding a
// verb is adding a file.
package cli
