package stats

import "math"

// The grid of relative risks on which the conditional log-likelihood is
// kept: g_j = ρ₀ · 2^(j/stepsPerDoubling) for j in [gridLo, gridHi], where
// ρ₀ is the tolerance (MaxRelativeRisk), so that ρ₀ is a grid point and the
// state does not depend on anything else in the config.
const (
	stepsPerDoubling = 6   // 12% between neighbours
	gridLo           = -36 // ρ₀/64
	gridHi           = 60  // 1024·ρ₀
	gridLen          = gridHi - gridLo + 1
	// A mixture uses every mixStride-th grid point on one side of the
	// tested value, at most mixCount of them: alternatives 1.26×, 1.59×,
	// ..., 64× away, equally weighted on the log scale.
	mixStride = 2
	mixCount  = 18
)

// gridTop is g_{gridHi}/ρ₀.
func gridTop() float64 { return math.Exp2(float64(gridHi) / stepsPerDoubling) }

// grid holds the relative risks and what the updates need of them.
type grid struct {
	r    [gridLen]float64 // g_j
	logr [gridLen]float64 // log g_j
	rm1  [gridLen]float64 // g_j − 1
}

// idx0 is the index of ρ₀ itself.
const idx0 = -gridLo

func newGrid(rho0 float64) *grid {
	g := &grid{}
	for i := range gridLen {
		j := i + gridLo
		g.r[i] = rho0 * math.Exp2(float64(j)/stepsPerDoubling)
		g.logr[i] = math.Log(g.r[i])
		g.rm1[i] = g.r[i] - 1
	}
	return g
}

// addWindow folds one window into logNorm: with the canary's share of the
// window's requests π = n_c/(n_c+n_s) and K = k_c + k_s events (failures or
// slow requests), the conditional log-likelihood of relative risk r is
//
//	ℓ(r) = k_c·log θ(r) + k_s·log(1 − θ(r)),  θ(r) = rπ / (1 + π(r − 1)),
//	     = k_c·log r − K·log(1 + π(r − 1)) + (terms without r),
//
// so the state keeps Σ K·log(1 + π(r − 1)) per grid point and the total k_c.
// Windows without events or without one of the versions carry no
// information about r and are skipped. (The binomial counts given their sum
// are exactly this Bernoulli model for Poisson traffic; see risk.go for the
// binomial case.)
func (g *grid) addWindow(logNorm []float64, nc, ns, kc, ks uint64) {
	k := float64(kc) + float64(ks)
	if k == 0 || nc == 0 || ns == 0 {
		return
	}
	pi := float64(nc) / (float64(nc) + float64(ns))
	for i := range logNorm {
		logNorm[i] += k * math.Log1p(pi*g.rm1[i])
	}
}

// logLik writes ℓ(g_j) (up to a constant) into out.
func (g *grid) logLik(out *[gridLen]float64, logNorm []float64, kc uint64) {
	c := float64(kc)
	for i := range out {
		out[i] = c*g.logr[i] - logNorm[i]
	}
}

// logMixture is the log of the mixture likelihood ratio testing "r = g_at"
// against the alternatives on one side (dir = +1: above, −1: below):
//
//	M = (1/m) Σ_{i=1..m} exp(ℓ(g_{at + dir·i·mixStride}) − ℓ(g_at)),
//
// over the m ≤ mixCount alternatives that are on the grid. The weights
// depend only on the grid position, never on the data, which is what
// keeps M a test supermartingale. It returns −Inf when there is no
// alternative on that side. When stop is finite it may return early, with
// any value ≥ stop, once the answer is known to be at least stop.
func logMixture(ll *[gridLen]float64, at, dir int, stop float64) float64 {
	m := 0
	best := math.Inf(-1)
	for i := 1; i <= mixCount; i++ {
		j := at + dir*i*mixStride
		if j < 0 || j >= gridLen {
			break
		}
		m++
		best = max(best, ll[j])
	}
	if m == 0 {
		return math.Inf(-1)
	}
	logm := math.Log(float64(m))
	if best-ll[at]-logm >= stop {
		return best - ll[at] - logm // one term alone is enough
	}
	var sum float64
	for i := 1; i <= m; i++ {
		sum += math.Exp(ll[at+dir*i*mixStride] - best)
	}
	return best - ll[at] + math.Log(sum) - logm
}

// confidence inverts the one-sided mixture tests at every grid point: for
// the upper bound, the test of "r ≥ g_m" against the alternatives below
// g_m; for the lower bound, "r ≤ g_m" against those above. With
//
//	m* = the largest m whose test has not reached 1/α,
//
// Upper = g_{m*+1} (+Inf when m* is the top of the grid). If the true r lies
// in [g_m, g_{m+1}), Upper < r would mean the test of the true null
// "r ≥ g_m" had reached 1/α, which by Ville's inequality happens at any time
// with probability at most α: P(∃t: r > Upper_t) ≤ α, and likewise for
// Lower. This is the confidence sequence obtained by inverting a family of
// test supermartingales (Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform,
// nonparametric, nonasymptotic confidence sequences", Ann. Statist. 2021;
// Ramdas et al., "Game-theoretic statistics and safe anytime-valid
// inference", Statist. Sci. 2023, §5).
func (g *grid) confidence(ll *[gridLen]float64, alpha float64) (lower, upper float64) {
	bound := math.Log(1 / alpha)
	// Every mixture sums the same exp(ℓ_j): take them once, scaled by the
	// maximum so that none overflows.
	top := ll[0]
	for _, v := range ll {
		top = max(top, v)
	}
	var e [gridLen]float64
	for i, v := range ll {
		e[i] = math.Exp(v - top)
	}
	rejected := func(m, dir int) bool {
		var sum float64
		n := 0
		for i := 1; i <= mixCount; i++ {
			j := m + dir*i*mixStride
			if j < 0 || j >= gridLen {
				break
			}
			sum += e[j]
			n++
		}
		if n == 0 {
			return false
		}
		if sum == 0 { // every term underflowed: ask without the scaling
			return logMixture(ll, m, dir, bound) >= bound
		}
		return math.Log(sum)+top-ll[m]-math.Log(float64(n)) >= bound
	}
	upper = math.Inf(1)
	for m := gridLen - 1; m >= 0; m-- {
		if !rejected(m, -1) {
			if m < gridLen-1 {
				upper = g.r[m+1]
			}
			break
		}
		if m == 0 {
			upper = g.r[0]
		}
	}
	lower = 0
	for m := 0; m < gridLen; m++ {
		if !rejected(m, +1) {
			if m > 0 {
				lower = g.r[m-1]
			}
			break
		}
		if m == gridLen-1 {
			lower = g.r[gridLen-1]
		}
	}
	return lower, upper
}

// mle is the maximum of the conditional likelihood: the grid's best point
// refined by a parabola through it and its neighbours in log r (ℓ is
// concave in log r: it is a logistic regression with offset logit π). It is
// 0 without canary events, +Inf without stable events, NaN without either.
func (g *grid) mle(ll *[gridLen]float64, kc, ks uint64) float64 {
	switch {
	case kc == 0 && ks == 0:
		return math.NaN()
	case kc == 0:
		return 0
	case ks == 0:
		return math.Inf(1)
	}
	b := 0
	for i := range ll {
		if ll[i] > ll[b] {
			b = i
		}
	}
	if b == 0 || b == gridLen-1 {
		return g.r[b]
	}
	y0, y1, y2 := ll[b-1], ll[b], ll[b+1]
	den := y0 - 2*y1 + y2
	if den >= 0 {
		return g.r[b]
	}
	off := 0.5 * (y0 - y2) / den // in grid steps, within [-0.5, 0.5]
	return g.r[b] * math.Exp2(off/stepsPerDoubling)
}
