// Package stats is the canary judge's statistics: sequential tests that
// compare a canary with the stable version on the same windows of traffic
// and stay valid however often they are checked. It is pure: no I/O, no
// clock (a window is whatever the caller measured), no goroutines.
//
// Its place in the flow: an edge (the builtin provider reading the embedded
// proxy's metrics registry, or a provider of per-version counts) measures a
// Window of per-version counters and latency histograms every second or so
// and hands it to Judge.Add; Judge.Decide turns everything seen so far into
// a Decision — Fail (with the reason: errors, latency, budget exhausted),
// Pass (the canary is shown to be within tolerance: the weight may rise) or
// Wait (no data, too little traffic, or not enough evidence yet: hold the
// weight). The judge's State is plain JSON so that a restarted daemon resumes
// where it stopped.
//
// The tests, each documented with its formula and source where it is
// implemented:
//
//   - Errors (risk.go, grid.go): which version each failure came from,
//     conditioned on the canary's share of the window's requests. Under the
//     null "the canary fails at most MaxRelativeRisk times as often as
//     stable", a failure is the canary's with probability
//     θ(ρ) = ρπ / (ρπ + 1 − π) whatever the base rate and however it drifts.
//     A mixture of likelihood ratios over a grid of relative risks is a
//     test supermartingale; Ville's inequality bounds the probability that
//     it ever reaches 1/α. Inverting the same construction at every relative
//     risk gives a confidence sequence, whose upper bound gates the weight.
//   - Latency (latency.go): the same test on slow requests (slower than a
//     fixed threshold or than stable's p99, read from histogram buckets), and
//     a two-sample Dvoretzky–Kiefer–Wolfowitz backstop with α spent over
//     geometrically spaced looks, for shifts that do not cross the threshold.
//   - Budget (budget.go): the canary's failures in excess of what stable's
//     rate predicts; reaching MaxCanaryFailures fails the canary whatever the
//     statistics say.
//
// α is split so that the whole judge's false-rollback probability stays at
// most Config.Alpha: half to errors, a quarter to each latency test (all to
// errors when latency is disabled).
package stats
