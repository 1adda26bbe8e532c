package v1alpha1

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	celcommon "github.com/google/cel-go/common"
	celast "github.com/google/cel-go/common/ast"

	"fledge.dev/fledge/internal/analysis/provider/web/jsonpath"
)

// ArgRef matches a reference to a template argument, {{args.name}}, spaces
// allowed inside the braces; its first group is the name. The run replaces
// every one in a metric's text fields before measuring.
var ArgRef = regexp.MustCompile(`\{\{\s*args\.([^\s{}]+)\s*\}\}`)

// argRefs lists the arguments a metric refers to, in any text field.
func argRefs(m *Metric) []string {
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	var names []string
	for _, sub := range ArgRef.FindAllSubmatch(b, -1) {
		names = append(names, string(sub[1]))
	}
	return names
}

// metricArgs checks that a metric refers only to the arguments its template
// declares.
func (v *validator) metricArgs(p path, m *Metric) {
	reported := map[string]bool{}
	for _, name := range argRefs(m) {
		if _, ok := v.argValues[name]; !ok && !reported[name] {
			reported[name] = true
			v.addf(p, "refers to {{args.%s}}, which %s does not declare", name, v.argsPath)
		}
	}
}

// resolved substitutes the template's default argument values into s, so
// that a field holding {{args.name}} can still be checked; false when an
// argument has no default (the field is then checked when the run starts).
func (v *validator) resolved(s string) (string, bool) {
	ok := true
	out := ArgRef.ReplaceAllStringFunc(s, func(ref string) string {
		val := v.argValues[ArgRef.FindStringSubmatch(ref)[1]]
		if val == nil {
			ok = false
			return ref
		}
		return *val
	})
	return out, ok
}

// prometheus checks a Prometheus metric.
func (v *validator) prometheus(p path, m *PrometheusMetric) {
	v.httpURL(p.field("address"), m.Address)
	v.required(p.field("query"), m.Query)
	if m.Timeout != nil && m.Timeout.Duration <= 0 {
		v.addf(p.field("timeout"), "must be positive, got %s", m.Timeout.Duration)
	}
	v.headers(p.field("headers"), m.Headers)
	if r := m.RangeQuery; r != nil {
		rp := p.field("rangeQuery")
		switch {
		case r.Step == nil:
			v.addf(rp.field("step"), "required: the time between the points of the range, e.g. \"15s\"")
		case r.Step.Duration <= 0:
			v.addf(rp.field("step"), "must be positive, got %s", r.Step.Duration)
		}
		v.timeExpr(rp.field("start"), r.Start)
		v.timeExpr(rp.field("end"), r.End)
	}
}

// webMethods are the methods a web metric may use, as Argo Rollouts.
var webMethods = []string{"GET", "POST", "PUT"}

// web checks a web metric.
func (v *validator) web(p path, m *WebMetric) {
	v.httpURL(p.field("url"), m.URL)
	switch m.Method {
	case "GET":
		if m.Body != "" || len(m.JSONBody) > 0 {
			v.addf(p.field("method"), "GET sends no body: use POST or PUT with body or jsonBody")
		}
	case "", "POST", "PUT":
	default:
		v.addf(p.field("method"), "must be %s, got %q", orList(webMethods, "or"), m.Method)
	}
	if m.Body != "" && len(m.JSONBody) > 0 {
		v.addf(p, "must set only one of body or jsonBody, got both")
	}
	if m.TimeoutSeconds < 0 {
		v.addf(p.field("timeoutSeconds"), "must be at least 1, got %d", m.TimeoutSeconds)
	}
	v.headers(p.field("headers"), m.Headers)
	if s, ok := v.resolved(m.JSONPath); ok && s != "" {
		if _, err := jsonpath.Parse(s); err != nil {
			v.addf(p.field("jsonPath"), "%v", err)
		}
	}
}

// job checks a job metric.
func (v *validator) job(p path, m *JobMetric) {
	cp := p.field("command")
	if len(m.Command) == 0 {
		v.addf(cp, "required: the program to run and its arguments")
	} else if m.Command[0] == "" {
		v.addf(cp.index(0), "must name the program to run, got \"\"")
	}
	for i, arg := range m.Command {
		if strings.ContainsRune(arg, 0) {
			v.addf(cp.index(i), "must not contain a NUL character")
		}
	}
	v.env(p.field("env"), m.Env)
	if m.TimeoutSeconds < 0 {
		v.addf(p.field("timeoutSeconds"), "must be at least 1, got %d", m.TimeoutSeconds)
	}
}

// httpURL checks a required http or https URL (once its arguments are
// substituted, when they have defaults).
func (v *validator) httpURL(p path, raw string) {
	if !v.required(p, raw) {
		return
	}
	s, ok := v.resolved(raw)
	if !ok {
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil && strings.Contains(s, "://"):
		v.addf(p, "must be an http or https URL: %v", err)
	case err != nil || u.Scheme != "http" && u.Scheme != "https":
		v.addf(p, "must be an http or https URL, e.g. \"http://127.0.0.1:9090\", got %q", s)
	case u.Host == "":
		v.addf(p, "must name a host, e.g. \"http://127.0.0.1:9090\", got %q", s)
	}
}

// headers checks request headers: names valid and values on one line.
func (v *validator) headers(p path, hs []WebMetricHeader) {
	for i, h := range hs {
		hp := p.index(i)
		if v.required(hp.field("key"), h.Key) {
			v.headerName(hp.field("key"), h.Key)
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			v.addf(hp.field("value"), "must not contain a line break or NUL")
		}
	}
}

// The variables behind now() and windowStart() in a range query's bounds.
const (
	TimeNowVar         = "fledge_now"
	TimeWindowStartVar = "fledge_window_start"
)

// TimeExprEnv is the CEL environment of a range query's start and end:
// now() and windowStart() are the end and the start of the measured window,
// with CEL's timestamp and duration arithmetic (`now() - duration("5m")`).
// They are macros over the variables TimeNowVar and TimeWindowStartVar,
// which the Prometheus provider binds when it evaluates a bound.
var TimeExprEnv = sync.OnceValues(func() (*cel.Env, error) {
	ident := func(name string) cel.MacroFactory {
		return func(eh cel.MacroExprFactory, _ celast.Expr, _ []celast.Expr) (celast.Expr, *celcommon.Error) {
			return eh.NewIdent(name), nil
		}
	}
	return cel.NewEnv(
		cel.Variable(TimeNowVar, cel.TimestampType),
		cel.Variable(TimeWindowStartVar, cel.TimestampType),
		cel.Macros(
			cel.GlobalMacro("now", 0, ident(TimeNowVar)),
			cel.GlobalMacro("windowStart", 0, ident(TimeWindowStartVar)),
		),
	)
})

// timeExpr checks that a range bound compiles to a timestamp.
func (v *validator) timeExpr(p path, raw string) {
	expr, ok := v.resolved(raw)
	if !ok || expr == "" {
		return // unset is defaulted; an argument without default is checked when the run starts
	}
	if _, err := CompileTimeExpr(expr); err != nil {
		v.addf(p, "%v", err)
	}
}

// CompileTimeExpr compiles a range bound, which must yield a timestamp.
func CompileTimeExpr(expr string) (cel.Program, error) {
	env, err := TimeExprEnv()
	if err != nil {
		return nil, fmt.Errorf("cannot check CEL: %v", err)
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("invalid CEL expression: %s", celIssues(iss))
	}
	if t := ast.OutputType(); !t.IsExactType(cel.TimestampType) {
		return nil, fmt.Errorf("must yield a timestamp, such as now() - duration(\"5m\"), got %s", t)
	}
	return env.Program(ast)
}
