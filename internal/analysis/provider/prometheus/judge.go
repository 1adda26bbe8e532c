package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/metrics"
)

// JudgeVersions reads what the canary and the stable revision did over the
// window [env.WindowStart, env.Now] from the judge's Prometheus queries
// (v1alpha1.JudgePrometheus): each query is run per version at the
// window's end, and at its start unless the previous window of the same
// query ended there (then its reading is reused), and the window's counts
// are how much the counters grew between the two (see growth: a reset
// counts from zero). Both versions are read at the same two instants, so
// that they cover the same stretch of time as far as Prometheus' scrapes
// allow. A version without series has served nothing.
func (p *Provider) JudgeVersions(ctx context.Context, j v1alpha1.Judge, env provider.Env) (canary, stable metrics.Counts, err error) {
	jp := j.Prometheus
	switch {
	case jp == nil:
		return canary, stable, fmt.Errorf("prometheus provider: judge %q has no prometheus source", j.Name)
	case env.CanaryRevision == "":
		return canary, stable, errors.New("prometheus provider: the rollout has no canary revision to judge")
	case env.StableRevision == "":
		return canary, stable, errors.New("prometheus provider: the rollout has no stable revision to compare with")
	}
	timeout := v1alpha1.DefaultPrometheusTimeout
	if jp.Timeout != nil && jp.Timeout.Duration > 0 {
		timeout = jp.Timeout.Duration
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl).Round(time.Millisecond)
	}
	versions := []struct {
		name, revision string
		sel            string
	}{{"canary", env.CanaryRevision, ""}, {"stable", env.StableRevision, ""}}
	if s := jp.Selectors; s != nil {
		versions[0].sel, versions[1].sel = s.Canary, s.Stable
	}
	kinds := []struct{ name, query string }{{"requests", jp.Requests}, {"failures", jp.Failures}, {"latency", jp.Latency}}
	var reads [2][3]windowRead
	var wg sync.WaitGroup
	for vi, v := range versions {
		vars := map[string]string{
			v1alpha1.JudgeVarService:  env.Rollout + "-" + v.name,
			v1alpha1.JudgeVarRevision: v.revision,
			v1alpha1.JudgeVarVersion:  v.name,
			v1alpha1.JudgeVarRollout:  env.Rollout,
		}
		vars[v1alpha1.JudgeVarSelector] = expand(v.sel, vars)
		for ki, k := range kinds {
			if k.query == "" {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := &reads[vi][ki]
				r.query = expand(k.query, vars)
				r.cur, r.growth, r.err = p.window(ctx, jp, r.query, env, timeout)
				if r.err != nil {
					r.err = fmt.Errorf("%s of %s: %w", k.name, v.name, r.err)
				}
			}()
		}
	}
	wg.Wait()
	var errs []error
	for vi := range reads {
		for ki := range reads[vi] {
			errs = append(errs, reads[vi][ki].err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return canary, stable, fmt.Errorf("prometheus %s: %w", redacted(jp.Address), err)
	}
	counts, err := judgeCounts(j, reads)
	if err != nil {
		return canary, stable, fmt.Errorf("prometheus %s: %w", redacted(jp.Address), err)
	}
	return counts[0], counts[1], nil
}

// windowRead is one query of one version over the window.
type windowRead struct {
	query  string
	cur    reading
	growth map[string]float64
	err    error
}

// judgeCounts turns both versions' reads (requests, failures, latency)
// into their window's counts. The latency histograms are placed on the
// judge's grid with the bounds of both versions, so that both are placed
// alike.
func judgeCounts(j v1alpha1.Judge, reads [2][3]windowRead) ([2]metrics.Counts, error) {
	var out [2]metrics.Counts
	jp := j.Prometheus
	unit := 1.0
	if jp.LatencyUnit == v1alpha1.LatencyMilliseconds {
		unit = 1e-3
	}
	var place func(float64) int
	if jp.Latency != "" {
		var threshold float64
		if l := j.Latency; l != nil && l.Threshold != nil {
			threshold = l.Threshold.Seconds()
		}
		both := reading{}
		for vi := range reads {
			for k, p := range reads[vi][2].cur {
				both[k] = p
			}
		}
		place = placement(bounds(both, unit), threshold)
	}
	for vi := range reads {
		c := metrics.Counts{Requests: count(reads[vi][0].growth), Errors: count(reads[vi][1].growth)}
		if place != nil {
			h, err := histogram(reads[vi][2].cur, reads[vi][2].growth, unit, place)
			if err != nil {
				return out, fmt.Errorf("latency query %q: %w", oneLine(reads[vi][2].query), err)
			}
			c.Buckets = h
		}
		out[vi] = c
	}
	return out, nil
}

// expand fills in a query's per-version placeholders ({{service}}, ...).
func expand(query string, vars map[string]string) string {
	return v1alpha1.JudgeQueryVar.ReplaceAllStringFunc(query, func(ref string) string {
		if v, ok := vars[v1alpha1.JudgeQueryVar.FindStringSubmatch(ref)[1]]; ok {
			return v
		}
		return ref // validation names it; Prometheus will refuse it
	})
}

// window reads a query at the window's end and returns that reading and
// each series' growth since the window's start.
func (p *Provider) window(ctx context.Context, jp *v1alpha1.JudgePrometheus, query string, env provider.Env, timeout time.Duration) (reading, map[string]float64, error) {
	key := jp.Address + "\x00" + query
	prev, ok := p.readings.get(key, env.WindowStart)
	if !ok {
		var err error
		if prev, err = p.instant(ctx, jp, query, env.WindowStart, timeout); err != nil {
			return nil, nil, fmt.Errorf("at the window's start: %w", err)
		}
	}
	cur, err := p.instant(ctx, jp, query, env.Now, timeout)
	if err != nil {
		return nil, nil, err
	}
	p.readings.put(key, env.Now, cur)
	return cur, growth(prev, cur), nil
}

// instant runs an instant query at t.
func (p *Provider) instant(ctx context.Context, jp *v1alpha1.JudgePrometheus, query string, t time.Time, timeout time.Duration) (reading, error) {
	pm := &v1alpha1.PrometheusMetric{Address: jp.Address, Headers: jp.Headers, Insecure: jp.Insecure}
	form := url.Values{"query": {query}, "timeout": {seconds(timeout)}, "time": {timestamp(t)}}
	body, err := p.query(ctx, pm, "api/v1/query", form, timeout)
	if err != nil {
		return nil, err
	}
	r, err := readingOf(body)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", oneLine(query), err)
	}
	return r, nil
}

// readings remembers the last reading of each query, so that a window
// starting where the previous one ended needs one query, not two. It is
// only a saving: a window whose start is not remembered reads it.
type readings struct {
	mu sync.Mutex
	m  map[string]remembered
}

type remembered struct {
	at time.Time
	r  reading
}

// keepReadings is how long a reading is remembered: a run stopped or
// changed leaves its queries' readings behind.
const keepReadings = time.Hour

func (rs *readings) get(key string, at time.Time) (reading, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	e, ok := rs.m[key]
	if !ok || !e.at.Equal(at) {
		return nil, false
	}
	return e.r, true
}

func (rs *readings) put(key string, at time.Time, r reading) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.m == nil {
		rs.m = map[string]remembered{}
	}
	for k, e := range rs.m {
		if at.Sub(e.at) > keepReadings {
			delete(rs.m, k)
		}
	}
	rs.m[key] = remembered{at: at, r: r}
}
