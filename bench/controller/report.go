package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Goals of the issue: p99 of the controller's reaction, and its memory.
const (
	goalP99    = time.Second
	goalMemKiB = 300 * 1024
)

// report is one run's figures.
type report struct {
	n, namespaces, completed int
	create, setup, trigger   time.Duration
	spread                   time.Duration // the -spread asked for; 0: all at once
	cpuSetup, cpuCanary      time.Duration // the controller's CPU time (user + system) in each phase
	setupCalls, canaryCalls  sample
	hwm, rssSetup, rssEnd    int64 // KiB
	maxRSS                   int64 // KiB, sampled
	fig                      figures
	// steps is the machine from a tenth of the canaries available to the
	// last promotion: while the Rollouts stepped.
	steps   usage
	stepsOK bool
}

// histograms gives the quantiles of the time the Rollout controller's
// requests waited in its work queue and of its reconciles, from its own
// histograms (bucketed, so estimates, as Prometheus' histogram_quantile).
func histograms(s sample) string {
	q := func(h histogram) string {
		p50, ok := h.quantile(0.5)
		if !ok {
			return "none"
		}
		p99, _ := h.quantile(0.99)
		return ms(p50) + " / " + ms(p99)
	}
	return "queued " + q(s.queueTime) + "; reconciling " + q(s.reconcileTime)
}

func (r report) markdown() string {
	var b strings.Builder
	f := r.fig
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	dist := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "none"
		}
		return fmt.Sprintf("p50 %s, p99 %s, max %s (%d)", ms(quantile(ds, 0.5)), ms(quantile(ds, 0.99)), ms(quantile(ds, 1)), len(ds))
	}
	per := func(s sample) string {
		methods := make([]string, 0, len(s.requests))
		for m := range s.requests {
			if s.requests[m] > 0 {
				methods = append(methods, m)
			}
		}
		slices.Sort(methods)
		parts := make([]string, len(methods))
		for i, m := range methods {
			parts[i] = fmt.Sprintf("%s %.1f", m, s.requests[m]/float64(r.n))
		}
		return fmt.Sprintf("**%.1f** (%s); reconciles %.1f", s.total()/float64(r.n), strings.Join(parts, ", "), s.reconciles/float64(r.n))
	}
	fmt.Fprintf(&b, "\n| %d rollouts, canary 25/50/75/100 %% | value |\n| --- | --- |\n", r.n)
	row("namespaces", fmt.Sprint(r.namespaces))
	row("completed (new revision stable)", fmt.Sprintf("%d/%d", r.completed, r.n))
	row("wall time: first image change to last promotion", wall(f))
	wave := "all at once (a burst)"
	if r.spread > 0 {
		wave = "paced evenly over " + ms(r.spread) + " (a wave)"
	}
	row("image changes sent in", ms(r.trigger)+", "+wave)
	row("per rollout: image change to promotion", dist(f.canary))
	row("**controller reaction, step transitions**", dist(f.stepLatency)+" "+verdict(quantile(f.stepLatency, 0.99) < goalP99, "p99 < 1 s"))
	for _, c := range []string{"the image change", "a revision Deployment's status", "the HTTPRoute's weights", "its own previous write"} {
		if ds := f.byCause[c]; len(ds) > 0 {
			row("… step transitions after "+c, dist(ds))
		}
	}
	row("controller reaction, every status write", dist(f.writeLatency))
	row("… of which: queued / reconciling, p50 and p99 (controller's histograms)", histograms(r.canaryCalls))
	row("cluster: canary Deployment created to available", dist(f.ready))
	row("API requests per rollout, canary", per(r.canaryCalls))
	row("API requests per rollout, setup", per(r.setupCalls))
	row("**controller peak RSS (VmHWM)**", mib(r.hwm)+" "+verdict(r.hwm > 0 && r.hwm < goalMemKiB, "< 300 MiB"))
	row("controller CPU time: setup / canary (per rollout)", fmt.Sprintf("%.1f s / %.1f s (%.1f ms)",
		r.cpuSetup.Seconds(), r.cpuCanary.Seconds(), float64(r.cpuCanary.Microseconds())/1000/float64(r.n)))
	row("controller RSS: all Healthy / at the end / max sampled", mib(r.rssSetup)+" / "+mib(r.rssEnd)+" / "+mib(r.maxRSS))
	row("setup: objects created in / all Healthy in", ms(r.create)+" / "+ms(r.setup))
	if u := r.steps; r.stepsOK {
		row("machine while the Rollouts stepped (a tenth of the canaries available to the last promotion, "+ms(u.span)+")",
			fmt.Sprintf("CPU %.0f%% busy, of %.0f cores", 100*u.busy, u.cores))
		row("… CPU by process, in cores", byProcess(u))
		if u.apiBracketed && u.apiSpan > 0 {
			all, sec := u.apiReads+u.apiWrites, u.apiSpan.Seconds()
			row("… API server requests/s, reads / writes (all clients)",
				fmt.Sprintf("%.0f, %.0f / %.0f", all/sec, u.apiReads/sec, u.apiWrites/sec))
		}
	}
	b.WriteString("\nController reaction: for each Rollout status write, the time since the change just before it on\n" +
		"that rollout's timeline (the image change, a revision Deployment's status, the HTTPRoute's weights,\n" +
		"or the controller's previous write), all timestamped as the benchmark's watches deliver them. Step\n" +
		"transitions are the writes that change the step, the weight, the phase or a revision. It includes\n" +
		"the controller's own 100 ms requeue when a reconcile's last pass moved the router.\n")
	return b.String()
}

// byProcess lists the processes by the cores they used, the busiest first.
func byProcess(u usage) string {
	names := make([]string, 0, len(u.cpu))
	for n := range u.cpu {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return int(u.cpu[b] - u.cpu[a]) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.2f", n, u.cpu[n].Seconds()/u.span.Seconds())
	}
	return strings.Join(parts, ", ")
}

func wall(f figures) string {
	if f.first.IsZero() || f.last.IsZero() {
		return "n/a"
	}
	return ms(f.last.Sub(f.first))
}

func verdict(ok bool, goal string) string {
	if ok {
		return "(goal " + goal + ": met)"
	}
	return "(goal " + goal + ": **missed**)"
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
}

func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }
