package prometheus

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/provider/prometheus/promtest"
	"fledge.dev/fledge/internal/metrics"
)

// TestJudgeVersionsReadsTheGrowthBetweenTwoInstants runs a real
// Prometheus scraping a real exporter of per-Service counters and
// histograms, changes the counters between two instants (more requests, a
// first 503, a stable pod restarted) and checks the window's counts of
// both versions, then that the next window reuses the reading its start
// shares with the previous window's end.
func TestJudgeVersionsReadsTheGrowthBetweenTwoInstants(t *testing.T) {
	promtest.Binary(t)
	e := promtest.NewExporter(t)
	bounds := []float64{0.01, 0.1, 0.25, 0.5, 1}
	setHist := func(service string, cum ...float64) { // cumulative counts at bounds, then +Inf
		for i, b := range bounds {
			e.Set(fmt.Sprintf(`http_request_duration_seconds_bucket{service=%q,le="%g"}`, service, b), cum[i])
		}
		e.Set(fmt.Sprintf(`http_request_duration_seconds_bucket{service=%q,le="+Inf"}`, service), cum[len(bounds)])
	}
	e.Set(`http_requests_total{service="web-canary",code="200"}`, 100)
	e.Set(`http_requests_total{service="web-canary",code="500"}`, 5)
	e.Set(`http_requests_total{service="web-stable",code="200"}`, 1000)
	e.Set(`http_requests_total{service="other",code="500"}`, 7) // another Service: never counted
	setHist("web-canary", 10, 50, 100, 105, 105, 105)
	setHist("web-stable", 100, 900, 1000, 1000, 1000, 1000)
	prom := promtest.Start(t, e.Addr)
	t1 := prom.WaitFor(t, `http_requests_total{service="web-stable",code="200"} == 1000`, 1)

	e.Set(`http_requests_total{service="web-canary",code="200"}`, 150) // +50
	e.Set(`http_requests_total{service="web-canary",code="500"}`, 8)   // +3
	e.Set(`http_requests_total{service="web-canary",code="503"}`, 2)   // a new series: +2
	e.Set(`http_requests_total{service="web-stable",code="200"}`, 40)  // restarted: 40 since
	e.Set(`http_requests_total{service="other",code="500"}`, 70)
	// Canary: 55 more, of which 20 at ≤10ms, 10 at ≤100ms, 10 at ≤250ms,
	// 5 at ≤500ms, 5 at ≤1s, 5 above. Stable restarted: 40, all ≤100ms.
	setHist("web-canary", 30, 80, 140, 150, 155, 160)
	setHist("web-stable", 0, 40, 40, 40, 40, 40)
	t2 := prom.WaitFor(t, `http_requests_total{service="web-stable",code="200"} == 40 and on() http_request_duration_seconds_bucket{service="web-canary",le="+Inf"} == 160`, 1)

	var queries atomic.Int64
	u, _ := url.Parse(prom.URL)
	rp := httputil.NewSingleHostReverseProxy(u)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)

	j := v1alpha1.Judge{Name: "judge", Latency: &v1alpha1.JudgeLatency{Threshold: &v1alpha1.Duration{Duration: 250 * time.Millisecond}},
		Prometheus: &v1alpha1.JudgePrometheus{
			Address:   counting.URL,
			Requests:  `http_requests_total{service="{{service}}"}`,
			Failures:  `http_requests_total{ {{selector}}, code=~"5.."}`,
			Latency:   `sum by (le) (http_request_duration_seconds_bucket{service="{{ service }}"})`,
			Selectors: &v1alpha1.JudgeSelectors{Canary: `service="{{rollout}}-canary"`, Stable: `service="web-{{version}}"`},
		}}
	p, err := New(provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	jv := p.(*Provider)
	env := provider.Env{Rollout: "web", CanaryRevision: "2", StableRevision: "1", WindowStart: t1, Now: t2}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	canary, stable, err := jv.JudgeVersions(ctx, j, env)
	if err != nil {
		t.Fatal(err)
	}
	if canary.Requests != 55 || canary.Errors != 5 || stable.Requests != 40 || stable.Errors != 0 {
		t.Errorf("window: canary %d requests %d failed, stable %d and %d; want 55 and 5, 40 and 0",
			canary.Requests, canary.Errors, stable.Requests, stable.Errors)
	}
	// 250ms is a bound: slow means above it (grid buckets above 250ms's).
	cut := slowAbove(0.25)
	slow := func(c metrics.Counts) (n, total uint64) {
		for i, v := range c.Buckets {
			total += v
			if i > cut {
				n += v
			}
		}
		return n, total
	}
	if n, total := slow(canary); n != 15 || total != 55 {
		t.Errorf("canary: %d slow of %d in the histogram, want 15 of 55 (%v)", n, total, canary.Buckets)
	}
	if n, total := slow(stable); n != 0 || total != 40 {
		t.Errorf("stable: %d slow of %d in the histogram, want 0 of 40", n, total)
	}
	if got := queries.Load(); got != 12 {
		t.Errorf("first window: %d queries, want 12 (3 per version at each end)", got)
	}

	// The next window starts where this one ended: one query per kind and
	// version, and nothing grew.
	queries.Store(0)
	env.WindowStart, env.Now = t2, time.Now()
	canary, stable, err = jv.JudgeVersions(ctx, j, env)
	if err != nil {
		t.Fatal(err)
	}
	if canary.Requests != 0 || canary.Errors != 0 || stable.Requests != 0 {
		t.Errorf("second window: %+v %+v, want nothing", canary, stable)
	}
	if got := queries.Load(); got != 6 {
		t.Errorf("second window: %d queries, want 6 (the start reused)", got)
	}
}

// TestJudgeVersionsSaysWhatFailed checks the error of a query Prometheus
// refuses: it names the query's kind and version.
func TestJudgeVersionsSaysWhatFailed(t *testing.T) {
	prom := sharedPrometheus(t)
	p, _ := New(provider.Deps{})
	j := v1alpha1.Judge{Name: "judge", Prometheus: &v1alpha1.JudgePrometheus{
		Address: prom.URL, Requests: `fledge_requests_total{rollout="{{rollout}}"}`, Failures: `rate(`,
	}}
	now := time.Now()
	_, _, err := p.(*Provider).JudgeVersions(withDeadline(t, 10*time.Second), j,
		provider.Env{Rollout: "web", CanaryRevision: "2", StableRevision: "1", WindowStart: now.Add(-time.Second), Now: now})
	if err == nil || !strings.Contains(err.Error(), "failures of canary") || !strings.Contains(err.Error(), "failures of stable") ||
		!strings.Contains(err.Error(), "bad_data") {
		t.Fatalf("err = %v, want the failures query of both versions named, with Prometheus' bad_data", err)
	}
	_, _, err = p.(*Provider).JudgeVersions(withDeadline(t, 10*time.Second), j, provider.Env{Rollout: "web", CanaryRevision: "2"})
	if err == nil || !strings.Contains(err.Error(), "no stable revision") {
		t.Fatalf("err = %v, want no stable revision", err)
	}
}
