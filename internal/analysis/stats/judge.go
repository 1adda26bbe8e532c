package stats

import (
	"errors"
	"fmt"

	"fledge.dev/fledge/internal/metrics"
)

// Window is what each version did over the same stretch of time (a window
// of metrics.Counts, e.g. Counts.Sub of two readings). Buckets may be nil
// when the source has no histograms; the latency tests then skip the
// window.
type Window struct {
	Canary metrics.Counts `json:"canary"`
	Stable metrics.Counts `json:"stable"`
}

// StateVersion is the layout of State; Restore refuses another.
const StateVersion = 1

// State is everything the judge has accumulated, as plain JSON (all
// numbers finite) so that a restarted daemon can Restore it.
type State struct {
	Version int `json:"version"`
	// Tolerance is the MaxRelativeRisk the grids were built for.
	Tolerance float64 `json:"tolerance"`
	// Windows is how many windows were added.
	Windows        int          `json:"windows"`
	CanaryRequests uint64       `json:"canaryRequests"`
	StableRequests uint64       `json:"stableRequests"`
	CanaryFailures uint64       `json:"canaryFailures"`
	StableFailures uint64       `json:"stableFailures"`
	Errors         RiskState    `json:"errors"`
	Latency        LatencyState `json:"latency"`
	Budget         BudgetState  `json:"budget"`
}

// Judge compares a canary with stable, window by window. It is not safe
// for concurrent use.
type Judge struct {
	cfg Config
	g   *grid
	st  State
	ll  [gridLen]float64 // scratch
}

// New returns a judge with cfg's defaults applied, or the config's errors.
func New(cfg Config) (*Judge, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Judge{cfg: cfg, g: newGrid(cfg.MaxRelativeRisk), st: State{
		Version:   StateVersion,
		Tolerance: cfg.MaxRelativeRisk,
		Errors:    newRiskState(),
		Latency:   newLatencyState(),
	}}, nil
}

// Restore returns a judge that resumes from s, saved by State under a
// config with the same MaxRelativeRisk.
func Restore(cfg Config, s State) (*Judge, error) {
	j, err := New(cfg)
	if err != nil {
		return nil, err
	}
	switch {
	case s.Version != StateVersion:
		return nil, fmt.Errorf("judge state: version %d, want %d", s.Version, StateVersion)
	case s.Tolerance != j.cfg.MaxRelativeRisk:
		return nil, fmt.Errorf("judge state: saved for maxRelativeRisk %g, config has %g", s.Tolerance, j.cfg.MaxRelativeRisk)
	case len(s.Errors.LogNorm) != gridLen || len(s.Latency.Slow.LogNorm) != gridLen:
		return nil, fmt.Errorf("judge state: grids of %d and %d points, want %d", len(s.Errors.LogNorm), len(s.Latency.Slow.LogNorm), gridLen)
	case len(s.Latency.Canary) != histLen || len(s.Latency.Stable) != histLen:
		return nil, fmt.Errorf("judge state: histograms of %d and %d buckets, want %d", len(s.Latency.Canary), len(s.Latency.Stable), histLen)
	}
	j.st = cloneState(s)
	return j, nil
}

// Config is the judge's config, defaults applied.
func (j *Judge) Config() Config { return j.cfg }

// State returns a copy of the accumulated state.
func (j *Judge) State() State { return cloneState(j.st) }

// maxWindowCount bounds any count in a window: more is a counter that went
// backwards (Sub of a reset counter wraps around), not traffic.
const maxWindowCount = 1 << 40

// Add folds one window into every test. A window with an impossible count
// (a counter reset) or a histogram of another layout is refused whole,
// with an error, and changes nothing. Errors beyond requests are capped at
// the requests.
func (j *Judge) Add(w Window) error {
	if err := checkWindow(w); err != nil {
		return err
	}
	st := &j.st
	st.Windows++
	nc, ns := w.Canary.Requests, w.Stable.Requests
	kc, ks := min(w.Canary.Errors, nc), min(w.Stable.Errors, ns)
	alphaErr, alphaSlow, alphaDist := j.cfg.alphas()

	st.Budget.add(nc, ns, ks, st.StableRequests, st.StableFailures)
	st.CanaryRequests = satAdd(st.CanaryRequests, nc)
	st.StableRequests = satAdd(st.StableRequests, ns)
	st.CanaryFailures = satAdd(st.CanaryFailures, kc)
	st.StableFailures = satAdd(st.StableFailures, ks)
	if b := j.cfg.MaxCanaryFailures; b > 0 && st.Budget.ExhaustedAt == 0 && float64(st.CanaryFailures)-st.Budget.Expected >= b {
		st.Budget.ExhaustedAt = st.Windows
	}

	st.Errors.add(j.g, st.Windows, nc, ns, kc, ks, alphaErr, &j.ll)
	if !j.cfg.Latency.Disabled && w.Canary.Buckets != nil && w.Stable.Buckets != nil {
		j.addLatency(w, alphaSlow, alphaDist)
	}
	return nil
}

func (j *Judge) addLatency(w Window, alphaSlow, alphaDist float64) {
	l := &j.st.Latency
	l.ThresholdBucket = thresholdBucket(j.cfg.Latency, l.Stable)
	if b := l.ThresholdBucket; b >= 0 {
		sc, nc := slowCount(w.Canary.Buckets, b)
		ss, ns := slowCount(w.Stable.Buckets, b)
		l.Slow.add(j.g, j.st.Windows, nc, ns, sc, ss, alphaSlow, &j.ll)
	}
	for i := range l.Canary {
		l.Canary[i] = satAdd(l.Canary[i], w.Canary.Buckets[i])
		l.Stable[i] = satAdd(l.Stable[i], w.Stable.Buckets[i])
	}
	l.Distribution.look(l.Canary, l.Stable, alphaDist, j.st.Windows)
}

func checkWindow(w Window) error {
	var errs []error
	for _, v := range []struct {
		name string
		c    metrics.Counts
	}{{"canary", w.Canary}, {"stable", w.Stable}} {
		if v.c.Requests > maxWindowCount || v.c.Errors > maxWindowCount {
			errs = append(errs, fmt.Errorf("window: %s counts %d requests and %d errors, more than a window can hold (a counter reset?)", v.name, v.c.Requests, v.c.Errors))
		}
		if v.c.Buckets == nil {
			continue
		}
		if len(v.c.Buckets) != histLen {
			errs = append(errs, fmt.Errorf("window: %s histogram has %d buckets, want %d (metrics.Buckets and +Inf)", v.name, len(v.c.Buckets), histLen))
			continue
		}
		for _, n := range v.c.Buckets {
			if n > maxWindowCount {
				errs = append(errs, fmt.Errorf("window: %s histogram bucket counts %d, more than a window can hold (a counter reset?)", v.name, n))
				break
			}
		}
	}
	return errors.Join(errs...)
}

func cloneState(s State) State {
	c := s
	c.Errors.LogNorm = append([]float64(nil), s.Errors.LogNorm...)
	c.Latency.Slow.LogNorm = append([]float64(nil), s.Latency.Slow.LogNorm...)
	c.Latency.Canary = append([]uint64(nil), s.Latency.Canary...)
	c.Latency.Stable = append([]uint64(nil), s.Latency.Stable...)
	return c
}

// Failed is a cheap Decide for a caller that only needs to know whether the
// canary failed (a failure is final), and why, in Decide's order.
func (j *Judge) Failed() (Reason, bool) {
	switch st := &j.st; {
	case st.Budget.ExhaustedAt > 0:
		return ReasonBudget, true
	case st.Errors.RejectedAt > 0:
		return ReasonErrors, true
	case st.Latency.Slow.RejectedAt > 0 || st.Latency.Distribution.RejectedAt > 0:
		return ReasonLatency, true
	}
	return "", false
}
