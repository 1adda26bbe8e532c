// Package analysis turns measurements into verdicts. It is pure: no I/O, no
// clock (time is an argument), no goroutines.
//
// Its place in the flow: the rollout engine (internal/rollout) asks for
// analysis runs by name in Decision.Analysis ([]rollout.RunSpec); the edge
// package analysis/run starts them, schedules measurements with
// NextMeasurement, asks a provider (analysis/provider) for each value, turns
// the value into a Measurement with Judge and folds it into the run's status
// with Assess. The run's phase goes back to the engine in
// rollout.Input.Analysis.
//
// The rules follow Argo Rollouts, so that templates written for it mean the
// same here:
//
//   - A condition is a CEL expression over `result` (Compile). A value meeting
//     successCondition is Successful, otherwise Failed; meeting
//     failureCondition is Failed, otherwise Successful; with both, failure
//     wins and a value meeting neither is Inconclusive. Numbers reach
//     conditions as float64 whatever the provider produced, so `result >=
//     0.99` and `result > 0` work for every number (CEL compares ints and
//     doubles); arithmetic needs double literals (`result * 100.0`). NaN never
//     passes: it is Inconclusive, like a window without data.
//   - A metric is Failed when failed > failureLimit, Inconclusive when
//     inconclusive > inconclusiveLimit, Error when consecutiveError >
//     consecutiveErrorLimit, Successful once it has taken its count of
//     measurements, otherwise Running. A provider error is not a
//     measurement: it does not count towards the count, and a success, a
//     failure or an inconclusive value resets the run of consecutive errors.
//     Error counts as Inconclusive for the rollout: it pauses, never passes.
//   - A metric's count is metric.count when set. Otherwise a metric without
//     an interval takes one measurement (there is no interval to repeat it
//     at, Argo's rule, whatever the run); a blocking run (a step, pre- or
//     post-promotion analysis, which the rollout waits for) takes
//     v1alpha1.DefaultBlockingCount; a background run measures until it is
//     terminated.
//   - A run's phase is the worst of its metrics: Failed > Error >
//     Inconclusive > Running/Pending > Successful. A metric that is Failed,
//     Error or Inconclusive ends the run at once (the other metrics stop, as
//     when the run is terminated). A terminated run that is not yet decided
//     ends Successful: it was stopped, not judged. A verdict is final: Assess
//     never changes the phase of a completed metric or run. A metric marked
//     dryRun in the status is measured and judged but does not count towards
//     the run's phase.
//
// Timing (Fledge's rule, which the Metric type's fields refer to): a
// measurement covers the interval that just ended. The first one is taken
// at start + initialDelay + interval and covers [start + initialDelay,
// now]; each next one is taken an interval after the previous one and
// covers the time since it, so windows tile without gaps or overlaps.
// Without an interval the single measurement is taken at start +
// initialDelay and covers [start, now]. After a provider error the
// measurement is retried after min(interval, ErrorRetryInterval), and its
// window still starts where the last value's ended.
//
// A metric's status keeps its last MaxMeasurements measurements; the
// counters count every one.
//
// The canary judge (canary.go). A template's judge becomes one more entry
// of the run (Entries: the metrics, then the judges), with a MetricResult
// named after it whose Judge field holds the latest decision, its evidence
// and the judge's accumulated statistics (stats.State, as JSON). Every
// interval the edge reads both versions' counts over the window since the
// last evaluation and JudgeWindow folds it in: it rebuilds the judge from
// the state in the last result, so that nothing lives outside the status
// and a restarted daemon resumes the evidence. Each evaluation is a
// measurement (Pass Successful, Fail Failed, Wait Inconclusive, an
// unreadable window Error). The judge's result is Failed on the judge's
// Fail (the message says why: errors, latency, budget exhausted),
// Successful on its first Pass in a blocking run, Running otherwise (a
// background judge keeps judging; the message says what it waits for),
// Error after more than DefaultConsecutiveErrorLimit unreadable windows in
// a row, and Successful when its run is terminated — never Successful on
// no data. Hold tells the rollout engine whether a run's judges keep the
// canary's weight from rising.
package analysis
