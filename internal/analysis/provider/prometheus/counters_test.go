package prometheus

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
)

// series builds a reading from "labels=value" pairs, labels as PromQL
// writes them after the name: `requests_total{code="200"}`.
func readingFrom(t *testing.T, pairs ...string) reading {
	t.Helper()
	out := reading{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			t.Fatalf("bad pair %q", p)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		labels := map[string]string{}
		if i := strings.Index(k, "{"); i >= 0 {
			for _, l := range strings.Split(strings.Trim(k[i:], "{}"), ",") {
				if name, val, ok := strings.Cut(l, ":"); ok {
					labels[name] = val
				}
			}
		}
		var f float64
		if _, err := fmt.Sscan(v, &f); err != nil {
			t.Fatalf("bad value in %q: %v", p, err)
		}
		out[k] = point{labels: labels, value: f}
	}
	return out
}

func TestGrowth(t *testing.T) {
	tests := map[string]struct {
		prev, cur []string
		want      map[string]float64
	}{
		"counters grew": {prev: []string{"a=10", "b=5"}, cur: []string{"a=25", "b=5"}, want: map[string]float64{"a": 15, "b": 0}},
		// A pod restarted: its counter started again from zero and is now 4.
		"a reset counts from zero": {prev: []string{"a=100"}, cur: []string{"a=4"}, want: map[string]float64{"a": 4}},
		// The first 5xx of a pod makes its series appear.
		"a new series counts from zero": {prev: []string{"a=100"}, cur: []string{"a=101", "b=2"}, want: map[string]float64{"a": 1, "b": 2}},
		"a series gone counts nothing":  {prev: []string{"a=100", "b=7"}, cur: []string{"a=100"}, want: map[string]float64{"a": 0}},
		"nothing before":                {cur: []string{"a=3"}, want: map[string]float64{"a": 3}},
		"nothing at all":                {want: map[string]float64{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := growth(readingFrom(t, tc.prev...), readingFrom(t, tc.cur...))
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("growth = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCountRounds(t *testing.T) {
	// Counters are whole numbers; a recording rule's sum may not be quite.
	if got := count(map[string]float64{"a": 2.9999999, "b": 7}); got != 10 {
		t.Fatalf("count = %d, want 10", got)
	}
	if got := count(nil); got != 0 {
		t.Fatalf("count of nothing = %d, want 0", got)
	}
}

// nginxBuckets is a histogram reading with ingress-nginx's default bounds
// (seconds), cumulative counts as given.
func buckets(t *testing.T, les []string, cum []float64, extra string) reading {
	t.Helper()
	var pairs []string
	for i, le := range les {
		pairs = append(pairs, fmt.Sprintf("b{le:%s%s}=%g", le, extra, cum[i]))
	}
	return readingFrom(t, pairs...)
}

var nginxLEs = []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}

// at is the grid bucket of a bound in seconds.
func at(sec float64) int { return gridIndex(sec) }

func TestHistogramPlacesBucketsOnTheGrid(t *testing.T) {
	// Cumulative: 10 at ≤5ms, 30 at ≤10ms, ... 100 in all, 2 above 10s.
	cum := []float64{10, 30, 30, 50, 80, 90, 95, 97, 98, 98, 98, 100}
	cur := buckets(t, nginxLEs, cum, "")
	h, err := histogram(cur, growth(nil, cur), 1, gridIndex)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]uint64, len(metrics.Buckets)+1)
	want[at(0.005)] += 10
	want[at(0.01)] += 20
	want[at(0.05)] += 20
	want[at(0.1)] += 30
	want[at(0.25)] += 10
	want[at(0.5)] += 5
	want[at(1)] += 2
	want[at(2.5)] += 1
	want[len(metrics.Buckets)] += 2
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("histogram\n got %v\nwant %v", h, want)
	}
	// Each bound goes to the first grid bound at or above it, less than
	// 19% above.
	for _, le := range []float64{0.005, 0.01, 0.025, 0.25, 1, 10} {
		g := metrics.Buckets[at(le)]
		if g < le || g > le*1.19 || (at(le) > 0 && metrics.Buckets[at(le)-1] >= le) {
			t.Errorf("bound %g placed at grid bound %g", le, g)
		}
	}
}

func TestHistogramSumsSeriesAndHandlesResets(t *testing.T) {
	// Two pods; pod b restarted in the window (its buckets went down).
	prev := reading{}
	for k, v := range buckets(t, []string{"0.1", "1", "+Inf"}, []float64{50, 90, 100}, ",pod:a") {
		prev[k] = v
	}
	for k, v := range buckets(t, []string{"0.1", "1", "+Inf"}, []float64{500, 900, 1000}, ",pod:b") {
		prev[k] = v
	}
	cur := reading{}
	for k, v := range buckets(t, []string{"0.1", "1", "+Inf"}, []float64{60, 100, 110}, ",pod:a") { // +10, +10, +10
		cur[k] = v
	}
	for k, v := range buckets(t, []string{"0.1", "1", "+Inf"}, []float64{3, 4, 6}, ",pod:b") { // reset: 3, 4, 6
		cur[k] = v
	}
	h, err := histogram(cur, growth(prev, cur), 1, gridIndex)
	if err != nil {
		t.Fatal(err)
	}
	// Cumulative growth: ≤0.1s 13, ≤1s 14, all 16.
	want := make([]uint64, len(metrics.Buckets)+1)
	want[at(0.1)], want[at(1)], want[len(metrics.Buckets)] = 13, 1, 2
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("histogram\n got %v\nwant %v", h, want)
	}
}

func TestHistogramNeverCountsBelowZero(t *testing.T) {
	// Series read a moment apart: ≤1s grew less than ≤0.1s did.
	cur := buckets(t, []string{"0.1", "1", "+Inf"}, []float64{10, 8, 12}, "")
	h, err := histogram(cur, growth(nil, cur), 1, gridIndex)
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, n := range h {
		total += n
	}
	if h[at(0.1)] != 10 || h[at(1)] != 0 || h[len(metrics.Buckets)] != 2 || total != 12 {
		t.Fatalf("histogram %v: want 10 at 0.1s, none at 1s, 2 above", h)
	}
}

func TestHistogramInMilliseconds(t *testing.T) {
	// Istio's bounds are milliseconds: 250 is 0.25 s.
	cur := buckets(t, []string{"25", "250", "+Inf"}, []float64{5, 7, 8}, "")
	h, err := histogram(cur, growth(nil, cur), 1e-3, gridIndex)
	if err != nil {
		t.Fatal(err)
	}
	if h[at(0.025)] != 5 || h[at(0.25)] != 2 || h[len(metrics.Buckets)] != 1 {
		t.Fatalf("histogram %v: want 5 at 25ms, 2 at 250ms, 1 above", h)
	}
	if got := bounds(cur, 1e-3); !reflect.DeepEqual(got, []float64{0.025, 0.25}) {
		t.Fatalf("bounds = %v", got)
	}
}

func TestHistogramNeedsLE(t *testing.T) {
	cur := readingFrom(t, `requests_total{code:200}=5`)
	_, err := histogram(cur, growth(nil, cur), 1, gridIndex)
	if err == nil || !strings.Contains(err.Error(), "no le label") {
		t.Fatalf("err = %v, want one saying there is no le label", err)
	}
}

// slowAbove is the grid bucket the judge counts slow requests above, for a
// fixed threshold (stats.thresholdBucket).
func slowAbove(threshold float64) int { return sort.SearchFloat64s(metrics.Buckets, threshold) }

// TestPlacementRoundsTheThresholdUpToAPrometheusBound checks that with a
// fixed threshold a request is slow exactly when its whole Prometheus
// bucket is above the threshold rounded up to the histogram's bound at or
// above it.
func TestPlacementRoundsTheThresholdUpToAPrometheusBound(t *testing.T) {
	les := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	tests := map[string]struct {
		threshold float64
		slowFrom  float64 // the first bound whose bucket is slow
	}{
		"a bound":                  {threshold: 0.25, slowFrom: 0.5},
		"between bounds":           {threshold: 0.3, slowFrom: 1},
		"just above a bound":       {threshold: 0.2501, slowFrom: 1},
		"below every bound":        {threshold: 0.001, slowFrom: 0.01},
		"above every finite bound": {threshold: 30, slowFrom: math.Inf(1)},
		"the first bound":          {threshold: 0.005, slowFrom: 0.01},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			place, cut := placement(les, tc.threshold), slowAbove(tc.threshold)
			for _, le := range append(append([]float64(nil), les...), math.Inf(1)) {
				idx := place(le)
				if idx < 0 || idx > len(metrics.Buckets) {
					t.Fatalf("bound %g placed at %d, outside the grid", le, idx)
				}
				if slow, want := idx > cut, le >= tc.slowFrom; slow != want {
					t.Errorf("bound %g placed at %d (slow above %d): slow %v, want %v", le, idx, cut, slow, want)
				}
			}
			// Placement keeps the order: the distribution test compares CDFs.
			for i := 1; i < len(les); i++ {
				if place(les[i]) < place(les[i-1]) {
					t.Errorf("bound %g placed below bound %g", les[i], les[i-1])
				}
			}
		})
	}
}

// TestPlacementWithoutThresholdKeepsBoundsApart checks that without a
// fixed threshold each bound goes to its own grid bucket when bounds are
// at least 19% apart, and to a shared one when closer.
func TestPlacementWithoutThresholdKeepsBoundsApart(t *testing.T) {
	place := placement([]float64{0.103, 0.12, 0.25}, 0)
	if place(0.12) == place(0.25) || place(0.25) == place(math.Inf(1)) {
		t.Fatalf("distinct bounds share a bucket: %d %d %d", place(0.12), place(0.25), place(math.Inf(1)))
	}
	// Grid bounds 102.4ms and 121.8ms: both fall in the second one's bucket.
	if place(0.103) != place(0.12) {
		t.Fatalf("bounds in one grid bucket placed apart (%d, %d)", place(0.103), place(0.12))
	}
}

func TestReadingOf(t *testing.T) {
	tests := map[string]struct {
		body    string
		want    map[string]float64
		wantErr string
	}{
		"vector": {body: `{"status":"success","data":{"resultType":"vector","result":[
			{"metric":{"__name__":"r","code":"200"},"value":[1,"10"]},{"metric":{"__name__":"r","code":"500"},"value":[1,"2"]}]}}`,
			want: map[string]float64{`r{code="200"}`: 10, `r{code="500"}`: 2}},
		"empty vector": {body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, want: map[string]float64{}},
		"scalar":       {body: `{"status":"success","data":{"resultType":"scalar","result":[1,"7"]}}`, want: map[string]float64{"{}": 7}},
		"NaN left out": {body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"NaN"]}]}}`, want: map[string]float64{}},
		"matrix": {body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
			wantErr: "returned a matrix: the judge needs an instant vector of counters"},
		"negative": {body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"-1"]}]}}`,
			wantErr: "not a counter"},
		"native histogram": {body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"h"},"histogram":[1,{}]}]}}`,
			wantErr: "native histogram"},
		"an error": {body: `{"status":"error","errorType":"bad_data","error":"parse error"}`, wantErr: "parse error"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := readingOf([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for k, p := range r {
				got[k] = p.value
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("reading = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"service": "web-canary", "selector": `canary!=""`}
	got := expand(`sum(r{service="{{service}}"}) + r{{{ selector }}} + {{unknown}}`, vars)
	want := `sum(r{service="web-canary"}) + r{canary!=""} + {{unknown}}`
	if got != want {
		t.Fatalf("expand\n got %s\nwant %s", got, want)
	}
}

// TestJudgeCountsPlacesBothVersionsAlike checks the window's counts of
// both versions, the histograms placed with the bounds of both.
func TestJudgeCountsPlacesBothVersionsAlike(t *testing.T) {
	j := v1alpha1.Judge{Latency: &v1alpha1.JudgeLatency{Threshold: &v1alpha1.Duration{Duration: 300e6}}, // 300ms
		Prometheus: &v1alpha1.JudgePrometheus{Latency: "b", LatencyUnit: v1alpha1.LatencyMilliseconds}}
	read := func(pairs ...string) windowRead {
		cur := readingFrom(t, pairs...)
		return windowRead{cur: cur, growth: growth(nil, cur)}
	}
	reads := [2][3]windowRead{
		{read("r=100"), read("f=7"), read("b{le:250}=90", "b{le:500}=95", "b{le:+Inf}=100")},
		{read("r{pod:1}=600", "r{pod:2}=400"), read(), read("b{le:250}=990", "b{le:500}=995", "b{le:+Inf}=1000")},
	}
	got, err := judgeCounts(j, reads)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Requests != 100 || got[0].Errors != 7 || got[1].Requests != 1000 || got[1].Errors != 0 {
		t.Fatalf("counts %+v %+v", got[0], got[1])
	}
	// 300ms rounds up to the 500ms bound: only the +Inf bucket is slow.
	cut := slowAbove(0.3)
	for vi, want := range []uint64{5, 5} {
		var slow uint64
		for i, n := range got[vi].Buckets {
			if i > cut {
				slow += n
			}
		}
		if slow != want {
			t.Errorf("version %d: %d slow, want %d (%v)", vi, slow, want, got[vi].Buckets)
		}
	}
}
