package main

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"

	"fledge.dev/fledge/internal/analysis/stats"
	"fledge.dev/fledge/internal/metrics"
)

// version is how one version behaves: its error rate and the bucket
// probabilities of its latency, in the layout of metrics.Buckets.
type version struct {
	errorRate float64
	latency   *alias
}

// traffic is the load both versions share: Poisson arrivals at rate per
// second, a share of them to the canary.
type traffic struct {
	rate, share    float64
	stable, canary version
}

// latencyModel is a latency distribution by its CDF in seconds.
type latencyModel func(sec float64) float64

// lognormal is the base latency: median 50 ms, σ 0.5 (p99 ≈ 160 ms).
func lognormal(sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return distuv.UnitNormal.CDF((math.Log(sec) - math.Log(0.05)) / 0.5)
}

// scaled is m with every latency multiplied by f.
func scaled(m latencyModel, f float64) latencyModel {
	return func(sec float64) float64 { return m(sec / f) }
}

// shifted is m with d seconds added to every latency.
func shifted(m latencyModel, d float64) latencyModel {
	return func(sec float64) float64 { return m(sec - d) }
}

// bucketed is the probability of each histogram bucket under m: the
// buckets metrics.Registry.Observe fills.
func bucketed(m latencyModel) []float64 {
	p := make([]float64, len(metrics.Buckets)+1)
	prev := 0.0
	for i, b := range metrics.Buckets {
		c := m(b)
		p[i] = c - prev
		prev = c
	}
	p[len(p)-1] = 1 - prev
	return p
}

// window draws one second of traffic: Poisson request counts per version
// (Poisson arrivals split independently are independent Poisson streams),
// each request failing with its version's error rate and falling in a
// latency bucket. withStable and withBuckets skip what no judge needs any
// more.
func (t *traffic) window(rng *rand.Rand, src rand.Source, withStable, withBuckets bool) stats.Window {
	var w stats.Window
	w.Canary = draw(rng, src, t.rate*t.share, t.canary, withBuckets)
	if withStable {
		w.Stable = draw(rng, src, t.rate*(1-t.share), t.stable, withBuckets)
	}
	return w
}

func draw(rng *rand.Rand, src rand.Source, lambda float64, v version, withBuckets bool) metrics.Counts {
	n := uint64(distuv.Poisson{Lambda: lambda, Src: src}.Rand())
	c := metrics.Counts{Requests: n}
	if withBuckets {
		c.Buckets = make([]uint64, len(v.latency.prob))
	}
	for range n {
		if rng.Float64() < v.errorRate {
			c.Errors++
		}
		if withBuckets {
			c.Buckets[v.latency.sample(rng)]++
		}
	}
	return c
}

// alias samples an index with given probabilities in O(1) (Vose's alias
// method).
type alias struct {
	prob  []float64
	cut   []float64
	other []int
}

func newAlias(p []float64) *alias {
	n := len(p)
	a := &alias{prob: p, cut: make([]float64, n), other: make([]int, n)}
	var small, large []int
	scaled := make([]float64, n)
	for i, v := range p {
		scaled[i] = v * float64(n)
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small, large = small[:len(small)-1], large[:len(large)-1]
		a.cut[s], a.other[s] = scaled[s], l
		scaled[l] += scaled[s] - 1
		if scaled[l] < 1 {
			small = append(small, l)
		} else {
			large = append(large, l)
		}
	}
	for _, i := range append(small, large...) {
		a.cut[i], a.other[i] = 1, i
	}
	return a
}

func (a *alias) sample(rng *rand.Rand) int {
	i := rng.IntN(len(a.cut))
	if rng.Float64() < a.cut[i] {
		return i
	}
	return a.other[i]
}
