// Package prometheus is the "prometheus" metric provider: it runs a
// metric's PromQL query against a Prometheus server's HTTP API
// (/api/v1/query, or /api/v1/query_range with rangeQuery) and turns the
// answer into the value conditions see as `result`. It registers itself on
// import and needs nothing from the host (provider.Deps): each metric names
// its server, headers and TLS setting.
//
// An instant query is evaluated at the end of the measured window
// (provider.Env.Now), so that a measurement means the same whenever it is
// taken; a range query's start and end are CEL expressions over now() and
// windowStart() (v1alpha1.TimeExprEnv), by default the measured window.
//
// The result follows Argo Rollouts, with one rule of Fledge's: a window
// without data never passes.
//
//   - scalar: the number;
//   - vector: one series is its number; several series are a list of
//     numbers in Prometheus' order (`result[0]`); no series at all has no
//     data, and neither has a vector holding a NaN sample (0/0 when nothing
//     was counted), since dropping the sample would shift the indexes;
//   - matrix (range query): every value of every series, in one flat list
//     as Argo Rollouts makes it (`result.all(x, x < 0.01)`); NaN points are
//     points without data and are left out, and a range left with no
//     point has no data;
//   - string: the string.
//
// A scalar that is NaN has no data too. Failing to get an answer (no
// connection, an HTTP or PromQL error, the timeout) is an error: the
// measurement is Error, which the analysis never counts as a success.
// Prometheus' warnings are appended to the measurement's message.
//
// The canary judge (v1alpha1.JudgePrometheus) reads its windows here too:
// JudgeVersions runs the judge's three queries per version (requests,
// failures, latency buckets; {{service}} and the other placeholders filled
// in per version) at the end and the start of the window, and the window's
// counts are how much each series grew between the two readings, a series
// that went down counting from zero (a reset). The latency buckets are
// placed on the judge's histogram grid (metrics.Buckets); counters.go says
// how, and how a fixed threshold is rounded.
//
// Note for templates written for Argo Rollouts: Argo hands conditions a
// list even for a single series (`result[0] >= 0.95`); here one series is a
// number (`result >= 0.95`), as with every other provider.
package prometheus
