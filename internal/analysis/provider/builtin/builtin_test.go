package builtin

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/metrics"
)

// feed records n requests of a series, failed of them failing, each taking
// latency.
func feed(reg *metrics.Registry, rollout, rev, route string, n, failed int, latency time.Duration) {
	for i := 0; i < n; i++ {
		reg.Observe(metrics.Key{Rollout: rollout, Revision: rev, Route: route}, i < failed, latency)
	}
}

// builtin builds a metric of the builtin provider.
func builtin(b v1alpha1.BuiltinMetric) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "m", SuccessCondition: "result > 0", Provider: v1alpha1.MetricProvider{Builtin: &b}}
}

var set = &struct{}{}

func newProvider(t *testing.T, reg *metrics.Registry) provider.Provider {
	t.Helper()
	p, err := provider.New(ID, provider.Deps{Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMeasure(t *testing.T) {
	reg := metrics.New()
	p := newProvider(t, reg)
	start := time.Now()
	feed(reg, "web", "2", "GET /", 100, 5, 10*time.Millisecond)
	feed(reg, "web", "2", "POST /login", 50, 10, 50*time.Millisecond)
	feed(reg, "web", "2", "GET /login", 10, 0, 50*time.Millisecond)
	feed(reg, "web", "1", "GET /", 20, 0, 20*time.Millisecond)
	feed(reg, "shop", "2", "GET /", 1000, 1000, time.Second)
	env := provider.Env{Rollout: "web", CanaryRevision: "2", StableRevision: "1", WindowStart: start, Now: time.Now()}

	tests := map[string]struct {
		metric    v1alpha1.BuiltinMetric
		want      float64
		tolerance float64 // relative
		wantInMsg string
	}{
		"success rate": {
			metric: v1alpha1.BuiltinMetric{SuccessRate: set}, want: 1 - 15.0/160,
			wantInMsg: "145 of 160 requests to canary revision 2 succeeded in the last",
		},
		"error rate": {
			metric: v1alpha1.BuiltinMetric{ErrorRate: set}, want: 15.0 / 160,
			wantInMsg: "15 of 160 requests to canary revision 2 failed",
		},
		"canary by name": {metric: v1alpha1.BuiltinMetric{ErrorRate: set, Version: "canary"}, want: 15.0 / 160},
		"stable":         {metric: v1alpha1.BuiltinMetric{ErrorRate: set, Version: "stable"}, want: 0, wantInMsg: "stable revision 1"},
		"route with a method": {
			metric: v1alpha1.BuiltinMetric{SuccessRate: set, Route: "POST /login"}, want: 0.8,
			wantInMsg: "40 of 50 requests to canary revision 2 on route POST /login",
		},
		"route of any method": {metric: v1alpha1.BuiltinMetric{ErrorRate: set, Route: "/login"}, want: 10.0 / 60},
		"route nobody calls":  {metric: v1alpha1.BuiltinMetric{ErrorRate: set, Route: "/"}, want: 5.0 / 100},
		// Bucket bounds are 19% apart: a quantile is within 19% of the truth.
		"p50":         {metric: v1alpha1.BuiltinMetric{LatencyP50: set}, want: 0.010, tolerance: 0.19, wantInMsg: "p50 latency"},
		"p95":         {metric: v1alpha1.BuiltinMetric{LatencyP95: set}, want: 0.050, tolerance: 0.19},
		"p99":         {metric: v1alpha1.BuiltinMetric{LatencyP99: set}, want: 0.050, tolerance: 0.19},
		"p99 stable":  {metric: v1alpha1.BuiltinMetric{LatencyP99: set, Version: "stable"}, want: 0.020, tolerance: 0.19},
		"p50 of POST": {metric: v1alpha1.BuiltinMetric{LatencyP50: set, Route: "POST /login"}, want: 0.050, tolerance: 0.19},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := p.Measure(context.Background(), builtin(tc.metric), env)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := res.Value.(float64)
			if res.NoData || !ok {
				t.Fatalf("Measure = %+v, want a float64", res)
			}
			if math.Abs(v-tc.want) > tc.tolerance*tc.want+1e-12 {
				t.Errorf("value %v, want %v (±%v%%)", v, tc.want, tc.tolerance*100)
			}
			if !strings.Contains(res.Message, tc.wantInMsg) {
				t.Errorf("message %q does not contain %q", res.Message, tc.wantInMsg)
			}
		})
	}
}

func TestMeasureNoData(t *testing.T) {
	reg := metrics.New()
	p := newProvider(t, reg)
	feed(reg, "web", "2", "GET /", 10, 0, time.Millisecond)
	now := time.Now()
	tests := map[string]struct {
		metric v1alpha1.BuiltinMetric
		env    provider.Env
		want   string
	}{
		"a revision without requests": {
			metric: v1alpha1.BuiltinMetric{SuccessRate: set},
			env:    provider.Env{Rollout: "web", CanaryRevision: "3", StableRevision: "2", WindowStart: now.Add(-5 * time.Second), Now: now},
			want:   "no requests to canary revision 3 in the last 5s",
		},
		"a route without requests": {
			metric: v1alpha1.BuiltinMetric{SuccessRate: set, Route: "POST /login"},
			env:    provider.Env{Rollout: "web", CanaryRevision: "2", WindowStart: now.Add(-100 * time.Millisecond), Now: now},
			want:   "no requests to canary revision 2 on route POST /login in the last 100ms",
		},
		"another rollout": {
			metric: v1alpha1.BuiltinMetric{RequestRate: set},
			env:    provider.Env{Rollout: "shop", CanaryRevision: "2", WindowStart: now.Add(-time.Minute), Now: now},
			want:   "no requests to canary revision 2 in the last 1m0s",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := p.Measure(context.Background(), builtin(tc.metric), tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if !res.NoData || res.Value != nil || res.Message != tc.want {
				t.Errorf("Measure = %+v, want NoData %q", res, tc.want)
			}
		})
	}
}

func TestMeasureErrors(t *testing.T) {
	p := newProvider(t, metrics.New())
	env := provider.Env{Rollout: "web", CanaryRevision: "2", WindowStart: time.Now(), Now: time.Now()}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := map[string]struct {
		ctx    context.Context
		metric v1alpha1.Metric
		want   string
	}{
		"not a builtin metric": {metric: v1alpha1.Metric{Name: "m"}, want: "has no provider.builtin"},
		"no measure":           {metric: builtin(v1alpha1.BuiltinMetric{}), want: "sets no measure"},
		"no stable revision":   {metric: builtin(v1alpha1.BuiltinMetric{SuccessRate: set, Version: "stable"}), want: "no stable revision"},
		"unknown version":      {metric: builtin(v1alpha1.BuiltinMetric{SuccessRate: set, Version: "beta"}), want: `got "beta"`},
		"cancelled":            {ctx: cancelled, metric: builtin(v1alpha1.BuiltinMetric{SuccessRate: set}), want: "context canceled"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := p.Measure(ctx, tc.metric, env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Measure error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := provider.New(ID, provider.Deps{}); err == nil {
		t.Error("a provider without a registry: want an error")
	}
}

// TestWindowsTile checks that consecutive windows count each request once:
// the next window starts exactly where the last one ended.
func TestWindowsTile(t *testing.T) {
	reg := metrics.New()
	p := newProvider(t, reg)
	m := builtin(v1alpha1.BuiltinMetric{ErrorRate: set})
	env := provider.Env{Rollout: "web", CanaryRevision: "2", WindowStart: time.Now()}

	feed(reg, "web", "2", "GET /", 40, 40, time.Millisecond)
	env.Now = time.Now()
	first, err := p.Measure(context.Background(), m, env)
	if err != nil || first.Value != 1.0 {
		t.Fatalf("first window: %+v %v, want error rate 1", first, err)
	}

	feed(reg, "web", "2", "GET /", 30, 3, time.Millisecond)
	env.WindowStart, env.Now = env.Now, env.Now.Add(3*time.Second)
	second, err := p.Measure(context.Background(), m, env)
	if err != nil || second.Value != 0.1 {
		t.Fatalf("second window: %+v %v, want error rate 0.1 (3 of 30)", second, err)
	}
	rate, err := p.Measure(context.Background(), builtin(v1alpha1.BuiltinMetric{RequestRate: set}), env)
	if err != nil || rate.Value != 10.0 {
		t.Fatalf("request rate over the second window: %+v %v, want 30 requests / 3s", rate, err)
	}
}

// TestWindowFromASample checks that a window starting between two
// measurements starts at the sampler's snapshot just before it.
func TestWindowFromASample(t *testing.T) {
	reg := metrics.New()
	p := newProvider(t, reg)
	h := historyOf(reg)
	feed(reg, "web", "2", "GET /", 50, 50, time.Millisecond)
	tick := waitForSample(t, h, time.Now())
	feed(reg, "web", "2", "GET /", 50, 0, time.Millisecond)
	res, err := p.Measure(context.Background(), builtin(v1alpha1.BuiltinMetric{ErrorRate: set}),
		provider.Env{Rollout: "web", CanaryRevision: "2", WindowStart: tick, Now: time.Now()})
	if err != nil || res.Value != 0.0 || !strings.Contains(res.Message, "0 of 50 requests") {
		t.Fatalf("Measure = %+v %v, want the 50 requests after the sample, none failed", res, err)
	}
}

// waitForSample waits for the sampler to take a snapshot after t and
// returns its time.
func waitForSample(t *testing.T, h *history, after time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(5 * sampleEvery)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		last := h.snaps[len(h.snaps)-1]
		h.mu.Unlock()
		if last.at.After(after) && !last.mark {
			return last.at
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no sample within %v", 5*sampleEvery)
	return time.Time{}
}

// BenchmarkMeasure measures one window read over 2 revisions × 64 routes.
func BenchmarkMeasure(b *testing.B) {
	reg := metrics.New()
	p, err := New(provider.Deps{Metrics: reg})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for _, rev := range []string{"1", "2"} {
		for i := range metrics.MaxRoutes {
			feed(reg, "web", rev, "GET /"+strings.Repeat("x", i), 10, 1, time.Millisecond)
		}
	}
	m := builtin(v1alpha1.BuiltinMetric{LatencyP99: set})
	env := provider.Env{Rollout: "web", CanaryRevision: "2", WindowStart: start}
	for b.Loop() {
		env.Now = time.Now()
		if res, err := p.Measure(context.Background(), m, env); err != nil || res.NoData {
			b.Fatal(res, err)
		}
	}
}
