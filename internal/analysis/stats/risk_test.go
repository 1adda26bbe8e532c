package stats

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// TestLogLikelihoodIsTheConditionalBinomial checks the grid's likelihood
// against the binomial it stands for: given K failures in a window where
// the canary has share π, the canary's k_c ~ Binomial(K, θ(r)) with
// θ(r) = rπ/(rπ + 1 − π) (Lehmann & Romano, Testing Statistical
// Hypotheses, §4.5), so ℓ(r) − ℓ(ρ₀) must be the log ratio of those pmfs,
// here taken from gonum.
func TestLogLikelihoodIsTheConditionalBinomial(t *testing.T) {
	const nc, ns, kc, ks = 60, 940, 7, 12
	for _, rho0 := range []float64{1, 1.5} {
		g := newGrid(rho0)
		st := newRiskState()
		var ll [gridLen]float64
		st.add(g, 1, nc, ns, kc, ks, 0.01, &ll)
		pi := float64(nc) / (nc + ns)
		at := func(r float64) float64 {
			return distuv.Binomial{N: kc + ks, P: theta(r, pi)}.LogProb(kc)
		}
		for i, r := range g.r {
			got, want := ll[i]-ll[idx0], at(r)-at(rho0)
			if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
				t.Fatalf("ρ₀ %g, r %g: ℓ(r) − ℓ(ρ₀) = %.12g, binomial says %.12g", rho0, r, got, want)
			}
		}
	}
}

// TestMixtureIsTheAverageOfBinomialRatios checks the test statistic over
// windows whose shares differ: M = (1/18) Σ_{i=1..18} Π_w
// Bin(k_c,w; K_w, θ_w(ρ₀·2^{i/3})) / Bin(k_c,w; K_w, θ_w(ρ₀)), computed here
// directly from gonum's binomial.
func TestMixtureIsTheAverageOfBinomialRatios(t *testing.T) {
	windows := [][4]uint64{ // nc, kc, ns, ks
		{10, 1, 190, 0}, {50, 0, 150, 3}, {100, 2, 100, 1}, {5, 1, 195, 2}, {30, 0, 0, 4}, {0, 0, 20, 1},
	}
	const rho0 = 1.5
	j := mustNew(t, Config{MaxRelativeRisk: rho0, Latency: LatencyConfig{Disabled: true}})
	for _, w := range windows {
		mustAdd(t, j, win(w[0], w[1], w[2], w[3]))
	}
	var sum float64
	for i := 1; i <= 18; i++ {
		r := rho0 * math.Exp2(float64(i)/3)
		logRatio := 0.0
		for _, w := range windows {
			if w[0] == 0 || w[2] == 0 || w[1]+w[3] == 0 {
				continue // one version alone: no information
			}
			pi := float64(w[0]) / float64(w[0]+w[2])
			b := func(r float64) float64 {
				return distuv.Binomial{N: float64(w[1] + w[3]), P: theta(r, pi)}.LogProb(float64(w[1]))
			}
			logRatio += b(r) - b(rho0)
		}
		sum += math.Exp(logRatio)
	}
	want := math.Log(sum / 18)
	if got := j.st.Errors.LogLR; math.Abs(got-want) > 1e-9 {
		t.Fatalf("log mixture LR = %.12g, want %.12g", got, want)
	}
}

// TestRejectsAtVillesBoundary feeds windows with a single failure, always
// the canary's, at share π = 5%. Each multiplies the likelihood ratio of r
// by θ(r)/θ(1), so the test must reject at the first n with
// (1/18) Σ_i (θ(2^{i/3})/θ(1))^n ≥ 1/α_errors = 2/α (Ville's inequality;
// α_errors is half of α with the latency tests on). Stable-only failures
// never reject.
func TestRejectsAtVillesBoundary(t *testing.T) {
	const pi = 0.05
	want := 0
	for n := 1; want == 0; n++ {
		var m float64
		for i := 1; i <= 18; i++ {
			m += math.Pow(theta(math.Exp2(float64(i)/3), pi)/pi, float64(n))
		}
		if m/18 >= 2/DefaultAlpha {
			want = n
		}
	}
	j := mustNew(t, Config{})
	for n := 1; n <= want; n++ {
		if _, failed := j.Failed(); failed {
			t.Fatalf("failed after %d canary failures, Ville's boundary needs %d", n-1, want)
		}
		mustAdd(t, j, win(50, 1, 950, 0))
	}
	if d := j.Decide(); d.Verdict != Fail || d.Reason != ReasonErrors || d.Evidence.Errors.RejectedAt != want {
		t.Fatalf("after %d canary-only failures: %s %s (rejected at %d)", want, d.Verdict, d.Reason, d.Evidence.Errors.RejectedAt)
	}

	good := mustNew(t, Config{})
	for range 1000 {
		mustAdd(t, good, win(50, 0, 950, 1))
	}
	if _, failed := good.Failed(); failed {
		t.Fatal("stable-only failures failed the canary")
	}
}

// TestRelativeRiskEstimate checks the maximum-likelihood estimate. With one
// share throughout, the conditional MLE is the ratio of the rates,
// (k_c/n_c)/(k_s/n_s) (the textbook estimate of a rate ratio); with shares
// that differ it solves the score equation Σ_w k_c,w − K_w·θ_w(r) = 0,
// solved here by bisection.
func TestRelativeRiskEstimate(t *testing.T) {
	tests := map[string]struct {
		windows [][4]uint64 // nc, kc, ns, ks
		want    float64
	}{
		"2% against 0.1%":       {[][4]uint64{{1000, 20, 19000, 19}}, 20},
		"same rate":             {[][4]uint64{{500, 5, 9500, 95}}, 1},
		"half the rate":         {[][4]uint64{{2000, 3, 2000, 6}}, 0.5},
		"same share, 3 windows": {[][4]uint64{{100, 1, 1900, 2}, {100, 0, 1900, 5}, {100, 2, 1900, 3}}, (3.0 / 300) / (10.0 / 5700)},
		"shares differ":         {[][4]uint64{{10, 1, 190, 1}, {100, 3, 100, 1}, {50, 2, 150, 2}}, scoreRoot([][4]uint64{{10, 1, 190, 1}, {100, 3, 100, 1}, {50, 2, 150, 2}})},
		"no canary failures":    {[][4]uint64{{100, 0, 1900, 4}}, 0},
		"no stable failures":    {[][4]uint64{{100, 2, 1900, 0}}, math.Inf(1)},
		"no failures at all":    {[][4]uint64{{100, 0, 1900, 0}}, math.NaN()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j := mustNew(t, Config{Latency: LatencyConfig{Disabled: true}})
			for _, w := range tc.windows {
				mustAdd(t, j, win(w[0], w[1], w[2], w[3]))
			}
			got := float64(j.Decide().Evidence.Errors.RelativeRisk)
			switch {
			case math.IsNaN(tc.want) || math.IsInf(tc.want, 0) || tc.want == 0:
				if !(got == tc.want || math.IsNaN(got) && math.IsNaN(tc.want)) {
					t.Fatalf("relative risk %g, want %g", got, tc.want)
				}
			case !near(got, tc.want, 0.005):
				t.Fatalf("relative risk %g, want %g", got, tc.want)
			}
		})
	}
}

// scoreRoot solves Σ_w k_c,w − K_w·θ_w(r) = 0 for r by bisection on log r.
func scoreRoot(windows [][4]uint64) float64 {
	score := func(r float64) float64 {
		var s float64
		for _, w := range windows {
			pi := float64(w[0]) / float64(w[0]+w[2])
			s += float64(w[1]) - float64(w[1]+w[3])*theta(r, pi)
		}
		return s
	}
	lo, hi := -10.0, 10.0
	for range 200 {
		mid := (lo + hi) / 2
		if score(math.Exp(mid)) > 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Exp(lo)
}

// TestConfidenceSequenceContainsTheExactInterval compares the confidence
// sequence with the exact fixed-time interval it must contain: for one
// window, the Clopper–Pearson bounds on θ (Clopper & Pearson, Biometrika
// 1934), from exact binomial tails P(X ≥ k | θ_L) = a and P(X ≤ k | θ_U) = a,
// mapped to r = θ(1 − π)/(π(1 − θ)). A bound valid at every time at once is
// wider than one valid at a single time; it should not be wildly so.
func TestConfidenceSequenceContainsTheExactInterval(t *testing.T) {
	tests := map[string][4]uint64{ // nc, kc, ns, ks
		"2% against 0.1%":  {1000, 20, 19000, 19},
		"A/A, many events": {5000, 50, 95000, 950},
		"few events":       {500, 2, 9500, 10},
		"even shares":      {3000, 30, 3000, 10},
	}
	for name, w := range tests {
		t.Run(name, func(t *testing.T) {
			j := mustNew(t, Config{Latency: LatencyConfig{Disabled: true}})
			mustAdd(t, j, win(w[0], w[1], w[2], w[3]))
			e := j.Decide().Evidence.Errors
			k, n := float64(w[1]), float64(w[1]+w[3])
			pi := float64(w[0]) / float64(w[0]+w[2])
			toR := func(th float64) float64 { return th * (1 - pi) / (pi * (1 - th)) }
			a := e.Alpha
			thL := solve(func(th float64) float64 { return upperTail(k, n, th) - a }) // increasing in θ
			thU := solve(func(th float64) float64 { return a - lowerTail(k, n, th) }) // increasing in θ
			rl, ru := toR(thL), toR(thU)
			t.Logf("confidence sequence [%.3g, %.3g], exact interval [%.3g, %.3g]", e.Lower, e.Upper, rl, ru)
			if float64(e.Lower) > rl || float64(e.Upper) < ru {
				t.Fatalf("confidence sequence [%g, %g] does not contain the exact interval [%g, %g]", e.Lower, e.Upper, rl, ru)
			}
			if w := math.Log(float64(e.Upper) / float64(e.Lower)); w > 3*math.Log(ru/rl) {
				t.Fatalf("confidence sequence [%g, %g] is more than 3 times as wide (in log) as the exact interval [%g, %g]", e.Lower, e.Upper, rl, ru)
			}
		})
	}
}

// TestExactTails checks the tails the test above relies on against a
// textbook value: for X ~ Binomial(10, ½), P(X ≤ 2) = (1 + 10 + 45)/1024.
func TestExactTails(t *testing.T) {
	if got, want := lowerTail(2, 10, 0.5), 56.0/1024; math.Abs(got-want) > 1e-12 {
		t.Fatalf("P(X ≤ 2) = %g, want %g", got, want)
	}
	if got, want := upperTail(8, 10, 0.5), 56.0/1024; math.Abs(got-want) > 1e-12 {
		t.Fatalf("P(X ≥ 8) = %g, want %g", got, want)
	}
}

// lowerTail is P(X ≤ k) for X ~ Binomial(n, p), summed term by term.
func lowerTail(k, n, p float64) float64 {
	var s float64
	for i := 0.0; i <= k; i++ {
		s += math.Exp(logChoose(n, i) + i*math.Log(p) + (n-i)*math.Log1p(-p))
	}
	return s
}

// upperTail is P(X ≥ k).
func upperTail(k, n, p float64) float64 {
	if k == 0 {
		return 1
	}
	return 1 - lowerTail(k-1, n, p)
}

func logChoose(n, k float64) float64 {
	a, _ := math.Lgamma(n + 1)
	b, _ := math.Lgamma(k + 1)
	c, _ := math.Lgamma(n - k + 1)
	return a - b - c
}

// solve finds the root in (0, 1) of an increasing f by bisection.
func solve(f func(float64) float64) float64 {
	lo, hi := 1e-12, 1-1e-12
	for range 200 {
		mid := (lo + hi) / 2
		if f(mid) < 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
