package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"fledge.dev/fledge/internal/metrics"
)

// The property tests simulate traffic with a fixed seed: they are
// deterministic, and fast because the base rates are high (evidence piles
// up quickly, which is when a test that is not valid would cry wolf).

// TestAAFalseRollbacks checks Ville's promise on the whole judge: when the
// canary is stable's twin (same error rate, same latency distribution), the
// fraction of runs it ever fails, checked after every window, stays under
// α — errors, slow requests and the distribution backstop together.
func TestAAFalseRollbacks(t *testing.T) {
	const runs, windows, alpha = 400, 600, 0.05
	rng := rand.New(rand.NewPCG(3, 4))
	failed := 0
	for range runs {
		j := mustNew(t, Config{Alpha: alpha})
		for range windows {
			nc, ns := poisson(rng, 20), poisson(rng, 180)
			mustAdd(t, j, Window{
				Canary: metrics.Counts{Requests: nc, Errors: binomial(rng, nc, 0.02), Buckets: latencies(rng, nc, 0.05)},
				Stable: metrics.Counts{Requests: ns, Errors: binomial(rng, ns, 0.02), Buckets: latencies(rng, ns, 0.05)},
			})
			if _, f := j.Failed(); f {
				failed++
				break
			}
		}
	}
	t.Logf("%d of %d A/A runs failed (α %g)", failed, runs, alpha)
	if float64(failed) > alpha*runs {
		t.Fatalf("%d of %d A/A runs failed, more than α = %g", failed, runs, alpha)
	}
}

// TestAADriftingShareAndRate checks that the errors test conditions the
// base rate and the share away: both drift wildly from window to window
// (shares from 1% to 60%, a base rate from 0.5% to 10%), the canary is
// still stable's twin, and false rollbacks stay under α.
func TestAADriftingShareAndRate(t *testing.T) {
	const runs, windows, alpha = 400, 500, 0.05
	rng := rand.New(rand.NewPCG(5, 6))
	failed := 0
	for range runs {
		j := mustNew(t, Config{Alpha: alpha, Latency: LatencyConfig{Disabled: true}})
		for w := range windows {
			share := 0.01 + 0.59*rng.Float64()
			p := 0.005 * math.Pow(20, 0.5+0.5*math.Sin(float64(w)/40))
			nc, ns := poisson(rng, 200*share), poisson(rng, 200*(1-share))
			mustAdd(t, j, win(nc, binomial(rng, nc, p), ns, binomial(rng, ns, p)))
			if _, f := j.Failed(); f {
				failed++
				break
			}
		}
	}
	t.Logf("%d of %d drifting A/A runs failed (α %g)", failed, runs, alpha)
	if float64(failed) > alpha*runs {
		t.Fatalf("%d of %d drifting A/A runs failed, more than α = %g", failed, runs, alpha)
	}
}

// TestConfidenceSequenceCovers checks the confidence sequence's promise:
// for a canary failing 3 times as often as stable, the fraction of runs in
// which [Lower, Upper] ever excludes 3, checked after every window, stays
// under 2α (α for each side).
func TestConfidenceSequenceCovers(t *testing.T) {
	const runs, windows, alpha, r = 300, 300, 0.05, 3.0
	rng := rand.New(rand.NewPCG(7, 8))
	missed := 0
	for range runs {
		j := mustNew(t, Config{Alpha: alpha, MaxRelativeRisk: 4, Latency: LatencyConfig{Disabled: true}})
		for range windows {
			nc, ns := poisson(rng, 20), poisson(rng, 180)
			mustAdd(t, j, win(nc, binomial(rng, nc, r*0.01), ns, binomial(rng, ns, 0.01)))
			e := j.Decide().Evidence.Errors
			if float64(e.Lower) > r || float64(e.Upper) < r {
				missed++
				break
			}
		}
	}
	t.Logf("the confidence sequence missed r = %g in %d of %d runs", r, missed, runs)
	if float64(missed) > 2*alpha*runs {
		t.Fatalf("the confidence sequence missed r = %g in %d of %d runs, more than 2α", r, missed, runs)
	}
}

// TestCatchesBadCanaries checks power on the traffic (200 req/s,
// 5% to the canary, stable failing 0.1%): a canary failing 2% of its
// requests is failed within five minutes in at least 99% of runs.
func TestCatchesBadCanaries(t *testing.T) {
	const runs, windows = 200, 300
	rng := rand.New(rand.NewPCG(9, 10))
	caught := 0
	for range runs {
		j := mustNew(t, Config{Latency: LatencyConfig{Disabled: true}})
		for range windows {
			nc, ns := poisson(rng, 10), poisson(rng, 190)
			mustAdd(t, j, win(nc, binomial(rng, nc, 0.02), ns, binomial(rng, ns, 0.001)))
			if r, f := j.Failed(); f {
				if r != ReasonErrors {
					t.Fatalf("failed for %s", r)
				}
				caught++
				break
			}
		}
	}
	if caught < runs*99/100 {
		t.Fatalf("caught %d of %d canaries failing 2%% within five minutes", caught, runs)
	}
}
