package builtin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/metrics"
)

// ID is the provider's name, the JSON name of MetricProvider.Builtin.
const ID = "builtin"

func init() { provider.Register(ID, New) }

// Provider measures versions from a metrics registry.
type Provider struct {
	reg  *metrics.Registry
	hist *history
}

var _ provider.Provider = (*Provider)(nil)

// New builds a provider over d.Metrics and starts sampling it (once per
// registry, see the package doc).
func New(d provider.Deps) (provider.Provider, error) {
	if d.Metrics == nil {
		return nil, errors.New("builtin provider: no metrics registry to read (Deps.Metrics is nil)")
	}
	return &Provider{reg: d.Metrics, hist: historyOf(d.Metrics)}, nil
}

// measure is one of BuiltinMetric's measures.
type measure struct {
	set   func(*v1alpha1.BuiltinMetric) bool
	value func(c metrics.Counts, seconds float64) float64
	// says tells what the value is, of whose requests.
	says func(c metrics.Counts, value float64, whose string) string
}

func quantile(q float64, name string) measure {
	return measure{
		value: func(c metrics.Counts, _ float64) float64 { return c.Quantile(q) },
		says: func(c metrics.Counts, v float64, whose string) string {
			return fmt.Sprintf("%s latency %.4gs over %d requests to %s", name, v, c.Requests, whose)
		},
	}
}

// measures lists the measures; exactly one is set in a valid metric.
var measures = func() []measure {
	p50, p95, p99 := quantile(0.50, "p50"), quantile(0.95, "p95"), quantile(0.99, "p99")
	p50.set = func(b *v1alpha1.BuiltinMetric) bool { return b.LatencyP50 != nil }
	p95.set = func(b *v1alpha1.BuiltinMetric) bool { return b.LatencyP95 != nil }
	p99.set = func(b *v1alpha1.BuiltinMetric) bool { return b.LatencyP99 != nil }
	return []measure{{
		set:   func(b *v1alpha1.BuiltinMetric) bool { return b.SuccessRate != nil },
		value: func(c metrics.Counts, _ float64) float64 { return 1 - float64(c.Errors)/float64(c.Requests) },
		says: func(c metrics.Counts, _ float64, whose string) string {
			return fmt.Sprintf("%d of %d requests to %s succeeded", c.Requests-c.Errors, c.Requests, whose)
		},
	}, {
		set:   func(b *v1alpha1.BuiltinMetric) bool { return b.ErrorRate != nil },
		value: func(c metrics.Counts, _ float64) float64 { return float64(c.Errors) / float64(c.Requests) },
		says: func(c metrics.Counts, _ float64, whose string) string {
			return fmt.Sprintf("%d of %d requests to %s failed", c.Errors, c.Requests, whose)
		},
	}, p50, p95, p99, {
		set:   func(b *v1alpha1.BuiltinMetric) bool { return b.RequestRate != nil },
		value: func(c metrics.Counts, seconds float64) float64 { return float64(c.Requests) / seconds },
		says: func(c metrics.Counts, v float64, whose string) string {
			return fmt.Sprintf("%d requests (%.4g/s) to %s", c.Requests, v, whose)
		},
	}}
}()

// Measure reads the window [env.WindowStart, env.Now] of the version's
// counters. A window without requests has no data.
func (p *Provider) Measure(ctx context.Context, m v1alpha1.Metric, env provider.Env) (provider.Result, error) {
	if err := ctx.Err(); err != nil {
		return provider.Result{}, err
	}
	b := m.Provider.Builtin
	if b == nil {
		return provider.Result{}, fmt.Errorf("builtin provider: metric %q has no provider.builtin", m.Name)
	}
	var ms *measure
	for i := range measures {
		if measures[i].set(b) {
			ms = &measures[i]
			break
		}
	}
	if ms == nil {
		return provider.Result{}, fmt.Errorf("builtin provider: metric %q sets no measure (successRate, errorRate, latencyP50, latencyP95, latencyP99 or requestRate)", m.Name)
	}
	version, rev, err := revision(b.Version, env)
	if err != nil {
		return provider.Result{}, fmt.Errorf("builtin provider: metric %q: %w", m.Name, err)
	}

	from, to := p.hist.window(p.reg, env.WindowStart, env.Now)
	c := sum(from, to, func(k metrics.Key) bool {
		return k.Rollout == env.Rollout && k.Revision == rev && routeMatches(b.Route, k.Route)
	})
	whose := fmt.Sprintf("%s revision %s", version, rev)
	if b.Route != "" {
		whose += " on route " + b.Route
	}
	when := "in the last " + human(env.Now.Sub(env.WindowStart))
	seconds := to.at.Sub(from.at).Seconds()
	if c.Requests == 0 || seconds <= 0 {
		return provider.Result{NoData: true, Message: fmt.Sprintf("no requests to %s %s", whose, when)}, nil
	}
	v := ms.value(c, seconds)
	return provider.Result{Value: v, Message: ms.says(c, v, whose) + " " + when}, nil
}

// revision is the revision a metric's version names.
func revision(version string, env provider.Env) (string, string, error) {
	var rev string
	switch version {
	case "", "canary":
		version, rev = "canary", env.CanaryRevision
	case "stable":
		rev = env.StableRevision
	default:
		return "", "", fmt.Errorf("version must be canary or stable, got %q", version)
	}
	if rev == "" {
		return "", "", fmt.Errorf("the rollout has no %s revision to measure", version)
	}
	return version, rev, nil
}

// routeMatches tells whether a series' route ("METHOD /path") is the one
// a metric names: "METHOD /path" exactly, or "/path" for any method.
func routeMatches(want, got string) bool {
	switch {
	case want == "" || want == got:
		return true
	case strings.HasPrefix(want, "/"):
		_, path, ok := strings.Cut(got, " ")
		return ok && path == want
	}
	return false
}

// human rounds a window's length for a message.
func human(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}
