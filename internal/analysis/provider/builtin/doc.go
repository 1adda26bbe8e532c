// Package builtin is the "builtin" metric provider: it judges a version by
// the embedded proxy's own counters (internal/metrics), with no monitoring
// system to run. It registers itself on import.
//
// The registry only holds cumulative counters, so the provider keeps their
// history: one sampler per *metrics.Registry, shared by every provider built
// on it, snapshots every series once a second. A measurement's counts are
// the snapshot at the end of its window minus the snapshot at (or just
// before) its start, summed over the series of the version's revision (and
// route, when the metric names one).
//
// The history thins out as it ages so that memory stays bounded: every
// second for the last two minutes, one snapshot per 15s up to 30 minutes,
// one per 5 minutes up to 12 hours; older ones are dropped. The end of each
// measurement's window is snapshotted exactly and kept as a mark, so that
// the next window, which starts there, is exact whatever its length. A window
// starting before the oldest snapshot starts at the oldest snapshot.
//
// The sampler starts when the first provider is built for a registry
// (which the run manager does when a run starts, so the start of its first
// window is in the history) and stops by itself once the registry is
// garbage-collected: it only holds a weak pointer to it. Window bounds are
// wall-clock times.
//
// Versions serves the canary judge: both versions' counts and histograms
// over one window, read from the same two snapshots.
package builtin
