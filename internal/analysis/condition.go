package analysis

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"

	"fledge.dev/fledge/api/v1alpha1"
)

// Condition is a compiled CEL expression over `result`.
type Condition struct {
	expr string
	prg  cel.Program
}

// conditionEnv declares `result` as dyn, as the spec validation does
// (api/v1alpha1/validate_analysis.go): a condition valid there compiles here.
var conditionEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("result", cel.DynType))
})

// compiled caches conditions by expression: the same few expressions are
// evaluated at every measurement of every run.
var compiled sync.Map // string -> *Condition

// Compile compiles a condition, or returns the one compiled before.
func Compile(expr string) (*Condition, error) {
	if c, ok := compiled.Load(expr); ok {
		return c.(*Condition), nil
	}
	env, err := conditionEnv()
	if err != nil {
		return nil, fmt.Errorf("condition %q: CEL environment: %w", expr, err)
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("condition %q: %w", expr, iss.Err())
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("condition %q: must yield a bool, got %s", expr, t)
	}
	prg, err := env.Program(ast)
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", expr, err)
	}
	c, _ := compiled.LoadOrStore(expr, &Condition{expr: expr, prg: prg})
	return c.(*Condition), nil
}

// String returns the expression.
func (c *Condition) String() string { return c.expr }

// Eval tells whether value meets the condition. Numbers are seen as
// float64 (see Normalize).
func (c *Condition) Eval(value any) (bool, error) {
	out, _, err := c.prg.Eval(map[string]any{"result": Normalize(value)})
	if err != nil {
		return false, fmt.Errorf("condition %q with result %s: %w", c.expr, FormatValue(value), err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition %q with result %s: yielded %v, not a bool", c.expr, FormatValue(value), out.Value())
	}
	return b, nil
}

// Evaluate judges one value against a metric's conditions, with Argo
// Rollouts' semantics (see the package doc), and says why.
func Evaluate(m v1alpha1.Metric, value any) (v1alpha1.AnalysisPhase, string) {
	if isNaN(value) {
		return v1alpha1.AnalysisInconclusive, "the value is NaN (nothing to judge)"
	}
	success, failure := m.SuccessCondition != "", m.FailureCondition != ""
	var met, failed bool
	if success {
		var err error
		if met, err = eval("successCondition", m.SuccessCondition, value); err != nil {
			return v1alpha1.AnalysisError, err.Error()
		}
	}
	if failure {
		var err error
		if failed, err = eval("failureCondition", m.FailureCondition, value); err != nil {
			return v1alpha1.AnalysisError, err.Error()
		}
	}
	switch {
	case !success && !failure:
		// Argo's rule: without conditions any value is a success.
		return v1alpha1.AnalysisSuccessful, "no condition to meet"
	case success && !failure:
		if met {
			return v1alpha1.AnalysisSuccessful, fmt.Sprintf("successCondition %s is met", m.SuccessCondition)
		}
		return v1alpha1.AnalysisFailed, fmt.Sprintf("successCondition %s is not met", m.SuccessCondition)
	case !success && failure:
		if failed {
			return v1alpha1.AnalysisFailed, fmt.Sprintf("failureCondition %s is met", m.FailureCondition)
		}
		return v1alpha1.AnalysisSuccessful, fmt.Sprintf("failureCondition %s is not met", m.FailureCondition)
	}
	switch {
	case failed: // failure wins over success
		return v1alpha1.AnalysisFailed, fmt.Sprintf("failureCondition %s is met", m.FailureCondition)
	case met:
		return v1alpha1.AnalysisSuccessful, fmt.Sprintf("successCondition %s is met", m.SuccessCondition)
	}
	return v1alpha1.AnalysisInconclusive, fmt.Sprintf("neither successCondition %s nor failureCondition %s is met", m.SuccessCondition, m.FailureCondition)
}

func eval(field, expr string, value any) (bool, error) {
	c, err := Compile(expr)
	if err != nil {
		return false, fmt.Errorf("%s: %w", field, err)
	}
	ok, err := c.Eval(value)
	if err != nil {
		return false, fmt.Errorf("%s: %w", field, err)
	}
	return ok, nil
}

// Normalize makes every number a float64, in lists and string-keyed maps
// too, so that a condition does not depend on whether a provider produced
// an int or a float.
func Normalize(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return v // bytes stay bytes
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = Normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return v
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			out[it.Key().String()] = Normalize(it.Value().Interface())
		}
		return out
	}
	return v
}

func isNaN(v any) bool {
	switch f := v.(type) {
	case float64:
		return math.IsNaN(f)
	case float32:
		return math.IsNaN(float64(f))
	}
	return false
}

// FormatValue writes a value as a Measurement's text: numbers with at most
// four significant decimals (0.99512 -> "0.9951", 0.0023456 -> "0.002346",
// 1234.56789 -> "1234.5679", 3.0 -> "3"), lists element by element, the
// rest as fmt prints it.
func FormatValue(v any) string {
	switch n := Normalize(v).(type) {
	case nil:
		return ""
	case float64:
		return formatFloat(n)
	case []any:
		parts := make([]string, len(n))
		for i, e := range n {
			parts[i] = FormatValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return n
	default:
		return fmt.Sprint(n)
	}
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case f == 0:
		return "0"
	}
	prec := 4
	if a := math.Abs(f); a < 1 {
		// Four significant digits after the leading zeros.
		prec = 3 - int(math.Floor(math.Log10(a)))
	}
	s := fmt.Sprintf("%.*f", prec, f)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
