package v1alpha1

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const judgeYAML = head + `spec:
  template: {command: [./app]}
  strategy:
    canary:
      trafficRouting: {proxy: {listen: "127.0.0.1:8080"}}
      steps: [{setWeight: 5}, {pause: {duration: 30s}}, {analysis: {templates: [{templateName: gate}]}}, {setWeight: 50}]
      analysis: {templates: [{templateName: judged}], startingStep: 1}
  analysisTemplates:
  - name: judged
    judge:
      maxRelativeRisk: 1.5
      maxCanaryFailures: 5
      route: "POST /login"
      latency: {threshold: 250ms}
    inconclusivePolicy: Abort
  - name: gate
    metrics:
    - name: success-rate
      successCondition: "result >= 0.99"
      provider: {builtin: {successRate: {}}}
    judge: {name: gate-judge, alpha: "0.05", holdWeight: false, latency: {disabled: true}}
`

// TestLoadJudge loads templates with judges and checks the defaults the
// run relies on, and that the spec survives a trip through JSON.
func TestLoadJudge(t *testing.T) {
	rs, err := Load([]byte(judgeYAML))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	r := rs[0]
	judged, gate := r.Spec.AnalysisTemplates[0], r.Spec.AnalysisTemplates[1]
	j, g := judged.Judge, gate.Judge
	checks := map[string]struct{ got, want any }{
		"name":                   {j.Name, DefaultJudgeName},
		"interval":               {j.Interval.Duration, time.Second},
		"alpha":                  {j.Alpha.Value, 0.01},
		"tolerance kept":         {j.MaxRelativeRisk.Value, 1.5},
		"pass: twice tolerance":  {j.PassRelativeRisk.Value, 3.0},
		"budget":                 {j.MaxCanaryFailures, int32(5)},
		"min requests":           {*j.MinRequests, int64(DefaultJudgeMinRequests)},
		"threshold":              {j.Latency.Threshold.Duration, 250 * time.Millisecond},
		"no quantile with a SLO": {j.Latency.StableQuantile == nil, true},
		"holds by default":       {*j.HoldWeight, true},
		"route":                  {j.Route, "POST /login"},
		"policy kept":            {judged.InconclusivePolicy, InconclusiveAbort},
		"policy default":         {gate.InconclusivePolicy, InconclusivePause},
		"named judge":            {g.Name, "gate-judge"},
		"alpha from a string":    {g.Alpha.Value, 0.05},
		"hold off":               {*g.HoldWeight, false},
		"latency off":            {g.Latency.Disabled, true},
		"no quantile when off":   {g.Latency.StableQuantile == nil, true},
		"default tolerance":      {g.MaxRelativeRisk.Value, 1.0},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Load(out)
	if err != nil {
		t.Fatalf("Load of its own JSON: %v\n%s", err, out)
	}
	if back, _ := json.Marshal(again[0]); string(back) != string(out) {
		t.Errorf("not the same after a trip through JSON:\n%s\n%s", out, back)
	}
	if !strings.Contains(string(out), `"alpha":0.05`) {
		t.Errorf("a Decimal is written as a number: %s", out)
	}
}

// judgeTemplate is a valid AnalysisTemplate with only a judge, after
// mutate, defaulted.
func judgeTemplate(mutate func(*AnalysisTemplate)) *AnalysisTemplate {
	tpl := &AnalysisTemplate{Spec: AnalysisTemplateSpec{Judge: &Judge{}}}
	tpl.APIVersion, tpl.Kind, tpl.Name = APIVersion, KindTemplate, "t"
	if mutate != nil {
		mutate(tpl)
	}
	tpl.Spec.Default()
	return tpl
}

// undefaulted is judgeTemplate changed after Default.
func undefaulted(f func(*AnalysisTemplate)) *AnalysisTemplate {
	tpl := judgeTemplate(nil)
	f(tpl)
	return tpl
}

// TestValidateJudge breaks one field of a judge per case and expects the
// one message that names it.
func TestValidateJudge(t *testing.T) {
	const jp = "spec.judge."
	judge := func(f func(*Judge)) *AnalysisTemplate {
		return judgeTemplate(func(t *AnalysisTemplate) { f(t.Spec.Judge) })
	}
	tests := map[string]struct {
		tpl  *AnalysisTemplate
		want string // empty: valid
	}{
		"defaults only":          {tpl: judgeTemplate(nil)},
		"everything set":         {tpl: judge(func(j *Judge) { *j = fullJudge() })},
		"alpha at its maximum":   {tpl: judge(func(j *Judge) { j.Alpha = Dec(0.5) })},
		"tolerance at its edges": {tpl: judge(func(j *Judge) { j.MaxRelativeRisk, j.PassRelativeRisk = Dec(0.1), Dec(102.4) })},
		"alpha zero":             {tpl: judge(func(j *Judge) { j.Alpha = Dec(0) }), want: jp + "alpha: must be above 0 and at most 0.5 (the chance of failing a good canary), got 0"},
		"alpha too large":        {tpl: judge(func(j *Judge) { j.Alpha = Dec(0.6) }), want: jp + "alpha: must be above 0 and at most 0.5 (the chance of failing a good canary), got 0.6"},
		"tolerance too small":    {tpl: judge(func(j *Judge) { j.MaxRelativeRisk = Dec(0.05) }), want: jp + "maxRelativeRisk: must be between 0.1 and 100, got 0.05"},
		"pass at the tolerance": {tpl: judge(func(j *Judge) { j.MaxRelativeRisk, j.PassRelativeRisk = Dec(1.5), Dec(1.5) }),
			want: jp + "passRelativeRisk: must be above maxRelativeRisk (1.5): a canary exactly at the tolerance can be shown neither worse nor within it, got 1.5"},
		"pass beyond the grid": {tpl: judge(func(j *Judge) { j.PassRelativeRisk = Dec(2000) }),
			want: jp + "passRelativeRisk: must be at most 1024 times maxRelativeRisk (1024), got 2000"},
		"negative budget":  {tpl: judge(func(j *Judge) { j.MaxCanaryFailures = -1 }), want: jp + "maxCanaryFailures: must not be negative (0 is no budget), got -1"},
		"no min requests":  {tpl: judge(func(j *Judge) { j.MinRequests = i64(0) }), want: jp + "minRequests: must be at least 1, got 0"},
		"zero interval":    {tpl: judge(func(j *Judge) { j.Interval = dur(0) }), want: jp + "interval: must be positive and at most 24h, got 0s"},
		"bad route":        {tpl: judge(func(j *Judge) { j.Route = "login" }), want: jp + `route: must be "/path" or "METHOD /path", e.g. "POST /login", got "login"`},
		"no name":          {tpl: undefaulted(func(t *AnalysisTemplate) { t.Spec.Judge.Name = "" }), want: jp + "name: required"},
		"negative SLO":     {tpl: judge(func(j *Judge) { j.Latency = &JudgeLatency{Threshold: dur(-time.Millisecond)} }), want: jp + "latency.threshold: must be positive, e.g. \"250ms\", got -1ms"},
		"quantile too low": {tpl: judge(func(j *Judge) { j.Latency = &JudgeLatency{StableQuantile: Dec(0.4)} }), want: jp + "latency.stableQuantile: must be between 0.5 and 0.9999, got 0.4"},
		"both thresholds": {tpl: judge(func(j *Judge) { j.Latency = &JudgeLatency{Threshold: dur(time.Second), StableQuantile: Dec(0.9)} }),
			want: jp + "latency: must set only one of threshold (a fixed SLO) or stableQuantile (stable's latency), got both"},
		"undeclared argument": {tpl: judge(func(j *Judge) { j.Route = "POST {{args.path}}" }),
			want: "spec.judge: refers to {{args.path}}, which spec.args does not declare"},
		"route from an argument": {tpl: judgeTemplate(func(t *AnalysisTemplate) {
			t.Spec.Args = []Argument{{Name: "path", Value: str("/login")}}
			t.Spec.Judge.Route = "POST {{args.path}}"
		})},
		"route from a bad argument default": {tpl: judgeTemplate(func(t *AnalysisTemplate) {
			t.Spec.Args = []Argument{{Name: "path", Value: str("login")}}
			t.Spec.Judge.Route = "POST {{args.path}}"
		}), want: jp + `route: must be "/path" or "METHOD /path", e.g. "POST /login", got "POST login"`},
		"a metric of the same name": {tpl: judgeTemplate(func(t *AnalysisTemplate) {
			t.Spec.Metrics = []Metric{{Name: "judge", SuccessCondition: "result > 0", Provider: MetricProvider{Builtin: &BuiltinMetric{ErrorRate: &struct{}{}}}}}
		}), want: jp + `name: "judge" is also the name of a metric of this template: the judge's result needs its own name`},
		"neither metrics nor judge": {tpl: judgeTemplate(func(t *AnalysisTemplate) { t.Spec.Judge = nil }), want: "spec.metrics: required: at least one metric, or a judge"},
		"unknown policy": {tpl: judgeTemplate(func(t *AnalysisTemplate) { t.Spec.InconclusivePolicy = "Retry" }),
			want: `spec.inconclusivePolicy: must be Pause or Abort, got "Retry"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.tpl.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// fullJudge sets every field of a judge.
func fullJudge() Judge {
	hold := false
	return Judge{
		Name: "j", Interval: dur(2 * time.Second), Route: "/login",
		Alpha: Dec(0.02), MaxRelativeRisk: Dec(1.2), PassRelativeRisk: Dec(3), MaxCanaryFailures: 3, MinRequests: i64(50),
		Latency: &JudgeLatency{StableQuantile: Dec(0.95)}, HoldWeight: &hold,
	}
}

// TestValidateJudgeNamesInOneAnalysis checks that two templates whose
// judges have the same name cannot make one run.
func TestValidateJudgeNamesInOneAnalysis(t *testing.T) {
	rs, err := Decode([]byte(strings.Replace(judgeYAML, "name: gate-judge, ", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0].(*Rollout)
	r.Spec.Strategy.Canary.Analysis.Templates = append(r.Spec.Strategy.Canary.Analysis.Templates, AnalysisTemplateRef{TemplateName: "gate"})
	r.Default()
	err = r.Validate()
	want := `spec.strategy.canary.analysis.templates[1].templateName: judge "judge" is also defined by template "judged": the metrics and judges of one analysis must have distinct names`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// TestDecimal checks what a Decimal accepts and how it is written.
func TestDecimal(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    float64
		wantErr string
	}{
		"number":          {in: "0.01", want: 0.01},
		"whole number":    {in: "2", want: 2},
		"exponent":        {in: "1e-3", want: 0.001},
		"string":          {in: `"0.25"`, want: 0.25},
		"not a number":    {in: `"often"`, wantErr: "want a number such as 0.01"},
		"too large":       {in: "1e400", wantErr: "want a finite number"},
		"a list":          {in: "[1]", wantErr: "want a number such as 0.01"},
		"an empty string": {in: `""`, wantErr: "want a number such as 0.01"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var d Decimal
			err := json.Unmarshal([]byte(tc.in), &d)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v (%g), want an error containing %q", err, d.Value, tc.wantErr)
				}
			case err != nil || d.Value != tc.want:
				t.Fatalf("got %g %v, want %g", d.Value, err, tc.want)
			default:
				out, _ := json.Marshal(d)
				var back Decimal
				if err := json.Unmarshal(out, &back); err != nil || back != d {
					t.Fatalf("%s does not read back: %v %v", out, back, err)
				}
			}
		})
	}
}

// promJudge is a valid judge reading Prometheus, changed by f.
func promJudge(f func(*JudgePrometheus)) func(*AnalysisTemplate) {
	return func(t *AnalysisTemplate) {
		p := &JudgePrometheus{
			Address:  "http://prometheus:9090",
			Requests: `istio_requests_total{destination_service_name="{{service}}"}`,
			Failures: `istio_requests_total{destination_service_name="{{ service }}", response_code=~"5.."}`,
			Latency:  `istio_request_duration_milliseconds_bucket{destination_service_name="{{service}}"}`,
		}
		if f != nil {
			f(p)
		}
		t.Spec.Judge.Prometheus = p
	}
}

// TestValidateJudgePrometheus breaks one field of a judge's Prometheus
// source per case and expects the one message that names it.
func TestValidateJudgePrometheus(t *testing.T) {
	const pp = "spec.judge.prometheus."
	tests := map[string]struct {
		tpl  *AnalysisTemplate
		want string // empty: valid
	}{
		"valid": {tpl: judgeTemplate(promJudge(nil))},
		"every placeholder, selectors, milliseconds": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) {
			p.Requests = `r{ {{selector}}, rev="{{revision}}", v="{{version}}", ro="{{rollout}}"}`
			p.Selectors = &JudgeSelectors{Canary: `canary!="", ingress="{{rollout}}"`, Stable: `canary=""`}
			p.LatencyUnit, p.Timeout, p.Insecure = LatencyMilliseconds, dur(5*time.Second), true
			p.Headers = []WebMetricHeader{{Key: "Authorization", Value: "Bearer x"}}
		}))},
		"address from an argument": {tpl: judgeTemplate(func(t *AnalysisTemplate) {
			t.Spec.Args = []Argument{{Name: "prometheus", Value: str("http://p:9090")}}
			promJudge(func(p *JudgePrometheus) { p.Address = "{{args.prometheus}}" })(t)
		})},
		"no address":  {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Address = "" })), want: pp + "address: required"},
		"bad address": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Address = "prometheus:9090" })), want: pp + `address: must be an http or https URL, e.g. "http://127.0.0.1:9090", got "prometheus:9090"`},
		"no requests": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Requests = "" })), want: pp + "requests: required"},
		"no failures": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Failures = "" })), want: pp + "failures: required"},
		"unknown placeholder": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Latency = `h{svc="{{svc}}"}` })),
			want: pp + "latency: uses {{svc}}, which is not a placeholder of the judge's queries ({{service}}, {{revision}}, {{version}}, {{rollout}}, {{selector}})"},
		"selector without selectors": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Requests = `r{ {{selector}} }` })),
			want: pp + "requests: uses {{selector}}: set selectors.canary and selectors.stable"},
		"a selector missing": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Selectors = &JudgeSelectors{Canary: `canary!=""`} })),
			want: pp + "selectors.stable: required"},
		"a selector using itself": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) {
			p.Selectors = &JudgeSelectors{Canary: `{{selector}}`, Stable: `canary=""`}
		})), want: pp + "selectors.canary: must not use {{selector}}: it is what {{selector}} stands for"},
		"bad unit":     {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.LatencyUnit = "Minutes" })), want: pp + `latencyUnit: must be Seconds or Milliseconds, got "Minutes"`},
		"zero timeout": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Timeout = dur(0) })), want: pp + "timeout: must be positive, got 0s"},
		"bad header": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Headers = []WebMetricHeader{{Key: "X", Value: "a\nb"}} })),
			want: pp + "headers[0].value: must not contain a line break or NUL"},
		"a route": {tpl: judgeTemplate(func(t *AnalysisTemplate) { promJudge(nil)(t); t.Spec.Judge.Route = "/login" }),
			want: "spec.judge.route: restricts the embedded proxy's counters, which a judge with prometheus does not read: select the route in its queries"},
		"undeclared argument in a query": {tpl: judgeTemplate(promJudge(func(p *JudgePrometheus) { p.Requests = `r{ns="{{args.namespace}}"}` })),
			want: "spec.judge: refers to {{args.namespace}}, which spec.args does not declare"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.tpl.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}
