package stats

import "math"

// RiskState is the state of one relative-risk test (errors, or slow
// requests): totals over the windows in which both versions served
// requests (the others say nothing about the relative risk) and, per grid
// point, the share-dependent part of the conditional log-likelihood.
type RiskState struct {
	CanaryRequests uint64 `json:"canaryRequests"`
	StableRequests uint64 `json:"stableRequests"`
	// CanaryEvents and StableEvents are failures (or slow requests).
	CanaryEvents uint64 `json:"canaryEvents"`
	StableEvents uint64 `json:"stableEvents"`
	// LogNorm[j] = Σ_windows K·log(1 + π(g_j − 1)), see grid.addWindow.
	LogNorm []float64 `json:"logNorm"`
	// LogLR is the log mixture likelihood ratio against the tolerance
	// after the last window, and PeakLogLR the highest it reached.
	LogLR     float64 `json:"logLR"`
	PeakLogLR float64 `json:"peakLogLR"`
	// RejectedAt is the window (1-based) at which the mixture reached 1/α;
	// 0 while it has not. Rejection is final.
	RejectedAt int `json:"rejectedAt,omitempty"`
}

func newRiskState() RiskState { return RiskState{LogNorm: make([]float64, gridLen)} }

// add folds one window into the test of the composite null "r ≤ ρ₀" (the
// canary fails at most ρ₀ times as often as stable) against r > ρ₀, and
// rejects when
//
//	M_t = (1/m) Σ_{r ∈ {1.26ρ₀, 1.59ρ₀, ..., 64ρ₀}} Π_{windows} LR_w(r : ρ₀) ≥ 1/α,
//	LR_w(r : ρ₀) = (θ_w(r)/θ_w(ρ₀))^{k_c} · ((1−θ_w(r))/(1−θ_w(ρ₀)))^{k_s},
//	θ_w(r) = rπ_w / (rπ_w + 1 − π_w),  π_w = n_c/(n_c + n_s) in window w.
//
// Why it is valid. Given a window's request counts and its number of events
// K, under Poisson traffic each event is the canary's independently with
// probability θ_w(r): the base rate cancels, so it may drift from window to
// window, and so may the share. Each LR_w(r : ρ₀) then has conditional
// expectation 1 when r = ρ₀, and at most 1 when r < ρ₀ (the expectation is
// linear in the true θ and increasing, the monotone likelihood ratio of the
// Bernoulli family). The product is a test supermartingale for every r in
// the null, and so is a fixed-weight mixture of them; by Ville's inequality
// (Ville, "Étude critique de la notion de collectif", 1939; see Ramdas et
// al., Statist. Sci. 2023, Thm 2) P(∃t: M_t ≥ 1/α) ≤ α. It is the mixture
// sequential probability ratio test (Robbins, "Statistical methods related
// to the law of the iterated logarithm", Ann. Math. Statist. 1970) on the
// conditional binomial that compares two Poisson rates (Lehmann & Romano,
// "Testing Statistical Hypotheses", §4.5). With binomial rather than
// Poisson counts and r = ρ₀ = 1, the events are a hypergeometric draw from
// the window's requests, whose convex functionals are bounded by the
// binomial's (Hoeffding, JASA 1963, Thm 4), so M is still a
// supermartingale; for ρ₀ ≠ 1 the Bernoulli model is accurate to O(rate).
func (s *RiskState) add(g *grid, window int, nc, ns, kc, ks uint64, alpha float64, ll *[gridLen]float64) {
	if nc == 0 || ns == 0 {
		return // one version alone says nothing about r
	}
	s.CanaryRequests = satAdd(s.CanaryRequests, nc)
	s.StableRequests = satAdd(s.StableRequests, ns)
	if kc+ks == 0 {
		return
	}
	s.CanaryEvents = satAdd(s.CanaryEvents, kc)
	s.StableEvents = satAdd(s.StableEvents, ks)
	g.addWindow(s.LogNorm, nc, ns, kc, ks)
	g.logLik(ll, s.LogNorm, s.CanaryEvents)
	s.LogLR = logMixture(ll, idx0, +1, math.Inf(1))
	s.PeakLogLR = max(s.PeakLogLR, s.LogLR)
	if s.RejectedAt == 0 && s.LogLR >= math.Log(1/alpha) {
		s.RejectedAt = window
	}
}

// RiskEvidence is what a relative-risk test shows: counts, rates, the
// estimate of the relative risk with its confidence sequence, and the
// mixture likelihood ratio against its boundary.
type RiskEvidence struct {
	CanaryRequests uint64 `json:"canaryRequests"`
	StableRequests uint64 `json:"stableRequests"`
	CanaryEvents   uint64 `json:"canaryEvents"`
	StableEvents   uint64 `json:"stableEvents"`
	CanaryRate     Value  `json:"canaryRate"`
	StableRate     Value  `json:"stableRate"`
	// RelativeRisk is the maximum-likelihood estimate of canary rate /
	// stable rate from the conditional binomial (adjusted for each
	// window's share); Lower and Upper its confidence sequence, each side
	// valid with probability 1 − Alpha at every time at once.
	RelativeRisk Value `json:"relativeRisk"`
	Lower        Value `json:"lower"`
	Upper        Value `json:"upper"`
	// LogLR is the log mixture likelihood ratio against Tolerance; the test
	// rejects when it reaches Boundary = log(1/Alpha).
	LogLR     float64 `json:"logLR"`
	PeakLogLR float64 `json:"peakLogLR"`
	Boundary  float64 `json:"boundary"`
	Alpha     float64 `json:"alpha"`
	Tolerance float64 `json:"tolerance"`
	// Rejected says the canary was shown worse than Tolerance, at window
	// RejectedAt.
	Rejected   bool `json:"rejected"`
	RejectedAt int  `json:"rejectedAt,omitempty"`
}

func (s *RiskState) evidence(g *grid, alpha float64) RiskEvidence {
	var ll [gridLen]float64
	g.logLik(&ll, s.LogNorm, s.CanaryEvents)
	lo, hi := g.confidence(&ll, alpha)
	if s.CanaryEvents == 0 && s.StableEvents == 0 {
		lo, hi = 0, math.Inf(1) // nothing to compare yet
	}
	return RiskEvidence{
		CanaryRequests: s.CanaryRequests,
		StableRequests: s.StableRequests,
		CanaryEvents:   s.CanaryEvents,
		StableEvents:   s.StableEvents,
		CanaryRate:     Value(rate(s.CanaryEvents, s.CanaryRequests)),
		StableRate:     Value(rate(s.StableEvents, s.StableRequests)),
		RelativeRisk:   Value(g.mle(&ll, s.CanaryEvents, s.StableEvents)),
		Lower:          Value(lo),
		Upper:          Value(hi),
		LogLR:          s.LogLR,
		PeakLogLR:      s.PeakLogLR,
		Boundary:       math.Log(1 / alpha),
		Alpha:          alpha,
		Tolerance:      g.r[idx0],
		Rejected:       s.RejectedAt > 0,
		RejectedAt:     s.RejectedAt,
	}
}

func rate(k, n uint64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return float64(k) / float64(n)
}

// satAdd adds without wrapping around.
func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}
