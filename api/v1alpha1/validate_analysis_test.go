package v1alpha1

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLoadProviders loads a spec using every external provider and template
// arguments, and checks the defaults the providers rely on.
func TestLoadProviders(t *testing.T) {
	rs, err := Load(readFile(t, "providers.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	r := rs[0]
	smoke := r.Spec.AnalysisTemplates[0].Metrics
	job, ready, checkout := smoke[0], smoke[1].Provider.Web, smoke[2].Provider.Web
	// The standalone template is defaulted on its own and copied in.
	var errs, rng *PrometheusMetric
	for _, tpl := range r.Spec.AnalysisTemplates {
		if tpl.Name == "http-errors" {
			errs, rng = tpl.Metrics[0].Provider.Prometheus, tpl.Metrics[1].Provider.Prometheus
		}
	}
	if errs == nil {
		t.Fatal("the http-errors template was not copied into the rollout")
	}
	checks := map[string]struct{ got, want any }{
		"job condition":         {job.SuccessCondition, DefaultJobSuccessCondition},
		"job timeout":           {job.Provider.Job.TimeoutSeconds, int64(30)},
		"web method":            {ready.Method, "GET"},
		"web timeout":           {ready.TimeoutSeconds, int64(DefaultWebTimeoutSeconds)},
		"web path kept":         {ready.JSONPath, "{$.ready}"},
		"web path default":      {checkout.JSONPath, DefaultJSONPath},
		"POST with a body":      {checkout.Method, "POST"},
		"json body":             {string(checkout.JSONBody), `{"cart":[1,2]}`},
		"prometheus timeout":    {errs.Timeout.Duration, 5 * time.Second},
		"prometheus default":    {rng.Timeout.Duration, DefaultPrometheusTimeout},
		"header":                {errs.Headers[0].Value, "Bearer {{args.token}}"},
		"range start kept":      {rng.RangeQuery.Start, `now() - duration("10m")`},
		"range end default":     {rng.RangeQuery.End, DefaultRangeEnd},
		"range step":            {rng.RangeQuery.Step.Duration, time.Minute},
		"insecure":              {rng.Insecure, true},
		"condition not touched": {r.Spec.AnalysisTemplates[1].Metrics[0].SuccessCondition, "result < {{args.max-error-rate}}"},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	// Defaulting twice (the run defaults its resolved metrics) changes nothing.
	before, _ := json.Marshal(r.Spec.AnalysisTemplates)
	for i := range r.Spec.AnalysisTemplates {
		r.Spec.AnalysisTemplates[i].Default()
	}
	if after, _ := json.Marshal(r.Spec.AnalysisTemplates); string(after) != string(before) {
		t.Errorf("Default is not idempotent:\n%s\n%s", before, after)
	}
	// A range query without bounds covers the measured window.
	rq := &PrometheusRangeQuery{Step: &Duration{time.Second}}
	m := Metric{Provider: MetricProvider{Prometheus: &PrometheusMetric{RangeQuery: rq}}}
	defaultProviders(&m)
	if rq.Start != DefaultRangeStart || rq.End != DefaultRangeEnd {
		t.Errorf("range defaults %q, %q", rq.Start, rq.End)
	}
}

// template is a valid AnalysisTemplate with one metric of the provider p,
// after mutate, defaulted.
func providerTemplate(p MetricProvider, mutate func(*AnalysisTemplate)) *AnalysisTemplate {
	tpl := &AnalysisTemplate{Spec: AnalysisTemplateSpec{Metrics: []Metric{{
		Name: "m", SuccessCondition: "result > 0", Provider: p,
	}}}}
	tpl.APIVersion, tpl.Kind, tpl.Name = APIVersion, KindTemplate, "t"
	if mutate != nil {
		mutate(tpl)
	}
	tpl.Spec.Default()
	return tpl
}

func promMetric() MetricProvider {
	return MetricProvider{Prometheus: &PrometheusMetric{Address: "http://127.0.0.1:9090", Query: "up"}}
}

func webMetric() MetricProvider {
	return MetricProvider{Web: &WebMetric{URL: "http://127.0.0.1:8080/status", JSONPath: "$.ok"}}
}

func jobMetric() MetricProvider {
	return MetricProvider{Job: &JobMetric{Command: []string{"true"}}}
}

func str(s string) *string { return &s }

// TestValidateProviders breaks one field of each provider per case and
// expects the one message that names it.
func TestValidateProviders(t *testing.T) {
	const mp = "spec.metrics[0]."
	const pp = mp + "provider."
	prom := func(f func(*PrometheusMetric)) *AnalysisTemplate {
		p := promMetric()
		f(p.Prometheus)
		return providerTemplate(p, nil)
	}
	web := func(f func(*WebMetric)) *AnalysisTemplate {
		p := webMetric()
		f(p.Web)
		return providerTemplate(p, nil)
	}
	job := func(f func(*JobMetric)) *AnalysisTemplate {
		p := jobMetric()
		f(p.Job)
		return providerTemplate(p, nil)
	}
	withArgs := func(p MetricProvider, args []Argument, f func(*Metric)) *AnalysisTemplate {
		return providerTemplate(p, func(t *AnalysisTemplate) {
			t.Spec.Args = args
			f(&t.Spec.Metrics[0])
		})
	}
	tests := map[string]struct {
		tpl  *AnalysisTemplate
		want string // empty: valid
	}{
		"prometheus":     {tpl: prom(func(*PrometheusMetric) {})},
		"web":            {tpl: web(func(*WebMetric) {})},
		"job":            {tpl: job(func(*JobMetric) {})},
		"two providers":  {tpl: providerTemplate(MetricProvider{Web: webMetric().Web, Job: jobMetric().Job}, nil), want: mp + "provider: must set exactly one of builtin, prometheus, web or job, got web and job"},
		"no address":     {tpl: prom(func(p *PrometheusMetric) { p.Address = "" }), want: pp + "prometheus.address: required"},
		"address scheme": {tpl: prom(func(p *PrometheusMetric) { p.Address = "127.0.0.1:9090" }), want: pp + `prometheus.address: must be an http or https URL, e.g. "http://127.0.0.1:9090", got "127.0.0.1:9090"`},
		"address host":   {tpl: prom(func(p *PrometheusMetric) { p.Address = "http:///api" }), want: pp + `prometheus.address: must name a host, e.g. "http://127.0.0.1:9090", got "http:///api"`},
		"no query":       {tpl: prom(func(p *PrometheusMetric) { p.Query = "" }), want: pp + "prometheus.query: required"},
		"zero timeout":   {tpl: prom(func(p *PrometheusMetric) { p.Timeout = &Duration{} }), want: pp + "prometheus.timeout: must be positive, got 0s"},
		"header key":     {tpl: prom(func(p *PrometheusMetric) { p.Headers = []WebMetricHeader{{Key: "Bad Key", Value: "x"}} }), want: pp + `prometheus.headers[0].key: must be a valid HTTP header name, got "Bad Key"`},
		"no header key":  {tpl: prom(func(p *PrometheusMetric) { p.Headers = []WebMetricHeader{{Value: "x"}} }), want: pp + "prometheus.headers[0].key: required"},
		"header value":   {tpl: prom(func(p *PrometheusMetric) { p.Headers = []WebMetricHeader{{Key: "X", Value: "a\r\nInjected: 1"}} }), want: pp + "prometheus.headers[0].value: must not contain a line break or NUL"},
		"no step":        {tpl: prom(func(p *PrometheusMetric) { p.RangeQuery = &PrometheusRangeQuery{} }), want: pp + `prometheus.rangeQuery.step: required: the time between the points of the range, e.g. "15s"`},
		"negative step": {tpl: prom(func(p *PrometheusMetric) { p.RangeQuery = &PrometheusRangeQuery{Step: &Duration{-time.Second}} }),
			want: pp + "prometheus.rangeQuery.step: must be positive, got -1s"},
		"start not CEL": {tpl: prom(func(p *PrometheusMetric) {
			p.RangeQuery = &PrometheusRangeQuery{Step: &Duration{time.Second}, Start: "now() -"}
		}),
			want: pp + "prometheus.rangeQuery.start: invalid CEL expression: 1:8: Syntax error"},
		"end not a time": {tpl: prom(func(p *PrometheusMetric) {
			p.RangeQuery = &PrometheusRangeQuery{Step: &Duration{time.Second}, End: `duration("5m")`}
		}), want: pp + `prometheus.rangeQuery.end: must yield a timestamp, such as now() - duration("5m"), got google.protobuf.Duration`},
		"Argo's date()": {tpl: prom(func(p *PrometheusMetric) {
			p.RangeQuery = &PrometheusRangeQuery{Step: &Duration{time.Second}, Start: `date("2023-08-14")`}
		}),
			want: pp + "prometheus.rangeQuery.start: invalid CEL expression: 1:5: undeclared reference to 'date'"},
		"fixed start": {tpl: prom(func(p *PrometheusMetric) {
			p.RangeQuery = &PrometheusRangeQuery{Step: &Duration{time.Second}, Start: `timestamp("2026-01-01T00:00:00Z")`, End: `windowStart() + duration("1h")`}
		})},

		"no url":          {tpl: web(func(w *WebMetric) { w.URL = "" }), want: pp + "web.url: required"},
		"ftp url":         {tpl: web(func(w *WebMetric) { w.URL = "ftp://host/x" }), want: pp + `web.url: must be an http or https URL, e.g. "http://127.0.0.1:9090", got "ftp://host/x"`},
		"bad url":         {tpl: web(func(w *WebMetric) { w.URL = "http://[::1" }), want: pp + `web.url: must be an http or https URL: parse "http://[::1": missing ']' in host`},
		"DELETE":          {tpl: web(func(w *WebMetric) { w.Method = "DELETE" }), want: pp + `web.method: must be GET, POST or PUT, got "DELETE"`},
		"GET with a body": {tpl: web(func(w *WebMetric) { w.Method, w.Body = "GET", "x" }), want: pp + "web.method: GET sends no body: use POST or PUT with body or jsonBody"},
		"PUT with a body": {tpl: web(func(w *WebMetric) { w.Method, w.JSONBody = "PUT", json.RawMessage(`{"a":1}`) })},
		"two bodies": {tpl: web(func(w *WebMetric) { w.Body, w.JSONBody = "x", json.RawMessage(`{}`) }),
			want: pp + "web: must set only one of body or jsonBody, got both"},
		"negative timeout": {tpl: web(func(w *WebMetric) { w.TimeoutSeconds = -1 }), want: pp + "web.timeoutSeconds: must be at least 1, got -1"},
		"bad JSONPath":     {tpl: web(func(w *WebMetric) { w.JSONPath = "$..x" }), want: pp + `web.jsonPath: JSONPath "$..x": at "..x": recursive descent (..) is not supported`},

		"no command":    {tpl: job(func(j *JobMetric) { j.Command = nil }), want: pp + "job.command: required: the program to run and its arguments"},
		"empty program": {tpl: job(func(j *JobMetric) { j.Command = []string{""} }), want: pp + `job.command[0]: must name the program to run, got ""`},
		"NUL argument":  {tpl: job(func(j *JobMetric) { j.Command = []string{"sh", "a\x00"} }), want: pp + "job.command[1]: must not contain a NUL character"},
		"job env":       {tpl: job(func(j *JobMetric) { j.Env = []EnvVar{{Name: "1X"}} }), want: pp + `job.env[0].name: must be letters, digits, '_', '-' or '.', not starting with a digit, got "1X"`},
		"job timeout":   {tpl: job(func(j *JobMetric) { j.TimeoutSeconds = -5 }), want: pp + "job.timeoutSeconds: must be at least 1, got -5"},
		"job failure condition": {tpl: providerTemplate(jobMetric(), func(t *AnalysisTemplate) {
			t.Spec.Metrics[0].SuccessCondition, t.Spec.Metrics[0].FailureCondition = "", "result == 3"
		})},

		// Arguments
		"undeclared argument": {tpl: withArgs(promMetric(), nil, func(m *Metric) { m.Provider.Prometheus.Query = `up{job="{{args.job}}"}` }),
			want: mp[:len(mp)-1] + ": refers to {{args.job}}, which spec.args does not declare"},
		"declared argument":       {tpl: withArgs(promMetric(), []Argument{{Name: "job"}}, func(m *Metric) { m.Provider.Prometheus.Query = `up{job="{{ args.job }}"}` })},
		"argument in a job":       {tpl: withArgs(jobMetric(), []Argument{{Name: "url"}}, func(m *Metric) { m.Provider.Job.Command = []string{"curl", "{{args.url}}"} })},
		"argument in a condition": {tpl: withArgs(promMetric(), []Argument{{Name: "max", Value: str("0.01")}}, func(m *Metric) { m.SuccessCondition = "result < {{args.max}}" })},
		"argument that breaks a condition": {tpl: withArgs(promMetric(), []Argument{{Name: "max", Value: str("0.0.1")}}, func(m *Metric) { m.SuccessCondition = "result < {{args.max}}" }),
			want: mp + "successCondition: invalid CEL expression: 1:13: Syntax error: extraneous input '.1' expecting <EOF>"},
		"condition argument without a default": {tpl: withArgs(promMetric(), []Argument{{Name: "max"}}, func(m *Metric) { m.FailureCondition = "result > {{args.max}}" })},
		"address from an argument":             {tpl: withArgs(promMetric(), []Argument{{Name: "host"}}, func(m *Metric) { m.Provider.Prometheus.Address = "http://{{args.host}}:9090" })},
		"address default checked": {tpl: withArgs(promMetric(), []Argument{{Name: "host", Value: str("")}}, func(m *Metric) { m.Provider.Prometheus.Address = "http://{{args.host}}" }),
			want: pp + `prometheus.address: must name a host, e.g. "http://127.0.0.1:9090", got "http://"`},
		"JSONPath from an argument": {tpl: withArgs(webMetric(), []Argument{{Name: "field", Value: str("ok")}}, func(m *Metric) { m.Provider.Web.JSONPath = "$.{{args.field}}" })},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.tpl.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted, want %s", tc.want)
			case tc.want != "" && !strings.HasPrefix(err.Error(), tc.want):
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			case tc.want != "" && strings.Contains(err.Error(), "\n"):
				t.Fatalf("more than one mistake:\n%v", err)
			}
		})
	}
}

// TestValidateAnalysisArgs checks the arguments an analysis gives its
// templates.
func TestValidateAnalysisArgs(t *testing.T) {
	const a = "spec.strategy.canary.steps[3].analysis.args"
	tests := map[string]struct {
		templateArgs []Argument
		given        []AnalysisRunArgument
		want         string
	}{
		"default used":  {templateArgs: []Argument{{Name: "max", Value: str("1")}}},
		"default given": {templateArgs: []Argument{{Name: "max", Value: str("1")}}, given: []AnalysisRunArgument{{Name: "max", Value: "2"}}},
		"value needed": {templateArgs: []Argument{{Name: "max", Value: str("1")}, {Name: "service"}}, given: []AnalysisRunArgument{{Name: "max", Value: "2"}},
			want: a + `: template "success-rate" needs a value for argument "service": add {name: service, value: ...}`},
		"misspelt": {templateArgs: []Argument{{Name: "max", Value: str("1")}}, given: []AnalysisRunArgument{{Name: "mx", Value: "2"}},
			want: a + `[0].name: no template of this analysis declares "mx" (declared: "max")`},
		"no arguments at all": {given: []AnalysisRunArgument{{Name: "max", Value: "2"}},
			want: a + `[0].name: no template of this analysis declares "max" (declared: none)`},
		"the canary's revision": {templateArgs: []Argument{{Name: "rev"}},
			given: []AnalysisRunArgument{{Name: "rev", ValueFrom: &ArgumentValueFrom{PodTemplateHashValue: str("Latest")}}}},
		"value and valueFrom": {templateArgs: []Argument{{Name: "rev"}},
			given: []AnalysisRunArgument{{Name: "rev", Value: "3", ValueFrom: &ArgumentValueFrom{PodTemplateHashValue: str("Stable")}}},
			want:  a + "[0]: set value or valueFrom, not both"},
		"valueFrom of nothing": {templateArgs: []Argument{{Name: "rev"}},
			given: []AnalysisRunArgument{{Name: "rev", ValueFrom: &ArgumentValueFrom{}}},
			want:  a + "[0].valueFrom: must set podTemplateHashValue (Stable or Latest)"},
		"valueFrom unknown": {templateArgs: []Argument{{Name: "rev"}},
			given: []AnalysisRunArgument{{Name: "rev", ValueFrom: &ArgumentValueFrom{PodTemplateHashValue: str("Canary")}}},
			want:  a + `[0].valueFrom.podTemplateHashValue: must be Stable or Latest, got "Canary"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := base(t, "example.yaml")
			r.Spec.AnalysisTemplates[0].Args = tc.templateArgs
			// The background analysis gives what the template needs.
			for _, arg := range tc.templateArgs {
				canaryOf(r).Analysis.Args = append(canaryOf(r).Analysis.Args, AnalysisRunArgument{Name: arg.Name, Value: "x"})
			}
			canaryOf(r).Steps[3].Analysis.Args = tc.given
			err := r.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}
