package stats

import (
	"math"
	"testing"
)

// TestBudget checks the excess failures against values worked out by hand
// from the rule: the canary's expected failures grow by
// n_c·(k_s + w·K_s/N_s)/(n_s + w) with w = min(N_s, 1000) stable requests
// of history, and the budget is exhausted once canary failures − expected
// reach MaxCanaryFailures, whatever the statistics say.
func TestBudget(t *testing.T) {
	tests := map[string]struct {
		windows      [][4]uint64 // nc, kc, ns, ks
		budget       float64
		wantExpected float64
		wantAt       int // window of exhaustion, 0: not exhausted
	}{
		"stable's rate, then shrunk towards it": {
			// 100·1/1000 = 0.1, then 50·(2 + 1000·0.001)/(500 + 1000) = 0.1.
			windows: [][4]uint64{{100, 2, 1000, 1}, {50, 3, 500, 2}}, budget: 4.8,
			wantExpected: 0.2, wantAt: 2,
		},
		"history capped at 1000 requests": {
			// 100·10/10000 = 0.1, then 100·(0 + 1000·0.001)/(1000 + 1000) = 0.05.
			windows: [][4]uint64{{100, 0, 10000, 10}, {100, 0, 1000, 0}}, budget: 1,
			wantExpected: 0.15,
		},
		"no stable failures: every canary failure is excess": {
			windows: [][4]uint64{{100, 1, 1900, 0}, {100, 1, 1900, 0}, {100, 1, 1900, 0}}, budget: 3,
			wantExpected: 0, wantAt: 3,
		},
		"no stable requests at all": {
			windows: [][4]uint64{{100, 2, 0, 0}}, budget: 2,
			wantExpected: 0, wantAt: 1,
		},
		"no budget": {
			windows:      [][4]uint64{{100, 50, 1900, 0}},
			wantExpected: 0,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j := mustNew(t, Config{MaxCanaryFailures: tc.budget, Latency: LatencyConfig{Disabled: true}})
			for _, w := range tc.windows {
				mustAdd(t, j, win(w[0], w[1], w[2], w[3]))
			}
			d := j.Decide()
			b := d.Evidence.Budget
			if math.Abs(b.Expected-tc.wantExpected) > 1e-12 || b.ExhaustedAt != tc.wantAt {
				t.Fatalf("expected %g exhausted at %d, want %g at %d", b.Expected, b.ExhaustedAt, tc.wantExpected, tc.wantAt)
			}
			if (d.Reason == ReasonBudget) != (tc.wantAt > 0) {
				t.Fatalf("%s %s with the budget exhausted at %d", d.Verdict, d.Reason, b.ExhaustedAt)
			}
		})
	}
}

// TestBudgetComesFirst checks that an exhausted budget fails the canary
// even where the errors test has not (yet) rejected, and says so.
func TestBudgetComesFirst(t *testing.T) {
	j := mustNew(t, Config{MaxCanaryFailures: 2, Latency: LatencyConfig{Disabled: true}})
	mustAdd(t, j, win(100, 1, 1900, 5), win(100, 2, 1900, 5))
	d := j.Decide()
	if d.Verdict != Fail || d.Reason != ReasonBudget || d.Evidence.Errors.Rejected {
		t.Fatalf("%s %s (errors rejected: %v): %s", d.Verdict, d.Reason, d.Evidence.Errors.Rejected, d.Message)
	}
	if r, failed := j.Failed(); !failed || r != ReasonBudget {
		t.Fatalf("Failed() = %s, %v", r, failed)
	}
}
