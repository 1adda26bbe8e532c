package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/provider/web/jsonpath"
)

// seen is what the test server received.
type seen struct {
	Method, Path, Query, ContentType, Auth, Tenant string
	Body                                           string
}

// server is a real HTTP server on loopback answering like a metrics
// endpoint, and recording each request.
func server(t *testing.T) (*httptest.Server, func() seen) {
	t.Helper()
	var mu sync.Mutex
	var last seen
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type"),
			Auth: r.Header.Get("Authorization"), Tenant: r.Header.Get("X-Tenant"), Body: string(body)}
		mu.Unlock()
		switch r.URL.Path {
		case "/status":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"data": {"successRate": 0.995, "ok": true, "p99": null, "version": "v2"},
				"routes": [{"path": "/", "errors": 0.001}, {"path": "/login", "errors": 0.2}], "none": []}`)
		case "/echo": // answers with what it was sent, as JSON
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "body": string(body), "auth": r.Header.Get("Authorization")})
		case "/private":
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			_, _ = io.WriteString(w, `{"ok": 1}`)
		case "/broken":
			http.Error(w, "upstream down", http.StatusServiceUnavailable)
		case "/html":
			_, _ = io.WriteString(w, "<html>hello</html>")
		case "/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
			_, _ = io.WriteString(w, `1`)
		case "/redirect":
			http.Redirect(w, r, "/status", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, func() seen { mu.Lock(); defer mu.Unlock(); return last }
}

func measure(t *testing.T, ctx context.Context, w v1alpha1.WebMetric) (provider.Result, error) {
	t.Helper()
	p, err := provider.New(ID, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Measure(ctx, metric(w), provider.Env{Now: time.Now()})
}

// metric is a defaulted web metric.
func metric(w v1alpha1.WebMetric) v1alpha1.Metric {
	spec := v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{Name: "m", SuccessCondition: "true", Provider: v1alpha1.MetricProvider{Web: &w}}}}
	spec.Default()
	return spec.Metrics[0]
}

func TestMeasure(t *testing.T) {
	srv, last := server(t)
	tests := map[string]struct {
		web       v1alpha1.WebMetric
		want      any
		condition string // judged Successful
		seen      seen
	}{
		"a number": {web: v1alpha1.WebMetric{URL: srv.URL + "/status", JSONPath: "{$.data.successRate}"}, want: 0.995, condition: "result >= 0.99",
			seen: seen{Method: "GET", Path: "/status"}},
		"a boolean":  {web: v1alpha1.WebMetric{URL: srv.URL + "/status", JSONPath: "$.data.ok"}, want: true, condition: "result"},
		"a string":   {web: v1alpha1.WebMetric{URL: srv.URL + "/status", JSONPath: "$.data.version"}, want: "v2", condition: `result == "v2"`},
		"an element": {web: v1alpha1.WebMetric{URL: srv.URL + "/status", JSONPath: "$.routes[-1].errors"}, want: 0.2, condition: "result > 0.1"},
		"a list": {web: v1alpha1.WebMetric{URL: srv.URL + "/status", JSONPath: "$.routes[*].errors"}, want: []any{0.001, 0.2},
			condition: "result.exists(e, e > 0.1)"},
		"an object": {web: v1alpha1.WebMetric{URL: srv.URL + "/status", JSONPath: "$.data"},
			want: map[string]any{"successRate": 0.995, "ok": true, "p99": nil, "version": "v2"}, condition: "result.ok && result.successRate > 0.99"},
		"the whole response by default": {web: v1alpha1.WebMetric{URL: srv.URL + "/echo?token=x"}, condition: `result.method == "GET"`,
			seen: seen{Method: "GET", Path: "/echo", Query: "token=x"}},
		"a POST body": {web: v1alpha1.WebMetric{URL: srv.URL + "/echo", Body: "a=1&b=2", Headers: []v1alpha1.WebMetricHeader{{Key: "Content-Type", Value: "application/x-www-form-urlencoded"}}},
			condition: `result.method == "POST" && result.body == "a=1&b=2"`,
			seen:      seen{Method: "POST", Path: "/echo", ContentType: "application/x-www-form-urlencoded", Body: "a=1&b=2"}},
		"a JSON body": {web: v1alpha1.WebMetric{URL: srv.URL + "/echo", Method: "PUT", JSONBody: json.RawMessage(`{"cart":[1,2]}`), JSONPath: "$.body"},
			want: `{"cart":[1,2]}`, condition: "true", seen: seen{Method: "PUT", Path: "/echo", ContentType: "application/json", Body: `{"cart":[1,2]}`}},
		"headers": {web: v1alpha1.WebMetric{URL: srv.URL + "/private", JSONPath: "$.ok", Headers: []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer s3cret"}, {Key: "X-Tenant", Value: "a"}}},
			want: 1.0, condition: "result == 1", seen: seen{Method: "GET", Path: "/private", Auth: "Bearer s3cret", Tenant: "a"}},
		"a redirect": {web: v1alpha1.WebMetric{URL: srv.URL + "/redirect", JSONPath: "$.data.ok"}, want: true, condition: "result"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := measure(t, context.Background(), tc.web)
			if err != nil {
				t.Fatal(err)
			}
			if res.NoData || tc.want != nil && !reflect.DeepEqual(res.Value, tc.want) {
				t.Fatalf("Measure = %+v, want %#v", res, tc.want)
			}
			if tc.seen != (seen{}) && last() != tc.seen {
				t.Errorf("the server saw %+v, want %+v", last(), tc.seen)
			}
			m := metric(tc.web)
			m.SuccessCondition = tc.condition
			if phase, why := analysis.Evaluate(m, res.Value); phase != v1alpha1.AnalysisSuccessful {
				t.Errorf("judged %s (%s)", phase, why)
			}
			if strings.Contains(res.Message, "token=") {
				t.Errorf("the message %q shows the query string", res.Message)
			}
		})
	}
}

func TestNoData(t *testing.T) {
	srv, _ := server(t)
	tests := map[string]struct{ path, want string }{
		"null":             {path: "$.data.p99", want: "GET " + srv.URL + "/status: $.data.p99 is null (no data)"},
		"an empty list":    {path: "$.none[*]", want: "$.none[*] matched nothing (no data)"},
		"wildcard nothing": {path: "$.routes[*].latency", want: "matched nothing (no data)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := v1alpha1.WebMetric{URL: srv.URL + "/status", JSONPath: tc.path}
			res, err := measure(t, context.Background(), w)
			if err != nil || !res.NoData || !strings.Contains(res.Message, tc.want) {
				t.Fatalf("Measure = %+v, %v; want no data: %s", res, err, tc.want)
			}
			if ms := analysis.Judge(metric(w), res, nil, time.Now(), time.Now()); ms.Phase != v1alpha1.AnalysisInconclusive {
				t.Errorf("judged %s, want Inconclusive", ms.Phase)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	srv, _ := server(t)
	tls := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"ok":true}`) }))
	tls.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	tls.StartTLS()
	defer tls.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := map[string]struct {
		web  v1alpha1.WebMetric
		want string
	}{
		"503":            {web: v1alpha1.WebMetric{URL: srv.URL + "/broken"}, want: "GET " + srv.URL + "/broken: 503 Service Unavailable: upstream down"},
		"401":            {web: v1alpha1.WebMetric{URL: srv.URL + "/private?key=hidden"}, want: "GET " + srv.URL + `/private: 401 Unauthorized: {"error":"unauthorized"}`},
		"404":            {web: v1alpha1.WebMetric{URL: srv.URL + "/nothing"}, want: "404 Not Found"},
		"not JSON":       {web: v1alpha1.WebMetric{URL: srv.URL + "/html"}, want: "the response is not JSON (invalid character '<' looking for beginning of value): <html>hello</html>"},
		"no such field":  {web: v1alpha1.WebMetric{URL: srv.URL + "/status", JSONPath: "$.data.errorRate"}, want: `JSONPath $.data.errorRate: at $.data: no field "errorRate"`},
		"bad JSONPath":   {web: v1alpha1.WebMetric{URL: srv.URL + "/status", JSONPath: "$..x"}, want: "recursive descent (..) is not supported"},
		"refused":        {web: v1alpha1.WebMetric{URL: closed.URL}, want: "connection refused"},
		"self-signed":    {web: v1alpha1.WebMetric{URL: tls.URL}, want: "certificate"},
		"a bad URL":      {web: v1alpha1.WebMetric{URL: "http://[::1"}, want: "missing ']' in host"},
		"a bad password": {web: v1alpha1.WebMetric{URL: "http://user:pw@" + strings.TrimPrefix(srv.URL, "http://") + "/broken"}, want: "http://user:xxxxx@"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := measure(t, context.Background(), tc.web)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Measure = %+v, %v; want an error containing %q", res, err, tc.want)
			}
			if strings.Contains(err.Error(), "hidden") || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("the error %q shows a secret", err)
			}
			if ms := analysis.Judge(metric(tc.web), res, err, time.Now(), time.Now()); ms.Phase != v1alpha1.AnalysisError {
				t.Errorf("judged %s, want Error", ms.Phase)
			}
		})
	}
	// The same server, trusted on request.
	res, err := measure(t, context.Background(), v1alpha1.WebMetric{URL: tls.URL, JSONPath: "$.ok", Insecure: true})
	if err != nil || res.Value != true {
		t.Errorf("insecure: %+v %v", res, err)
	}
}

func TestTimeout(t *testing.T) {
	srv, _ := server(t)
	tests := map[string]struct {
		seconds int64
		limit   time.Duration
		want    string
	}{
		"timeoutSeconds":             {seconds: 1, limit: time.Minute, want: "no answer within 1s (timeout)"},
		"the measurement's deadline": {seconds: 30, limit: 200 * time.Millisecond, want: "ms (timeout)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.limit)
			defer cancel()
			start := time.Now()
			_, err := measure(t, ctx, v1alpha1.WebMetric{URL: srv.URL + "/slow", TimeoutSeconds: tc.seconds})
			if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Measure error %v, want a timeout containing %q", err, tc.want)
			}
			if took := time.Since(start); took >= 5*time.Second {
				t.Errorf("took %v: the server answered before the timeout did", took)
			}
		})
	}
}

// TestPick checks the decoding of bodies without a server.
func TestPick(t *testing.T) {
	p, _ := jsonpath.Parse("$.a")
	res, err := pick(p, []byte(`{"a": 12345678901234567890}`), "GET x")
	if err != nil || res.Value != 12345678901234567890.0 {
		t.Errorf("a big number: %+v %v", res, err)
	}
	if _, err := pick(p, bytes.Repeat([]byte("{"), 3), "GET x"); err == nil {
		t.Error("truncated JSON accepted")
	}
}
