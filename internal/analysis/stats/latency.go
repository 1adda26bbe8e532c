package stats

import (
	"math"
	"sort"

	"fledge.dev/fledge/internal/metrics"
)

// histLen is the number of counts in a metrics.Counts histogram: one per
// bucket bound plus the +Inf bucket.
var histLen = len(metrics.Buckets) + 1

// LatencyState is the state of both latency tests.
type LatencyState struct {
	// Canary and Stable are the cumulative latency histograms, in the
	// layout of metrics.Counts.Buckets, over windows where both had one.
	Canary []uint64 `json:"canary"`
	Stable []uint64 `json:"stable"`
	// Slow is the relative-risk test on slow requests.
	Slow RiskState `json:"slow"`
	// ThresholdBucket is the bucket the last window's threshold was: slow
	// means slower than metrics.Buckets[ThresholdBucket]. -1 until known.
	ThresholdBucket int `json:"thresholdBucket"`
	// Distribution is the backstop on the whole distribution.
	Distribution DistState `json:"distribution"`
}

func newLatencyState() LatencyState {
	return LatencyState{
		Canary:          make([]uint64, histLen),
		Stable:          make([]uint64, histLen),
		Slow:            newRiskState(),
		ThresholdBucket: -1,
	}
}

// thresholdBucket is the bucket whose upper bound is the slow threshold for
// the next window, or -1 when it is not known yet.
//
// A fixed threshold is rounded up to the first bucket bound at or above it
// (a request is counted slow only when its whole bucket is above the
// threshold). Otherwise it is stable's q-quantile, read from stable's
// histogram of the *previous* windows: the bucket where its cumulative
// count first reaches q·n, once stable has at least 10/(1−q) requests (ten
// expected above the quantile). Being fixed before the window is seen, the
// threshold treats canary and stable requests of the window alike, which is
// all the conditional test needs: under the null, a slow request is the
// canary's with probability θ(ρ₀) whatever the threshold.
func thresholdBucket(c LatencyConfig, stable []uint64) int {
	if c.Threshold > 0 {
		return sort.SearchFloat64s(metrics.Buckets, c.Threshold)
	}
	var n uint64
	for _, v := range stable {
		n = satAdd(n, v)
	}
	if float64(n) < 10/(1-c.StableQuantile) {
		return -1
	}
	want := c.StableQuantile * float64(n)
	var cum uint64
	for i, v := range stable {
		cum = satAdd(cum, v)
		if float64(cum) >= want {
			return i
		}
	}
	return len(stable) - 1
}

// slowCount is the number of requests above bucket b and the total.
func slowCount(h []uint64, b int) (slow, total uint64) {
	for i, v := range h {
		total = satAdd(total, v)
		if i > b {
			slow = satAdd(slow, v)
		}
	}
	return slow, total
}

// DistState is the state of the distribution backstop.
type DistState struct {
	// Looks is how many times the test has looked; LastLook the canary's
	// sample size at the last one.
	Looks    int    `json:"looks"`
	LastLook uint64 `json:"lastLook"`
	// Distance is sup_x (F_stable(x) − F_canary(x)) at the last look, over
	// the bucket bounds, and Bound what it had to exceed.
	Distance float64 `json:"distance"`
	Bound    float64 `json:"bound"`
	// RejectedAt is the window (1-based) at which the canary was shown
	// slower; 0 while it has not. Rejection is final.
	RejectedAt int `json:"rejectedAt,omitempty"`
}

// Look schedule of the backstop: the first look once the canary has
// distFirstLook requests, then whenever its sample has grown by
// distGrowth.
const (
	distFirstLook = 30
	distGrowth    = 1.1
)

// look runs the backstop when the schedule says so. It rejects "the
// canary's latency distribution is the same as stable's (or faster)" when
//
//	D = max_x (F̂_s(x) − F̂_c(x)) > ε(n_c) + ε(n_s),  ε(n) = √(log(2/α_k) / (2n)),
//	α_k = α / (k(k+1))  at the k-th look,
//
// with x over the histogram's bucket bounds. Why it is valid: by Massart's
// one-sided Dvoretzky–Kiefer–Wolfowitz inequality (Massart, "The tight
// constant in the DKW inequality", Ann. Probab. 1990), for n i.i.d. samples
// P(sup_x (F̂_n − F) > ε) ≤ exp(−2nε²), for discrete F too; under the null
// both versions share F, so D > ε_c + ε_s needs F − F̂_c > ε_c or
// F̂_s − F > ε_s somewhere, each of probability ≤ α_k/2. Reading F only at
// bucket bounds takes a sup over fewer points, which only lowers D. The
// looks happen at sample sizes set by the traffic alone (independent of
// the latencies), so a union bound over them spends Σ_k α_k = α in all,
// however long the test runs ("alpha spending" over geometrically spaced
// looks, as in the stitching of Howard, Ramdas, McAuliffe & Sekhon, Ann.
// Statist. 2021, §3.1). Looking only when the canary's sample grew by 10%
// keeps k small: about 75 looks by 36,000 canary requests.
//
// Why this and not a Mann–Whitney U with alpha spending: U on bucketed
// latencies is all ties, and its group-sequential boundaries rest on a
// normal approximation across correlated looks; the DKW bound is exact for
// any distribution, discrete or not, at every look, and it sees a shift in
// any part of the distribution, not only in the median.
func (d *DistState) look(canary, stable []uint64, alpha float64, window int) {
	var nc, ns uint64
	for i := range canary {
		nc = satAdd(nc, canary[i])
		ns = satAdd(ns, stable[i])
	}
	if nc < distFirstLook || ns == 0 || float64(nc) < distGrowth*float64(d.LastLook) {
		return
	}
	d.Looks++
	d.LastLook = nc
	k := float64(d.Looks)
	ak := alpha / (k * (k + 1))
	eps := func(n uint64) float64 { return math.Sqrt(math.Log(2/ak) / (2 * float64(n))) }
	d.Bound = eps(nc) + eps(ns)
	d.Distance = 0
	var cc, cs uint64
	for i := 0; i < len(canary)-1; i++ { // at +Inf both CDFs are 1
		cc = satAdd(cc, canary[i])
		cs = satAdd(cs, stable[i])
		d.Distance = max(d.Distance, float64(cs)/float64(ns)-float64(cc)/float64(nc))
	}
	if d.RejectedAt == 0 && d.Distance > d.Bound {
		d.RejectedAt = window
	}
}

// LatencyEvidence is what the latency tests show.
type LatencyEvidence struct {
	// Threshold is the slow threshold in seconds (a bucket bound) used for
	// the last window; NaN until stable has enough requests to place it.
	Threshold Value `json:"threshold"`
	// Slow is the relative-risk test on requests slower than Threshold.
	Slow RiskEvidence `json:"slow"`
	// Distribution is the backstop on the whole distribution.
	Distribution DistEvidence `json:"distribution"`
}

// DistEvidence is what the distribution backstop shows.
type DistEvidence struct {
	Looks      int     `json:"looks"`
	Distance   float64 `json:"distance"`
	Bound      float64 `json:"bound"`
	Alpha      float64 `json:"alpha"`
	Rejected   bool    `json:"rejected"`
	RejectedAt int     `json:"rejectedAt,omitempty"`
}

func (l *LatencyState) evidence(g *grid, slowAlpha, distAlpha float64) *LatencyEvidence {
	th := math.NaN()
	if b := l.ThresholdBucket; b >= 0 {
		th = math.Inf(1)
		if b < len(metrics.Buckets) {
			th = metrics.Buckets[b]
		}
	}
	d := l.Distribution
	return &LatencyEvidence{
		Threshold: Value(th),
		Slow:      l.Slow.evidence(g, slowAlpha),
		Distribution: DistEvidence{
			Looks: d.Looks, Distance: d.Distance, Bound: d.Bound, Alpha: distAlpha,
			Rejected: d.RejectedAt > 0, RejectedAt: d.RejectedAt,
		},
	}
}
