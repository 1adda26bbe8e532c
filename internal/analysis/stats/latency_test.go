package stats

import (
	"math"
	"sort"
	"testing"

	"fledge.dev/fledge/internal/metrics"
)

// TestThresholdBucket checks where the slow threshold goes: a fixed one is
// rounded up to a bucket bound; stable's quantile is the bucket where its
// cumulative count first reaches q·n, and unknown until stable has
// 10/(1 − q) requests.
func TestThresholdBucket(t *testing.T) {
	bound := func(b int) float64 { return metrics.Buckets[b] }
	ms := func(v float64) float64 { return v / 1000 }
	// 990 requests at 10 ms, 10 at 1 s: stable's p99 is the 10 ms bucket.
	stable := hist()
	stable[bucketOf(ms(10))] = 990
	stable[bucketOf(1)] = 10
	// 9985 at 10 ms and 15 at 1 s: p99.9 (the 9990th) is in the 1 s bucket.
	big := hist()
	big[bucketOf(ms(10))] = 9985
	big[bucketOf(1)] = 15
	tests := map[string]struct {
		cfg    LatencyConfig
		stable []uint64
		want   float64 // the threshold's bucket bound; NaN: unknown
	}{
		// 100 µs · 2^(k/4) ≥ 0.2 s first at k = ⌈4·log₂ 2000⌉ = 44: 204.8 ms.
		"fixed 200 ms rounds up":  {LatencyConfig{Threshold: ms(200)}, hist(), 0.2048},
		"fixed on a bucket bound": {LatencyConfig{Threshold: bound(40)}, hist(), bound(40)},
		"stable p99":              {LatencyConfig{StableQuantile: 0.99}, stable, bound(bucketOf(ms(10)))},
		"stable p99.9":            {LatencyConfig{StableQuantile: 0.999}, big, bound(bucketOf(1))},
		"too few for p99.9":       {LatencyConfig{StableQuantile: 0.999}, stable, math.NaN()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := thresholdBucket(tc.cfg, tc.stable)
			if math.IsNaN(tc.want) {
				if b != -1 {
					t.Fatalf("threshold at bucket %d, want unknown", b)
				}
				return
			}
			if b < 0 || !near(metrics.Buckets[b], tc.want, 1e-9) {
				t.Fatalf("threshold bucket %d, want the bound %g", b, tc.want)
			}
			if tc.cfg.Threshold > 0 && (metrics.Buckets[b] < tc.cfg.Threshold || b > 0 && metrics.Buckets[b-1] >= tc.cfg.Threshold) {
				t.Fatalf("bound %g is not the first at or above %g", metrics.Buckets[b], tc.cfg.Threshold)
			}
		})
	}
}

// bucketOf is the bucket a latency falls in.
func bucketOf(sec float64) int { return sort.SearchFloat64s(metrics.Buckets, sec) }

// TestDistributionLook checks the backstop's statistic and bound against
// values computed here from raw latencies: D = max over bucket bounds x of
// F̂_s(x) − F̂_c(x), and at the first look (k = 1, α_1 = α/2) the bound
// √(log(2/α_1)/(2n_c)) + √(log(2/α_1)/(2n_s)) of Massart's one-sided DKW
// inequality (Ann. Probab. 1990).
func TestDistributionLook(t *testing.T) {
	var canary, stable []float64
	for i := range 40 {
		canary = append(canary, 0.010+0.002*float64(i)) // 10 to 88 ms
	}
	for i := range 400 {
		stable = append(stable, 0.005+0.0001*float64(i)) // 5 to 45 ms
	}
	d := DistState{}
	const alpha = 0.0025
	d.look(hist(canary...), hist(stable...), alpha, 7)

	var want float64
	for _, x := range metrics.Buckets {
		want = math.Max(want, ecdf(stable, x)-ecdf(canary, x))
	}
	a1 := alpha / 2
	bound := math.Sqrt(math.Log(2/a1)/(2*40)) + math.Sqrt(math.Log(2/a1)/(2*400))
	if d.Looks != 1 || !near(d.Distance, want, 1e-12) || !near(d.Bound, bound, 1e-12) {
		t.Fatalf("look %d: D %g bound %g, want look 1: D %g bound %g", d.Looks, d.Distance, d.Bound, want, bound)
	}
	if (d.RejectedAt == 7) != (want > bound) {
		t.Fatalf("rejected at %d with D %g and bound %g", d.RejectedAt, want, bound)
	}

	// The next look waits for 10% more canary requests.
	d.look(hist(append(canary, 0.01, 0.01, 0.01)...), hist(stable...), alpha, 8)
	if d.Looks != 1 {
		t.Fatalf("looked again after 3 more canary requests (%d looks)", d.Looks)
	}
	d.look(hist(append(canary, 0.01, 0.01, 0.01, 0.01)...), hist(stable...), alpha, 9)
	if d.Looks != 2 {
		t.Fatalf("did not look after 4 more canary requests (%d looks)", d.Looks)
	}
}

// ecdf is the fraction of xs at or below x.
func ecdf(xs []float64, x float64) float64 {
	var n float64
	for _, v := range xs {
		if v <= x {
			n++
		}
	}
	return n / float64(len(xs))
}

// TestSlowRequests checks that the slow-request test counts requests above
// stable's p99 (of the windows before) and fails a canary whose tail is
// slower, with the latency reason.
func TestSlowRequests(t *testing.T) {
	j := mustNew(t, Config{})
	fast := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = 0.010
			if i%100 == 99 {
				out[i] = 0.5 // 1% at 500 ms
			}
		}
		return out
	}
	w := win(100, 0, 1900, 0)
	w.Canary.Buckets, w.Stable.Buckets = hist(fast(100)...), hist(fast(1900)...)
	mustAdd(t, j, w) // stable's p99 is now known: the 10 ms bucket
	if b := j.st.Latency.ThresholdBucket; b != -1 {
		t.Fatalf("threshold known before stable had 1000 requests: bucket %d", b)
	}
	for range 20 {
		w := win(100, 0, 1900, 0)
		slow := make([]float64, 100)
		for i := range slow {
			slow[i] = 0.010
			if i%10 == 0 {
				slow[i] = 0.5 // 10% at 500 ms
			}
		}
		w.Canary.Buckets, w.Stable.Buckets = hist(slow...), hist(fast(1900)...)
		mustAdd(t, j, w)
	}
	d := j.Decide()
	l := d.Evidence.Latency
	if !near(float64(l.Threshold), metrics.Buckets[bucketOf(0.010)], 1e-12) {
		t.Fatalf("threshold %g, want the 10 ms bucket's bound %g", l.Threshold, metrics.Buckets[bucketOf(0.010)])
	}
	if l.Slow.CanaryEvents != 200 || l.Slow.StableEvents != 20*19 {
		t.Fatalf("slow requests: canary %d stable %d, want 200 and 380", l.Slow.CanaryEvents, l.Slow.StableEvents)
	}
	if d.Verdict != Fail || d.Reason != ReasonLatency {
		t.Fatalf("%s %s: %s", d.Verdict, d.Reason, d.Message)
	}
}
