package main

import (
	"fmt"
	"io"
	"slices"
)

// Summary is one row of the table: medians over the rounds.
type Summary struct {
	Target string  `json:"target"`
	Rounds int     `json:"rounds"`
	RPS    float64 `json:"rps"`
	// VsFledge is RPS divided by Fledge's RPS.
	VsFledge float64 `json:"throughputVsFledge"`
	// P50ms and P99ms are the latencies when saturated: in a closed loop
	// they follow from the throughput (connections / requests per second),
	// so they do not compare targets at equal load.
	P50ms float64 `json:"p50Ms"`
	P99ms float64 `json:"p99Ms"`
	// PacedRPS, PacedP50ms and PacedP99ms are the paced run's, at a load
	// equal for every target; AddedPacedP99ms is PacedP99ms less direct's
	// (0 for direct, or without direct).
	PacedRPS        float64 `json:"pacedRps"`
	PacedP50ms      float64 `json:"pacedP50Ms"`
	PacedP99ms      float64 `json:"pacedP99Ms"`
	AddedPacedP50ms float64 `json:"addedPacedP50Ms"`
	AddedPacedP99ms float64 `json:"addedPacedP99Ms"`
	// CPUus is the CPU time the proxy spent per request (the upstream's
	// for direct), in µs: other load on the machine disturbs it less than
	// throughput.
	CPUus float64 `json:"cpuMicrosPerRequest"`
	// CanaryShare is canary / (stable + canary) over all rounds; -1 for
	// direct, which has no split.
	CanaryShare float64 `json:"canaryShare"`
	// Errors counts non-2xx answers and socket errors over all rounds.
	Errors uint64 `json:"errors"`
}

// summarise makes one row per target, in the order targets first appear.
func summarise(samples []sample) []Summary {
	var order []string
	by := map[string][]sample{}
	for _, s := range samples {
		if _, ok := by[s.target]; !ok {
			order = append(order, s.target)
		}
		by[s.target] = append(by[s.target], s)
	}
	rows := make([]Summary, 0, len(order))
	for _, t := range order {
		rows = append(rows, row(t, by[t]))
	}
	direct, hasDirect := find(rows, "direct")
	fledge, hasFledge := find(rows, "fledge")
	for i := range rows {
		if hasDirect && rows[i].Target != "direct" {
			rows[i].AddedPacedP50ms = rows[i].PacedP50ms - direct.PacedP50ms
			rows[i].AddedPacedP99ms = rows[i].PacedP99ms - direct.PacedP99ms
		}
		if hasFledge && fledge.RPS > 0 {
			rows[i].VsFledge = rows[i].RPS / fledge.RPS
		}
	}
	return rows
}

func row(target string, ss []sample) Summary {
	med := func(f func(sample) float64) float64 {
		v := make([]float64, 0, len(ss))
		for _, s := range ss {
			v = append(v, f(s))
		}
		return median(v)
	}
	r := Summary{Target: target, Rounds: len(ss), CanaryShare: -1,
		RPS:        med(func(s sample) float64 { return s.loaded.rps }),
		P50ms:      med(func(s sample) float64 { return s.loaded.p50 }),
		P99ms:      med(func(s sample) float64 { return s.loaded.p99 }),
		PacedRPS:   med(func(s sample) float64 { return s.paced.rps }),
		PacedP50ms: med(func(s sample) float64 { return s.paced.p50 }),
		PacedP99ms: med(func(s sample) float64 { return s.paced.p99 }),
		CPUus:      med(sample.cpuPerRequest),
	}
	var stable, canary uint64
	for _, s := range ss {
		stable, canary = stable+s.stable, canary+s.canary
		r.Errors += s.loaded.errors + s.paced.errors
	}
	if target != "direct" {
		r.CanaryShare = float64(canary) / float64(max(stable+canary, 1))
	}
	return r
}

func find(rows []Summary, target string) (Summary, bool) {
	i := slices.IndexFunc(rows, func(r Summary) bool { return r.Target == target })
	if i < 0 {
		return Summary{}, false
	}
	return rows[i], true
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func printTable(w io.Writer, rows []Summary) {
	_, hasDirect := find(rows, "direct")
	fmt.Fprintln(w, "| proxy | requests/s | ÷ Fledge | CPU/request | p50 | p99 | paced: requests/s | paced: p50 / p99 | paced: added p50 / p99 | canary share | errors |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		added, share := "—", "—"
		if hasDirect && r.Target != "direct" {
			added = fmt.Sprintf("%+.3f / %+.3f ms", r.AddedPacedP50ms, r.AddedPacedP99ms)
		}
		if r.CanaryShare >= 0 {
			share = fmt.Sprintf("%.3f%%", 100*r.CanaryShare)
		}
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.1f µs | %.2f ms | %.2f ms | %.0f | %.3f / %.3f ms | %s | %s | %d |\n",
			r.Target, r.RPS, r.VsFledge, r.CPUus, r.P50ms, r.P99ms, r.PacedRPS, r.PacedP50ms, r.PacedP99ms, added, share, r.Errors)
	}
}

// printGoals says, for the lead, whether Fledge met its goals in this run.
func printGoals(w io.Writer, rows []Summary) {
	f, ok := find(rows, "fledge")
	if !ok {
		return
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintln(w)
	if c, ok := find(rows, "caddy"); ok {
		fmt.Fprintf(w, "- Fledge throughput >= Caddy: %s (%.0f vs %.0f req/s, ×%.2f)\n", verdict(f.RPS >= c.RPS), f.RPS, c.RPS, f.RPS/c.RPS)
	}
	if n, ok := find(rows, "nginx"); ok {
		fmt.Fprintf(w, "- Fledge throughput >= 0.7 × nginx: %s (%.0f vs %.0f req/s, ×%.2f)\n", verdict(f.RPS >= 0.7*n.RPS), f.RPS, n.RPS, f.RPS/n.RPS)
	}
	if _, ok := find(rows, "direct"); ok {
		fmt.Fprintf(w, "- Fledge added p99 < 1 ms at the benchmark's connections, paced: %s (%+.3f ms; p50 %+.3f ms)\n",
			verdict(f.AddedPacedP99ms < 1), f.AddedPacedP99ms, f.AddedPacedP50ms)
	}
	exact := fmt.Sprintf("%.1f", 100*f.CanaryShare) == "10.0"
	fmt.Fprintf(w, "- Fledge canary share exactly 10.0%%: %s (%.3f%%)\n", verdict(exact), 100*f.CanaryShare)
}
