package prometheus

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/provider/prometheus/promtest"
	"fledge.dev/fledge/internal/metrics"
)

// The tests below run against a real Prometheus (package promtest) that
// scrapes a real metrics endpoint: the embedded proxy's registry, as the
// daemon exposes it, holding revision 1 (100 requests, none failed) and
// revision 2 (200 requests, 10 failed) of rollout "web".

var shared struct {
	once   sync.Once
	prom   *promtest.Server
	target *httptest.Server
	dataAt time.Time // when Prometheus first had the data
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.prom != nil {
		shared.prom.Stop()
		_ = os.RemoveAll(shared.prom.Dir)
	}
	if shared.target != nil {
		shared.target.Close()
	}
	os.Exit(code)
}

// metricsTarget serves a registry in the Prometheus text format.
func metricsTarget() (*httptest.Server, *metrics.Registry) {
	reg := metrics.New()
	for i := range 100 {
		reg.Observe(metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}, false, time.Duration(i)*time.Millisecond)
	}
	for i := range 200 {
		reg.Observe(metrics.Key{Rollout: "web", Revision: "2", Route: "GET /"}, i%20 == 0, time.Duration(i)*time.Millisecond)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		reg.WritePrometheus(w)
	}))
	return srv, reg
}

// sharedPrometheus is the package's Prometheus, started on first use, with
// the data scraped at least once.
func sharedPrometheus(t *testing.T) *promtest.Server {
	t.Helper()
	promtest.Binary(t)
	shared.once.Do(func() {
		shared.target, _ = metricsTarget()
		dir, err := os.MkdirTemp("", "fledge-prometheus-")
		if err != nil {
			t.Fatal(err)
		}
		shared.prom = promtest.Launch(t, dir, strings.TrimPrefix(shared.target.URL, "http://"))
		shared.dataAt = shared.prom.WaitFor(t, `fledge_requests_total{rollout="web"}`, 2)
	})
	if shared.prom == nil || shared.dataAt.IsZero() {
		t.Fatal("the shared Prometheus did not start (see the first test's failure)")
	}
	return shared.prom
}

// withDeadline is a context for one measurement, as the run gives it.
func withDeadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// measure takes one measurement of a Prometheus metric over the window
// [from, now].
func measure(t *testing.T, ctx context.Context, pm v1alpha1.PrometheusMetric, from time.Time) (provider.Result, error) {
	t.Helper()
	p, err := provider.New(ID, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Measure(ctx, metric(pm), provider.Env{Rollout: "web", CanaryRevision: "2", StableRevision: "1", WindowStart: from, Now: time.Now()})
}

func metric(pm v1alpha1.PrometheusMetric) v1alpha1.Metric {
	m := v1alpha1.Metric{Name: "m", SuccessCondition: "result < 0.1", Provider: v1alpha1.MetricProvider{Prometheus: &pm}}
	spec := v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{m}}
	spec.Default()
	return spec.Metrics[0]
}

const errorRate = `sum(fledge_request_errors_total{rollout="web",revision="2"}) / sum(fledge_requests_total{rollout="web",revision="2"})`

func TestInstantQuery(t *testing.T) {
	prom := sharedPrometheus(t)
	tests := map[string]struct {
		query     string
		condition string
		want      any
		phase     v1alpha1.AnalysisPhase
		wantInMsg string
	}{
		"one series is a number": {query: errorRate, condition: "result < 0.1", want: 0.05, phase: v1alpha1.AnalysisSuccessful,
			wantInMsg: "the query returned 1 series: {} 0.05"},
		"a failing canary": {query: errorRate, condition: "result < 0.01", want: 0.05, phase: v1alpha1.AnalysisFailed},
		"several series are a list": {query: `sort(sum by (revision) (fledge_requests_total{rollout="web"}))`, condition: "result[0] < result[1] && size(result) == 2",
			want: []any{100.0, 200.0}, phase: v1alpha1.AnalysisSuccessful, wantInMsg: `2 series: {revision="1"} 100, {revision="2"} 200`},
		"a scalar": {query: `scalar(sum(fledge_requests_total{rollout="web"}))`, condition: "result == 300.0", want: 300.0, phase: v1alpha1.AnalysisSuccessful},
		"a latency from the histogram": {query: `histogram_quantile(0.5, sum by (le) (fledge_request_duration_seconds_bucket{rollout="web",revision="2"}))`,
			condition: "result > 0.05 && result < 0.2", phase: v1alpha1.AnalysisSuccessful},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := measure(t, context.Background(), v1alpha1.PrometheusMetric{Address: prom.URL, Query: tc.query}, shared.dataAt)
			if err != nil {
				t.Fatal(err)
			}
			if res.NoData || tc.want != nil && !reflect.DeepEqual(res.Value, tc.want) {
				t.Fatalf("Measure = %+v, want %v", res, tc.want)
			}
			if !strings.Contains(res.Message, tc.wantInMsg) {
				t.Errorf("message %q does not contain %q", res.Message, tc.wantInMsg)
			}
			m := metric(v1alpha1.PrometheusMetric{Address: prom.URL, Query: tc.query})
			m.SuccessCondition = tc.condition
			if phase, why := analysis.Evaluate(m, res.Value); phase != tc.phase {
				t.Errorf("phase %s (%s), want %s", phase, why, tc.phase)
			}
		})
	}
}

// TestNoData checks that an empty or NaN answer has no data, so the
// measurement is Inconclusive whatever the condition.
func TestNoData(t *testing.T) {
	prom := sharedPrometheus(t)
	// The stable revision takes no traffic: its error ratio over a window
	// is 0/0. rate() needs two scrapes in the window: wait for them.
	const idleRatio = `sum(rate(fledge_request_errors_total{rollout="web",revision="1"}[10s])) / sum(rate(fledge_requests_total{rollout="web",revision="1"}[10s]))`
	prom.WaitFor(t, `rate(fledge_requests_total{rollout="web",revision="1"}[10s])`, 1)
	step := &v1alpha1.Duration{Duration: time.Second}
	tests := map[string]struct {
		pm        v1alpha1.PrometheusMetric
		wantInMsg string
	}{
		"no series":       {pm: v1alpha1.PrometheusMetric{Query: `fledge_requests_total{rollout="nope"}`}, wantInMsg: "no series (no data)"},
		"a NaN series":    {pm: v1alpha1.PrometheusMetric{Query: idleRatio}, wantInMsg: "series {} is NaN (no data)"},
		"a NaN scalar":    {pm: v1alpha1.PrometheusMetric{Query: "0/0"}, wantInMsg: "NaN (no data)"},
		"an empty range":  {pm: v1alpha1.PrometheusMetric{Query: `fledge_requests_total{rollout="nope"}`, RangeQuery: &v1alpha1.PrometheusRangeQuery{Step: step}}, wantInMsg: "no point"},
		"a range of NaNs": {pm: v1alpha1.PrometheusMetric{Query: idleRatio, RangeQuery: &v1alpha1.PrometheusRangeQuery{Step: step, Start: `now() - duration("1s")`}}, wantInMsg: "only NaN points"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.pm.Address = prom.URL
			res, err := measure(t, context.Background(), tc.pm, shared.dataAt)
			if err != nil {
				t.Fatal(err)
			}
			if !res.NoData || res.Value != nil || !strings.Contains(res.Message, tc.wantInMsg) {
				t.Fatalf("Measure = %+v, want no data with %q", res, tc.wantInMsg)
			}
			// Even a condition every number meets does not pass.
			m := metric(tc.pm)
			m.SuccessCondition = "true"
			if ms := analysis.Judge(m, res, nil, time.Now(), time.Now()); ms.Phase != v1alpha1.AnalysisInconclusive {
				t.Errorf("judged %s, want Inconclusive", ms.Phase)
			}
		})
	}
}

// TestRangeQuery reads the window since the data appeared, one point a
// second, until it holds three points.
func TestRangeQuery(t *testing.T) {
	prom := sharedPrometheus(t)
	pm := v1alpha1.PrometheusMetric{Address: prom.URL, Query: `sum(fledge_requests_total{rollout="web",revision="2"})`,
		RangeQuery: &v1alpha1.PrometheusRangeQuery{Step: &v1alpha1.Duration{Duration: time.Second}}}
	var res provider.Result
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		res, err = measure(t, context.Background(), pm, shared.dataAt.Add(-time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if l, _ := res.Value.([]any); len(l) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 3 points within 20s: %+v", res)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i, v := range res.Value.([]any) {
		if v != 200.0 {
			t.Errorf("point %d = %v, want 200", i, v)
		}
	}
	if !strings.Contains(res.Message, "points of 1 series") {
		t.Errorf("message %q", res.Message)
	}
	m := metric(pm)
	m.SuccessCondition = "result.all(x, x == 200.0)"
	if phase, why := analysis.Evaluate(m, res.Value); phase != v1alpha1.AnalysisSuccessful {
		t.Errorf("phase %s (%s)", phase, why)
	}
}

func TestQueryErrors(t *testing.T) {
	prom := sharedPrometheus(t)
	res, err := measure(t, context.Background(), v1alpha1.PrometheusMetric{Address: prom.URL, Query: "sum(("}, shared.dataAt)
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request: bad_data:") {
		t.Errorf("a query that does not parse: %+v %v, want Prometheus' bad_data error", res, err)
	}
	res, err = measure(t, context.Background(), v1alpha1.PrometheusMetric{Address: prom.URL + "/nothing", Query: "up"}, shared.dataAt)
	if err == nil || !strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("a wrong address: %+v %v, want 404", res, err)
	}
}

// frontProxy puts a reverse proxy in front of the real Prometheus: the
// checks of a gateway (authentication, a path prefix, TLS, delay).
func frontProxy(prom *promtest.Server, check func(w http.ResponseWriter, r *http.Request) bool) http.Handler {
	target, _ := url.Parse(prom.URL)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if check(w, r) {
			rp.ServeHTTP(w, r)
		}
	})
}

func TestHeadersAndPrefix(t *testing.T) {
	prom := sharedPrometheus(t)
	gateway := httptest.NewServer(http.StripPrefix("/prom", frontProxy(prom, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("X-Scope-OrgID") != "team-a" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return false
		}
		return true
	})))
	defer gateway.Close()
	pm := v1alpha1.PrometheusMetric{Address: gateway.URL + "/prom/", Query: errorRate}
	if _, err := measure(t, context.Background(), pm, shared.dataAt); err == nil || !strings.Contains(err.Error(), "401 Unauthorized: unauthorized") {
		t.Errorf("without headers: %v, want 401", err)
	}
	pm.Headers = []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer s3cret"}, {Key: "X-Scope-OrgID", Value: "team-a"}}
	res, err := measure(t, context.Background(), pm, shared.dataAt)
	if err != nil || res.Value != 0.05 {
		t.Errorf("with headers: %+v %v, want 0.05", res, err)
	}
}

// TestGetFallback puts Prometheus behind a gateway that only lets GET
// through: the query is sent again as a GET.
func TestGetFallback(t *testing.T) {
	prom := sharedPrometheus(t)
	var posts, gets atomic.Int32
	gateway := httptest.NewServer(frontProxy(prom, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet {
			posts.Add(1)
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return false
		}
		gets.Add(1)
		return true
	}))
	defer gateway.Close()
	res, err := measure(t, context.Background(), v1alpha1.PrometheusMetric{Address: gateway.URL, Query: errorRate}, shared.dataAt)
	if err != nil || res.Value != 0.05 || posts.Load() != 1 || gets.Load() != 1 {
		t.Errorf("Measure = %+v, %v after %d POST and %d GET; want 0.05 after one of each", res, err, posts.Load(), gets.Load())
	}
}

func TestTLS(t *testing.T) {
	prom := sharedPrometheus(t)
	gateway := httptest.NewUnstartedServer(frontProxy(prom, func(http.ResponseWriter, *http.Request) bool { return true }))
	gateway.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	gateway.StartTLS()
	defer gateway.Close()
	pm := v1alpha1.PrometheusMetric{Address: gateway.URL, Query: errorRate}
	if _, err := measure(t, context.Background(), pm, shared.dataAt); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a self-signed certificate: %v, want a certificate error", err)
	}
	pm.Insecure = true
	if res, err := measure(t, context.Background(), pm, shared.dataAt); err != nil || res.Value != 0.05 {
		t.Errorf("insecure: %+v %v, want 0.05", res, err)
	}
}

// TestTimeout puts a slow gateway in front of Prometheus: the query's
// timeout, or the measurement's own limit when shorter, makes it an error,
// which is never a success.
func TestTimeout(t *testing.T) {
	prom := sharedPrometheus(t)
	const delay = 5 * time.Second
	slow := httptest.NewServer(frontProxy(prom, func(w http.ResponseWriter, r *http.Request) bool {
		// Read the query first: the server only notices that the client
		// gave up once the body is read.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-time.After(delay):
			return true
		case <-r.Context().Done():
			return false
		}
	}))
	defer slow.Close()
	tests := map[string]struct {
		timeout, limit time.Duration
		wantInMsg      string
	}{
		"the metric's timeout":       {timeout: 300 * time.Millisecond, limit: time.Minute, wantInMsg: "no answer within 300ms (timeout)"},
		"the measurement's deadline": {timeout: time.Minute, limit: 300 * time.Millisecond, wantInMsg: "ms (timeout)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pm := v1alpha1.PrometheusMetric{Address: slow.URL, Query: errorRate, Timeout: &v1alpha1.Duration{Duration: tc.timeout}}
			start := time.Now()
			res, err := measure(t, withDeadline(t, tc.limit), pm, shared.dataAt)
			if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Fatalf("Measure = %+v, %v; want a timeout error containing %q", res, err, tc.wantInMsg)
			}
			if took := time.Since(start); took >= delay {
				t.Errorf("took %v: the gateway answered before the timeout did", took)
			}
			if ms := analysis.Judge(metric(pm), res, err, time.Now(), time.Now()); ms.Phase != v1alpha1.AnalysisError {
				t.Errorf("judged %s, want Error", ms.Phase)
			}
		})
	}
}

// TestPrometheusStopped stops a Prometheus mid-analysis: the measurements
// become errors, and the metric ends in Error (which pauses the rollout),
// never Successful.
func TestPrometheusStopped(t *testing.T) {
	promtest.Binary(t)
	target, _ := metricsTarget()
	defer target.Close()
	prom := promtest.Start(t, strings.TrimPrefix(target.URL, "http://"))
	from := prom.WaitFor(t, `fledge_requests_total{rollout="web"}`, 2)

	pm := v1alpha1.PrometheusMetric{Address: prom.URL, Query: errorRate}
	m := metric(pm)
	m.Interval = &v1alpha1.Duration{Duration: time.Second}
	spec := v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}, Blocking: true}
	status := analysis.Assess(spec, v1alpha1.AnalysisRunStatus{}, time.Now())

	take := func() v1alpha1.Measurement {
		res, err := measure(t, context.Background(), pm, from)
		ms := analysis.Judge(m, res, err, time.Now(), time.Now())
		status.MetricResults[0].Measurements = append(status.MetricResults[0].Measurements, ms)
		status = analysis.Assess(spec, status, time.Now())
		return ms
	}
	if ms := take(); ms.Phase != v1alpha1.AnalysisSuccessful {
		t.Fatalf("before the stop: %+v, want Successful", ms)
	}
	prom.Stop()
	limit := v1alpha1.Int32(m.ConsecutiveErrorLimit)
	for i := int32(0); i <= limit; i++ {
		ms := take()
		if ms.Phase != v1alpha1.AnalysisError || !strings.Contains(ms.Message, "connection refused") {
			t.Fatalf("measurement %d after the stop: %s %q, want Error: connection refused", i+1, ms.Phase, ms.Message)
		}
	}
	if got := status.MetricResults[0].Phase; got != v1alpha1.AnalysisError || status.Phase != v1alpha1.AnalysisError {
		t.Errorf("after %d errors in a row: metric %s, run %s (%s), want Error", limit+1, got, status.Phase, status.Message)
	}
}
