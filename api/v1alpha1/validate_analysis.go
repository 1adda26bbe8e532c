package v1alpha1

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
)

// indexTemplates records the templates the strategy's analyses may name:
// the inline ones, then the standalone ones they do not shadow.
func (v *validator) indexTemplates(inline []NamedAnalysisTemplate, standalone map[string]*AnalysisTemplateSpec) {
	v.templates = map[string]*AnalysisTemplateSpec{}
	for i := range inline {
		t := &inline[i]
		if _, dup := v.templates[t.Name]; t.Name != "" && !dup {
			v.templates[t.Name] = &t.AnalysisTemplateSpec
			v.templateOrder = append(v.templateOrder, strconv.Quote(t.Name))
		}
	}
	names := make([]string, 0, len(standalone))
	for name := range standalone {
		if _, shadowed := v.templates[name]; !shadowed {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(standalone) > 0 {
		v.elsewhere = " or the AnalysisTemplate documents"
	}
	for _, name := range names {
		v.templates[name] = standalone[name]
		v.templateOrder = append(v.templateOrder, strconv.Quote(name))
	}
}

// namedTemplates checks the inline templates.
func (v *validator) namedTemplates(p path, list []NamedAnalysisTemplate) {
	seen := map[string]bool{}
	for i := range list {
		t := &list[i]
		tp := p.index(i)
		if v.required(tp.field("name"), t.Name) {
			v.dnsLabel(tp.field("name"), t.Name)
			if seen[t.Name] {
				v.addf(tp.field("name"), "duplicate %q", t.Name)
			}
			seen[t.Name] = true
		}
		v.templateSpec(tp, &t.AnalysisTemplateSpec)
	}
}

// analysis checks an analysis of the strategy: the templates it names exist,
// and together they make one valid run.
func (v *validator) analysis(p path, a *RolloutAnalysis) {
	if len(a.Templates) == 0 {
		v.addf(p.field("templates"), "required: at least one templateName")
	}
	refs := map[string]bool{}
	metricFrom := map[string]string{} // metric name -> template that defines it
	for i, ref := range a.Templates {
		rp := p.field("templates").index(i).field("templateName")
		if !v.required(rp, ref.TemplateName) {
			continue
		}
		if refs[ref.TemplateName] {
			v.addf(rp, "duplicate %q", ref.TemplateName)
			continue
		}
		refs[ref.TemplateName] = true
		t, ok := v.templates[ref.TemplateName]
		if !ok {
			v.addf(rp, "no analysis template %q in spec.analysisTemplates%s (%s)", ref.TemplateName, v.elsewhere, v.available())
			continue
		}
		// A run holds the metrics and judges of all its templates side by
		// side, their results by name.
		for _, r := range resultNames(t) {
			if other, clash := metricFrom[r.name]; clash && r.name != "" && other != ref.TemplateName {
				v.addf(rp, "%s %q is also defined by template %q: the metrics and judges of one analysis must have distinct names", r.kind, r.name, other)
			} else {
				metricFrom[r.name] = ref.TemplateName
			}
		}
	}
	v.args(p.field("args"), len(a.Args), func(i int) string { return a.Args[i].Name })
	v.analysisArgs(p, a)
}

// analysisArgs checks that the analysis gives every argument its templates
// need, and only arguments one of them declares (a misspelt name would
// silently leave the default in place).
func (v *validator) analysisArgs(p path, a *RolloutAnalysis) {
	given := map[string]bool{}
	for _, arg := range a.Args {
		given[arg.Name] = true
	}
	declared := map[string]bool{}
	var names []string
	for _, ref := range a.Templates {
		t, ok := v.templates[ref.TemplateName]
		if !ok {
			return // already reported; the arguments cannot be checked
		}
		for _, arg := range t.Args {
			if !declared[arg.Name] && arg.Name != "" {
				names = append(names, strconv.Quote(arg.Name))
			}
			declared[arg.Name] = true
			if arg.Value == nil && !given[arg.Name] {
				v.addf(p.field("args"), "template %q needs a value for argument %q: add {name: %s, value: ...}", ref.TemplateName, arg.Name, arg.Name)
				given[arg.Name] = true // once
			}
		}
	}
	have := "none"
	if len(names) > 0 {
		have = strings.Join(names, ", ")
	}
	for i, arg := range a.Args {
		if from := arg.ValueFrom; from != nil {
			ap := p.field("args").index(i)
			switch {
			case arg.Value != "":
				v.addf(ap, "set value or valueFrom, not both")
			case from.PodTemplateHashValue == nil:
				v.addf(ap.field("valueFrom"), "must set podTemplateHashValue (Stable or Latest)")
			case *from.PodTemplateHashValue != ValueFromStable && *from.PodTemplateHashValue != ValueFromLatest:
				v.addf(ap.field("valueFrom").field("podTemplateHashValue"), "must be Stable or Latest, got %q", *from.PodTemplateHashValue)
			}
		}
		if arg.Name != "" && !declared[arg.Name] {
			v.addf(p.field("args").index(i).field("name"), "no template of this analysis declares %q (declared: %s)", arg.Name, have)
		}
	}
}

func (v *validator) available() string {
	if len(v.templateOrder) == 0 {
		return "none defined"
	}
	return "available: " + strings.Join(v.templateOrder, ", ")
}

// args checks that argument names are set and unique.
func (v *validator) args(p path, n int, name func(int) string) {
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		np := p.index(i).field("name")
		s := name(i)
		if !v.required(np, s) {
			continue
		}
		if seen[s] {
			v.addf(np, "duplicate %q", s)
		}
		seen[s] = true
	}
}

// templateSpec checks a template's metrics, inline or standalone.
func (v *validator) templateSpec(p path, s *AnalysisTemplateSpec) {
	v.argsPath, v.argValues = p.field("args"), map[string]*string{}
	for _, a := range s.Args {
		v.argValues[a.Name] = a.Value
	}
	defer func() { v.argValues = nil }()
	if len(s.Metrics) == 0 && s.Judge == nil {
		v.addf(p.field("metrics"), "required: at least one metric, or a judge")
	}
	seen := map[string]bool{}
	for i := range s.Metrics {
		mp := p.field("metrics").index(i)
		m := &s.Metrics[i]
		if v.required(mp.field("name"), m.Name) {
			if seen[m.Name] {
				v.addf(mp.field("name"), "duplicate %q", m.Name)
			}
			seen[m.Name] = true
		}
		v.metric(mp, m)
	}
	if s.Judge != nil {
		v.judge(p.field("judge"), s.Judge, seen)
	}
	v.inconclusivePolicy(p.field("inconclusivePolicy"), s.InconclusivePolicy)
	v.args(p.field("args"), len(s.Args), func(i int) string { return s.Args[i].Name })
}

// resultName is the name of a metric's or a judge's result in a run.
type resultName struct{ kind, name string }

// resultNames are the names of a template's results in a run: its metrics'
// and its judge's.
func resultNames(t *AnalysisTemplateSpec) []resultName {
	names := make([]resultName, 0, len(t.Metrics)+1)
	for _, m := range t.Metrics {
		names = append(names, resultName{"metric", m.Name})
	}
	if t.Judge != nil {
		name := t.Judge.Name
		if name == "" {
			name = DefaultJudgeName
		}
		names = append(names, resultName{"judge", name})
	}
	return names
}

func (v *validator) metric(p path, m *Metric) {
	if m.Interval != nil && m.Interval.Duration <= 0 {
		v.addf(p.field("interval"), "must be positive, got %s", m.Interval.Duration)
	}
	if m.InitialDelay != nil && m.InitialDelay.Duration < 0 {
		v.addf(p.field("initialDelay"), "must not be negative, got %s", m.InitialDelay.Duration)
	}
	if c := m.Count; c != nil {
		switch {
		case *c < 1:
			v.addf(p.field("count"), "must be at least 1, got %d", *c)
		case *c > 1 && m.Interval == nil:
			// Argo's rule: without an interval the measurements would be
			// taken back to back, over no time at all.
			v.addf(p.field("count"), "above 1 needs an interval between measurements, got %d without one", *c)
		}
	}
	v.atLeast(p.field("failureLimit"), m.FailureLimit, 0)
	v.atLeast(p.field("inconclusiveLimit"), m.InconclusiveLimit, 0)
	v.atLeast(p.field("consecutiveErrorLimit"), m.ConsecutiveErrorLimit, 0)
	if m.SuccessCondition == "" && m.FailureCondition == "" {
		v.addf(p, "must set successCondition or failureCondition (or both)")
	}
	// A condition may take an argument ("result < {{args.max}}"): it is
	// checked with the default values, or when the run starts.
	if expr, ok := v.resolved(m.SuccessCondition); ok && expr != "" {
		v.condition(p.field("successCondition"), expr)
	}
	if expr, ok := v.resolved(m.FailureCondition); ok && expr != "" {
		v.condition(p.field("failureCondition"), expr)
	}
	v.metricArgs(p, m)
	pp := p.field("provider")
	pr := &m.Provider
	if !v.exactlyOne(pp, []string{"builtin", "prometheus", "web", "job"},
		[]bool{pr.Builtin != nil, pr.Prometheus != nil, pr.Web != nil, pr.Job != nil}) {
		return
	}
	switch {
	case pr.Builtin != nil:
		v.builtin(pp.field("builtin"), pr.Builtin)
	case pr.Prometheus != nil:
		v.prometheus(pp.field("prometheus"), pr.Prometheus)
	case pr.Web != nil:
		v.web(pp.field("web"), pr.Web)
	case pr.Job != nil:
		v.job(pp.field("job"), pr.Job)
	}
}

var builtinMeasures = []string{"successRate", "errorRate", "latencyP50", "latencyP95", "latencyP99", "requestRate"}

func (v *validator) builtin(p path, b *BuiltinMetric) {
	v.exactlyOne(p, builtinMeasures, []bool{
		b.SuccessRate != nil, b.ErrorRate != nil, b.LatencyP50 != nil,
		b.LatencyP95 != nil, b.LatencyP99 != nil, b.RequestRate != nil,
	})
	switch b.Version {
	case "", "canary", "stable":
	default:
		v.addf(p.field("version"), "must be canary or stable, got %q", b.Version)
	}
	if b.Route != "" && !validRoute(b.Route) {
		v.addf(p.field("route"), "must be \"/path\" or \"METHOD /path\", e.g. \"POST /login\", got %q", b.Route)
	}
}

// validRoute accepts "/path" and "METHOD /path", as the proxy labels its
// counters.
func validRoute(r string) bool {
	m, pth, spaced := strings.Cut(r, " ")
	if !spaced {
		m, pth = "", r
	} else if !method(m) {
		return false
	}
	return strings.HasPrefix(pth, "/") && !strings.ContainsAny(pth, " \t\r\n")
}

// conditionEnv is the CEL environment of metric conditions: the measured
// value is `result`, of any type. It must match the analysis judge's, so
// that a condition valid here evaluates there.
var conditionEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("result", cel.DynType))
})

// condition checks that a condition compiles and can yield a bool.
func (v *validator) condition(p path, expr string) {
	env, err := conditionEnv()
	if err != nil {
		v.addf(p, "cannot check CEL: %v", err)
		return
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		v.addf(p, "invalid CEL expression: %s", celIssues(iss))
		return
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		v.addf(p, "must yield a bool, got %s", t)
	}
}

// celIssues writes compile errors on one line, each with its line:column.
func celIssues(iss *cel.Issues) string {
	msgs := make([]string, 0, len(iss.Errors()))
	for _, e := range iss.Errors() {
		msgs = append(msgs, fmt.Sprintf("%d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
	}
	return strings.Join(msgs, "; ")
}
