package main

import (
	"fledge.dev/fledge/internal/analysis/stats"
	"fledge.dev/fledge/internal/metrics"
)

// outcome is how a judge ended a run.
type outcome int

const (
	undecided outcome = iota
	rollback
	promote
)

// result is one judge's decision in one run, with the canary's exposure
// until then.
type result struct {
	outcome        outcome
	at             int // seconds; the horizon when undecided
	canaryRequests uint64
	canaryFailures uint64
}

// exposure is the canary's cumulative traffic, updated every second.
type exposure struct{ requests, failures uint64 }

// contender is a judge watching the same traffic.
type contender interface {
	// observe sees the window that ended at second t.
	observe(t int, w stats.Window, e exposure)
	// done says the judge has nothing more to watch.
	done() bool
	// needs says what the judge still reads: stable's counts, histograms.
	needs() (stable, buckets bool)
}

// fledge is the judge in internal/analysis/stats, checked every second.
// Its first Pass is a promotion (first); it keeps checking after it until
// a Fail or the horizon for the "1 h watch" row (fail).
type fledge struct {
	j           *stats.Judge
	first, fail result
	passed      bool
}

func newFledge(cfg stats.Config) *fledge {
	j, err := stats.New(cfg)
	if err != nil {
		panic(err)
	}
	return &fledge{j: j}
}

func (f *fledge) observe(t int, w stats.Window, e exposure) {
	if err := f.j.Add(w); err != nil {
		panic(err)
	}
	if _, failed := f.j.Failed(); failed {
		f.fail = result{rollback, t, e.requests, e.failures}
		if !f.passed {
			f.first = f.fail
		}
		return
	}
	if !f.passed && f.j.Decide().Verdict == stats.Pass {
		f.passed = true
		f.first = result{promote, t, e.requests, e.failures}
	}
}

func (f *fledge) done() bool          { return f.fail.outcome != undecided }
func (f *fledge) needs() (bool, bool) { return true, true }

// finish closes the run at second t: a judge that never failed is
// undecided in the watch, and in the first row unless it passed.
func (f *fledge) finish(t int, e exposure) {
	if f.fail.outcome == undecided {
		f.fail = result{undecided, t, e.requests, e.failures}
	}
	if f.first.outcome == undecided {
		f.first = f.fail
	}
}

// flagger is Flagger's tutorial analysis (docs.flagger.app, Istio
// progressive delivery): every interval of 1m, request-success-rate over
// the last 1m must be >= 99% and request-duration (p99 over the last 30s)
// <= 500 ms; each interval with a failing metric is a failed check, and the
// canary is rolled back when failed checks reach threshold 5. With
// stepWeight 10 and maxWeight 50 it is promoted after five passing checks
// raise the weight to 50 and a sixth passes. Counted in Flagger's favour:
// the rollback at the fifth failed check (Flagger acts at the next
// interval), and the weight changes do not change the traffic (the same 5%
// for every judge here).
type flagger struct {
	minute, half metrics.Counts // canary over the last 60 s and 30 s
	failed, ok   int
	r            result
	isDone       bool
}

func (f *flagger) observe(t int, w stats.Window, e exposure) {
	f.minute = f.minute.Add(w.Canary)
	if t%60 > 30 || t%60 == 0 {
		f.half = f.half.Add(w.Canary)
	}
	if t%60 != 0 {
		return
	}
	pass := f.minute.Requests > 0 &&
		100*float64(f.minute.Requests-f.minute.Errors)/float64(f.minute.Requests) >= 99 &&
		f.half.Quantile(0.99) <= 0.5
	f.minute, f.half = metrics.Counts{}, metrics.Counts{}
	if pass {
		f.ok++
	} else {
		f.failed++
	}
	switch {
	case f.failed >= 5:
		f.r, f.isDone = result{rollback, t, e.requests, e.failures}, true
	case f.ok >= 6:
		f.r, f.isDone = result{promote, t, e.requests, e.failures}, true
	}
}

func (f *flagger) done() bool          { return f.isDone }
func (f *flagger) needs() (bool, bool) { return false, true }

// argo is the background analysis of Argo Rollouts' documentation
// ("Analysis & Progressive Delivery"): the success-rate template (interval
// 5m, successCondition result >= 0.95, failureLimit 3) started at step 2
// (after setWeight 20 and a 10m pause), then steps of 10m up to 80%:
// promoted at 40 minutes unless the run failed first. Argo measures when
// the run starts and every interval after; the metric fails when failed
// measurements exceed failureLimit (the controller's rule: the fourth).
// The query is modelled as the canary's success rate over the last 5
// minutes (the documented irate would read only the last two scrapes).
type argo struct {
	window metrics.Counts // canary over the last 5 minutes
	failed int
	r      result
	isDone bool
}

func (a *argo) observe(t int, w stats.Window, e exposure) {
	a.window = a.window.Add(w.Canary)
	if t%300 != 0 {
		return
	}
	if t >= 600 {
		n := a.window.Requests
		if n == 0 || float64(n-a.window.Errors)/float64(n) < 0.95 {
			a.failed++
		}
	}
	a.window = metrics.Counts{}
	switch {
	case a.failed > 3:
		a.r, a.isDone = result{rollback, t, e.requests, e.failures}, true
	case t >= 2400:
		a.r, a.isDone = result{promote, t, e.requests, e.failures}, true
	}
}

func (a *argo) done() bool          { return a.isDone }
func (a *argo) needs() (bool, bool) { return false, false }
