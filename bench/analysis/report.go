package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// printTable writes one markdown row per case and judge.
func printTable(w io.Writer, cs []caseSpec, rows [][nRows][]result) {
	fmt.Fprintln(w, "| case | judge | rollback | promoted | undecided | time to decision: median / p90 | canary requests: median | failed canary requests: median / mean |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for c, spec := range cs {
		for r := range nRows {
			s := summarize(rows[c][r])
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s / %s | %s | %s / %.1f |\n",
				spec.name, rowNames[r], pct(s.rollback, s.n), pct(s.promote, s.n), pct(s.undecided, s.n),
				dur(s.timeMedian), dur(s.timeP90), count(s.requestsMedian), count(s.failuresMedian), s.failuresMean)
		}
	}
}

type summary struct {
	n, rollback, promote, undecided int
	// Times are over the runs that decided (NaN when none did); exposure
	// over all runs, until the decision or the end of the run.
	timeMedian, timeP90            float64
	requestsMedian, failuresMedian float64
	failuresMean                   float64
}

func summarize(rs []result) summary {
	s := summary{n: len(rs)}
	var times, reqs, fails []float64
	var sumFails float64
	for _, r := range rs {
		switch r.outcome {
		case rollback:
			s.rollback++
		case promote:
			s.promote++
		default:
			s.undecided++
		}
		if r.outcome != undecided {
			times = append(times, float64(r.at))
		}
		reqs = append(reqs, float64(r.canaryRequests))
		fails = append(fails, float64(r.canaryFailures))
		sumFails += float64(r.canaryFailures)
	}
	s.timeMedian, s.timeP90 = quantile(times, 0.5), quantile(times, 0.9)
	s.requestsMedian, s.failuresMedian = quantile(reqs, 0.5), quantile(fails, 0.5)
	s.failuresMean = sumFails / float64(max(1, len(rs)))
	return s
}

// quantile is the q-quantile of xs (the lower middle for an even median),
// NaN when empty.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

func pct(k, n int) string {
	if k == 0 {
		return "0"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(k)/float64(n))
}

func dur(sec float64) string {
	if math.IsNaN(sec) {
		return "—"
	}
	return (time.Duration(sec) * time.Second).String()
}

func count(v float64) string { return fmt.Sprintf("%.0f", v) }
