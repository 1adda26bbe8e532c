package main

import (
	"math/rand/v2"

	"fledge.dev/fledge/internal/analysis/stats"
)

// simulate runs one canary against the three judges on the same traffic,
// second by second, until all decided or the horizon.
func simulate(c caseSpec, cfg stats.Config, horizon int, seed, caseIdx, run uint64) [nRows]result {
	src := rand.NewPCG(seed, caseIdx<<32|run)
	rng := rand.New(src)
	tr := &traffic{
		rate: 200, share: 0.05,
		stable: version{errorRate: 0.001, latency: stableLatency},
		canary: version{errorRate: c.errorRate, latency: latencyOf(c)},
	}
	fl := newFledge(cfg)
	fg, ar := &flagger{}, &argo{}
	judges := []contender{fl, fg, ar}
	var e exposure
	t := 0
	for t < horizon {
		var stable, buckets, open bool
		for _, j := range judges {
			if j.done() {
				continue
			}
			open = true
			s, b := j.needs()
			stable, buckets = stable || s, buckets || b
		}
		if !open {
			break
		}
		t++
		w := tr.window(rng, src, stable, buckets)
		e.requests += w.Canary.Requests
		e.failures += w.Canary.Errors
		for _, j := range judges {
			if !j.done() {
				j.observe(t, w, e)
			}
		}
	}
	fl.finish(t, e)
	var out [nRows]result
	out[rowFledge] = fl.first
	out[rowFledgeWatch] = fl.fail
	out[rowFlagger] = orHorizon(fg.r, t, e)
	out[rowArgo] = orHorizon(ar.r, t, e)
	return out
}

// orHorizon is r, or "undecided at the end" when the judge never decided.
func orHorizon(r result, t int, e exposure) result {
	if r.outcome == undecided {
		return result{undecided, t, e.requests, e.failures}
	}
	return r
}

// The latency bucket samplers, built once.
var (
	stableLatency = newAlias(bucketed(lognormal))
	latencies     = map[string]*alias{}
)

func latencyOf(c caseSpec) *alias {
	return latencies[c.name]
}

func init() {
	for _, c := range cases() {
		latencies[c.name] = newAlias(bucketed(c.latency))
	}
}
