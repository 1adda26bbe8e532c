package stats

import "math"

// BudgetState is the state of the blast-radius budget.
type BudgetState struct {
	// Expected is the number of failures the canary's requests would have
	// had at stable's failure rate, window by window.
	Expected float64 `json:"expected"`
	// ExhaustedAt is the window (1-based) at which the excess reached the
	// budget; 0 while it has not. Exhaustion is final.
	ExhaustedAt int `json:"exhaustedAt,omitempty"`
}

// historyWeight caps how many of stable's past requests weigh in on its
// rate for the current window.
const historyWeight = 1000

// add counts one window. The canary's expected failures grow by
//
//	n_c · p̂,  p̂ = (k_s + w·K_s/N_s) / (n_s + w),  w = min(N_s, 1000),
//
// stable's rate in the window shrunk towards its rate so far (K_s failures
// in N_s earlier requests) with the weight of at most 1000 requests: a
// window's own rate follows a drifting base rate (an outage downstream
// shared by both versions is not the canary's fault), the history keeps a
// window with few stable requests from swinging it. With no stable
// requests at all the rate is 0 and every canary failure counts as excess,
// which errs on the side of the users.
//
// The excess is E = canary failures − expected; the budget is exhausted
// when E ≥ MaxCanaryFailures. It is a cap, not a test: it is meant for the
// damage a user accepts, and under an A/A it wanders like a random walk
// of standard deviation about √(expected), so a budget far below that over
// a long run can stop a good canary.
func (b *BudgetState) add(nc, ns, ks, stableRequestsBefore, stableFailuresBefore uint64) {
	w := math.Min(float64(stableRequestsBefore), historyWeight)
	var hist float64
	if stableRequestsBefore > 0 {
		hist = float64(stableFailuresBefore) / float64(stableRequestsBefore)
	}
	if den := float64(ns) + w; den > 0 {
		b.Expected += float64(nc) * (float64(ks) + w*hist) / den
	}
}

// BudgetEvidence is what the budget shows.
type BudgetEvidence struct {
	CanaryFailures uint64  `json:"canaryFailures"`
	Expected       float64 `json:"expected"`
	// Excess is CanaryFailures − Expected; Limit is MaxCanaryFailures (0:
	// no budget).
	Excess      float64 `json:"excess"`
	Limit       float64 `json:"limit"`
	Exhausted   bool    `json:"exhausted"`
	ExhaustedAt int     `json:"exhaustedAt,omitempty"`
}
