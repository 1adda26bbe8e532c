// Package run executes analysis runs: it is the edge between the rollout
// engine, which asks for runs by name, and the metric providers, which
// measure.
//
// A Manager serves one rollout. After each decision the worker calls Ensure
// with the decision's runs (rollout.Decision.Analysis): a run not known yet
// is started — its templates resolved from the rollout's inline templates,
// its arguments merged (the run's values override the templates' defaults;
// a template argument left without a value makes the run Error, with a
// message naming it) and substituted for {{args.name}} in the metrics — and
// a run no longer listed is terminated (it ends Successful unless it was
// already decided: it was stopped, not judged). Observations reports every
// run's phase for the next rollout.Input.Analysis.
//
// Start runs the measurements in one goroutine: when a metric is due (see
// analysis.NextMeasurement) it asks the metric's provider for the window
// that just ended, with a timeout of min(interval, 30s), judges the value
// (analysis.Judge), folds it into the run (analysis.Assess), saves the run
// through the Store and calls Changed when the run's phase changed.
//
// Runs are saved at every change, so that a restarted daemon can Restore
// them: a running run resumes where it was, its next measurement scheduled
// from its last one. A run remembers the revisions it judges (labels
// LabelRevision and LabelStableRevision), fixed when it starts.
//
// A template's judge (v1alpha1.Judge) is evaluated on the same schedule
// as a metric with its interval: each evaluation reads what the canary and
// the stable revision did over the window since the last one — from the
// builtin provider's per-version counters and latency histograms
// (builtin.Provider.Versions), or, for a judge with a prometheus source,
// from the prometheus provider's reading of its queries
// (prometheus.Provider.JudgeVersions), the only source on Kubernetes — and
// folds it into the evidence saved in the run's status
// (analysis.JudgeWindow). A restored run's judge resumes from
// that evidence; its first window after a restart starts when the run
// resumed (the counters start again at zero, and the downtime is left out).
// Observations carries each run's weight hold (analysis.Hold) and its
// inconclusive policy to the rollout engine, and Changed is called when a
// hold starts or ends, so that a held weight rises as soon as it may.
//
// Finished runs stay in Observations and Runs while listed, and the last
// KeepUnlisted of the ones no longer listed are remembered after that.
package run
