package stats

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"fledge.dev/fledge/internal/metrics"
)

// win is a window without histograms: canary and stable requests and
// failures.
func win(nc, kc, ns, ks uint64) Window {
	return Window{
		Canary: metrics.Counts{Requests: nc, Errors: kc},
		Stable: metrics.Counts{Requests: ns, Errors: ks},
	}
}

// hist is a histogram in metrics' layout with the given latencies (in
// seconds), bucketed the way metrics.Registry.Observe does.
func hist(latencies ...float64) []uint64 {
	h := make([]uint64, len(metrics.Buckets)+1)
	for _, s := range latencies {
		h[sort.SearchFloat64s(metrics.Buckets, s)]++
	}
	return h
}

// mustNew is New that fails the test on a config error.
func mustNew(t testing.TB, cfg Config) *Judge {
	t.Helper()
	j, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// mustAdd adds windows, failing the test on an error.
func mustAdd(t testing.TB, j *Judge, ws ...Window) {
	t.Helper()
	for _, w := range ws {
		if err := j.Add(w); err != nil {
			t.Fatal(err)
		}
	}
}

// theta is the probability that an event is the canary's at relative risk
// r and canary share pi.
func theta(r, pi float64) float64 { return r * pi / (r*pi + 1 - pi) }

// poisson draws a Poisson count by inversion (fine for the small means
// the tests use).
func poisson(rng *rand.Rand, mean float64) uint64 {
	if mean > 50 { // normal approximation, rounded: only for sizes, never for events
		return uint64(max(0, math.Round(mean+math.Sqrt(mean)*rng.NormFloat64())))
	}
	var k uint64
	p := math.Exp(-mean)
	cum, u := p, rng.Float64()
	for u > cum && k < 1000 {
		k++
		p *= mean / float64(k)
		cum += p
	}
	return k
}

// binomial draws a binomial count request by request.
func binomial(rng *rand.Rand, n uint64, p float64) uint64 {
	var k uint64
	for range n {
		if rng.Float64() < p {
			k++
		}
	}
	return k
}

// latencies draws n bucketed latencies, lognormal with the given median
// and σ 0.5, by inverting the buckets' CDF.
func latencies(rng *rand.Rand, n uint64, median float64) []uint64 {
	cdf := lognormalCDF(median)
	h := make([]uint64, len(cdf))
	for range n {
		h[sort.SearchFloat64s(cdf, rng.Float64())]++
	}
	return h
}

// lognormalCDF is the CDF at each bucket bound (and 1 for +Inf) of the
// lognormal with that median and σ 0.5.
func lognormalCDF(median float64) []float64 {
	if c, ok := cdfs[median]; ok {
		return c
	}
	c := make([]float64, len(metrics.Buckets)+1)
	for i, b := range metrics.Buckets {
		c[i] = 0.5 * math.Erfc(-(math.Log(b/median)/0.5)/math.Sqrt2)
	}
	c[len(c)-1] = 1
	cdfs[median] = c
	return c
}

var cdfs = map[float64][]float64{}

// near says a and b agree to a relative tolerance.
func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) }
