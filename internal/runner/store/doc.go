// Package store is the local daemon's memory across restarts: each rollout's
// spec and status, its revision history (the templates undo goes back to),
// its analysis runs and its recent events, in one bbolt file in the state
// directory.
//
// The daemon commits a decision here before acting on it (see runner), so a
// crash resumes where the last committed decision left off. A Commit writes
// the rollout, a revision and events in one fsynced transaction: a reader
// never sees a status without the revision it names. The file is locked
// while open, which is also what keeps two daemons off one state directory.
//
// Values are JSON, so the file can be read with bbolt's own tools.
package store
