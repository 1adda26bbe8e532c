package stats

import (
	"errors"
	"fmt"
	"math"
)

// Defaults, chosen to be good without tuning.
const (
	// DefaultAlpha bounds the false-rollback probability of a canary that
	// is as good as stable, over however long it is watched.
	DefaultAlpha = 0.01
	// DefaultMaxRelativeRisk is "no worse than stable".
	DefaultMaxRelativeRisk = 1.0
	// DefaultPassFactor sets PassRelativeRisk to this multiple of
	// MaxRelativeRisk when it is not given.
	DefaultPassFactor = 2.0
	// DefaultMinRequests is the canary traffic below which the judge only
	// ever waits (or fails): it never passes on a handful of requests.
	DefaultMinRequests = 100
	// DefaultStableQuantile places the slow-request threshold at stable's
	// p99 when no fixed threshold is given.
	DefaultStableQuantile = 0.99
)

// Config tunes the judge. The zero value means every default.
type Config struct {
	// Alpha is the probability, at most, that the judge ever fails a canary
	// that is within tolerance, however often it is checked. Default 0.01.
	Alpha float64 `json:"alpha,omitempty"`
	// MaxRelativeRisk is the tolerance: the canary fails when it is shown to
	// fail (or be slow) more than this many times as often as stable.
	// Default 1 ("no worse"); 1.5 tolerates half as many failures again.
	MaxRelativeRisk float64 `json:"maxRelativeRisk,omitempty"`
	// PassRelativeRisk is where the weight may rise: the judge passes once
	// the upper confidence bound of the relative risk is at most this. It
	// must exceed MaxRelativeRisk (a canary exactly at the tolerance can be
	// shown neither worse nor within it). Default 2 × MaxRelativeRisk.
	PassRelativeRisk float64 `json:"passRelativeRisk,omitempty"`
	// MaxCanaryFailures is the blast-radius budget: the canary fails when
	// its failures in excess of what stable's rate predicts reach this,
	// whatever the statistics say. 0 means no budget.
	MaxCanaryFailures float64 `json:"maxCanaryFailures,omitempty"`
	// MinRequests is the canary traffic below which the judge waits
	// (saying so) instead of passing. Default 100.
	MinRequests uint64 `json:"minRequests,omitempty"`
	// Latency configures the latency tests.
	Latency LatencyConfig `json:"latency,omitempty"`
}

// LatencyConfig configures the slow-request test and the distribution
// backstop.
type LatencyConfig struct {
	// Disabled turns both latency tests off (for windows without
	// histograms); the errors test then gets all of Alpha.
	Disabled bool `json:"disabled,omitempty"`
	// Threshold, in seconds, makes a request slow when it takes longer (the
	// SLO). It is rounded up to a histogram bucket bound. 0 means stable's
	// StableQuantile instead.
	Threshold float64 `json:"threshold,omitempty"`
	// StableQuantile places the threshold at this quantile of stable's
	// latency so far (a bucket bound). Default 0.99.
	StableQuantile float64 `json:"stableQuantile,omitempty"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	if c.MaxRelativeRisk == 0 {
		c.MaxRelativeRisk = DefaultMaxRelativeRisk
	}
	if c.PassRelativeRisk == 0 {
		c.PassRelativeRisk = DefaultPassFactor * c.MaxRelativeRisk
	}
	if c.MinRequests == 0 {
		c.MinRequests = DefaultMinRequests
	}
	if c.Latency.StableQuantile == 0 {
		c.Latency.StableQuantile = DefaultStableQuantile
	}
	return c
}

// Validate reports every out-of-range field of a defaulted config, each
// error naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, why string, v float64) {
		errs = append(errs, fmt.Errorf("%s: %s (got %g)", field, why, v))
	}
	if !(c.Alpha > 0 && c.Alpha <= 0.5) {
		bad("alpha", "must be in (0, 0.5]", c.Alpha)
	}
	if !(c.MaxRelativeRisk >= minTolerance && c.MaxRelativeRisk <= maxTolerance) {
		bad("maxRelativeRisk", fmt.Sprintf("must be in [%g, %g]", minTolerance, maxTolerance), c.MaxRelativeRisk)
	}
	if hi := c.MaxRelativeRisk * gridTop(); !(c.PassRelativeRisk > c.MaxRelativeRisk && c.PassRelativeRisk <= hi) {
		bad("passRelativeRisk", fmt.Sprintf("must be above maxRelativeRisk and at most %g× it", gridTop()), c.PassRelativeRisk)
	}
	if !(c.MaxCanaryFailures >= 0) || math.IsInf(c.MaxCanaryFailures, 0) {
		bad("maxCanaryFailures", "must be 0 (no budget) or positive", c.MaxCanaryFailures)
	}
	if !(c.Latency.Threshold >= 0) || math.IsInf(c.Latency.Threshold, 0) {
		bad("latency.threshold", "must be 0 (stable's quantile) or a positive number of seconds", c.Latency.Threshold)
	}
	if q := c.Latency.StableQuantile; !(q >= 0.5 && q <= 0.9999) {
		bad("latency.stableQuantile", "must be in [0.5, 0.9999]", q)
	}
	return errors.Join(errs...)
}

// The tolerances the grid of relative risks supports.
const (
	minTolerance = 0.1
	maxTolerance = 100.0
)

// alphas splits Alpha between the tests so that the judge as a whole fails
// a canary within tolerance with probability at most Alpha (a union bound):
// half to errors and a quarter to each latency test, or all to errors when
// latency is disabled. The split is fixed by the config, never by the data.
func (c Config) alphas() (errs, slow, dist float64) {
	if c.Latency.Disabled {
		return c.Alpha, 0, 0
	}
	return c.Alpha / 2, c.Alpha / 4, c.Alpha / 4
}
