package prometheus

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"fledge.dev/fledge/internal/metrics"
)

// The judge's counters (judge.go) as pure functions, tested without a
// server: an instant query's series become a reading, two readings the
// growth of each series over the window between them, and the growth of a
// histogram's bucket series the latency histogram of metrics.Counts that
// the judge's statistics read.

// reading is the series of one instant query: each series' value by its
// labels (PromQL's name{a="b"}).
type reading map[string]point

// point is one series' labels and value.
type point struct {
	labels map[string]string
	value  float64
}

// readingOf decodes an instant query's answer. Counters come as a vector
// (a scalar is one series without labels); a NaN series is left out (no
// value now), a native histogram is refused: the judge reads the classic
// _bucket series.
func readingOf(body []byte) (reading, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("the answer is not Prometheus API JSON: %w", err)
	}
	if r.Status != "success" {
		return nil, apiError(r)
	}
	out := reading{}
	switch t := r.Data.ResultType; t {
	case "scalar":
		var s sample
		if err := json.Unmarshal(r.Data.Result, &s); err != nil {
			return nil, fmt.Errorf("scalar: %w", err)
		}
		v, err := s.value()
		if err != nil {
			return nil, err
		}
		if !math.IsNaN(v) {
			out["{}"] = point{labels: map[string]string{}, value: v}
		}
	case "vector":
		var ss []series
		if err := json.Unmarshal(r.Data.Result, &ss); err != nil {
			return nil, fmt.Errorf("vector: %w", err)
		}
		for _, s := range ss {
			if s.Value == nil {
				if len(s.Histogram) > 0 {
					return nil, fmt.Errorf("%s is a native histogram: select its classic _bucket series, with their le label", s.labels())
				}
				return nil, fmt.Errorf("%s has no value", s.labels())
			}
			v, err := s.Value.value()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.labels(), err)
			}
			if !math.IsNaN(v) {
				out[s.labels()] = point{labels: s.Metric, value: v}
			}
		}
	default:
		return nil, fmt.Errorf("the query returned a %s: the judge needs an instant vector of counters", t)
	}
	for k, p := range out {
		if math.IsInf(p.value, 0) || p.value < 0 {
			return nil, fmt.Errorf("%s is %g: not a counter", k, p.value)
		}
	}
	return out, nil
}

// growth is how much each series of cur grew since prev. A series that
// went down was reset (its process restarted) and grew by its whole value
// since, as Prometheus' increase() counts it; a series absent from prev
// started from zero (it appeared in the window: a first failure, a new
// pod). A series gone from cur (a pod gone) grew by nothing it can tell.
func growth(prev, cur reading) map[string]float64 {
	out := make(map[string]float64, len(cur))
	for k, c := range cur {
		p, ok := prev[k]
		switch {
		case !ok:
			out[k] = c.value
		case c.value < p.value:
			out[k] = c.value
		default:
			out[k] = c.value - p.value
		}
	}
	return out
}

// count is the total growth, as a whole number of requests.
func count(g map[string]float64) uint64 {
	var sum float64
	for _, v := range g {
		sum += v
	}
	return uint64(math.Round(max(sum, 0)))
}

// histogram turns the growth of a histogram's bucket series (cur names
// their labels) into metrics.Counts buckets: per `le` bound (scaled to
// seconds by unit) the series are summed, the cumulative counts made
// per-bucket, and each Prometheus bucket placed on the judge's grid
// (metrics.Buckets, 19% apart) by place. A bucket whose cumulative count is
// below the one before (series read a moment apart, a reset in one of
// them) counts nothing.
func histogram(cur reading, g map[string]float64, unit float64, place func(bound float64) int) ([]uint64, error) {
	cum := map[float64]float64{}
	for k, v := range g {
		le, err := leBound(cur[k].labels)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if !math.IsInf(le, 1) {
			le *= unit
		}
		cum[le] += v
	}
	les := make([]float64, 0, len(cum))
	for le := range cum {
		les = append(les, le)
	}
	sort.Float64s(les)
	out := make([]uint64, len(metrics.Buckets)+1)
	var below float64
	for _, le := range les {
		n := cum[le] - below
		below = max(below, cum[le])
		if n > 0 {
			out[place(le)] += uint64(math.Round(n))
		}
	}
	return out, nil
}

// leBound is a bucket series' upper bound, its `le` label.
func leBound(labels map[string]string) (float64, error) {
	s, ok := labels["le"]
	if !ok {
		return 0, fmt.Errorf("no le label: the latency query must select a histogram's _bucket series (sum by le, or not at all)")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 {
		return 0, fmt.Errorf("le %q is not a bucket bound", s)
	}
	return v, nil
}

// bounds lists the finite `le` bounds of a histogram reading, in seconds,
// sorted.
func bounds(r reading, unit float64) []float64 {
	seen := map[float64]bool{}
	var out []float64
	for _, p := range r {
		le, err := leBound(p.labels)
		if err != nil || math.IsInf(le, 1) || seen[le*unit] {
			continue
		}
		seen[le*unit] = true
		out = append(out, le*unit)
	}
	sort.Float64s(out)
	return out
}

// gridIndex is the bucket of the judge's grid a Prometheus bound falls
// in: the first metrics.Buckets bound at or above it (rounded up by less
// than 19%), the +Inf bucket beyond the last. The tolerance keeps a bound
// equal to a grid bound, but for floating-point noise, in that bucket.
func gridIndex(le float64) int {
	if math.IsInf(le, 1) {
		return len(metrics.Buckets)
	}
	return sort.SearchFloat64s(metrics.Buckets, le*(1-1e-9))
}

// placement returns how a histogram's buckets are placed on the judge's
// grid. Without a fixed threshold (threshold 0: the judge uses stable's
// quantile) each bound goes to its gridIndex: bounds less than 19% apart
// share a bucket, which loses resolution, never validity (both versions
// are placed alike). With a fixed threshold, which the judge rounds up to
// the first grid bound at or above it, the threshold is first rounded up
// to the histogram's own bound at or above it (les, the finite bounds in
// seconds), so that a request is slow only when its whole Prometheus
// bucket is above the threshold, as on the grid: the bounds up to it go
// at most to the threshold's grid bucket, the bounds above it beyond. A
// threshold above every finite bound makes slow the +Inf bucket.
func placement(les []float64, threshold float64) func(float64) int {
	if threshold <= 0 {
		return gridIndex
	}
	t := sort.SearchFloat64s(metrics.Buckets, threshold) // as the judge rounds it (stats.thresholdBucket)
	snapped := math.Inf(1)
	if i := sort.SearchFloat64s(les, threshold*(1-1e-9)); i < len(les) {
		snapped = les[i]
	}
	return func(le float64) int {
		if le <= snapped && !math.IsInf(le, 1) {
			return min(gridIndex(le), t)
		}
		return min(max(gridIndex(le), t+1), len(metrics.Buckets))
	}
}
