package analysis

import (
	"math"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

func TestEvaluate(t *testing.T) {
	tests := map[string]struct {
		metric    v1alpha1.Metric
		value     any
		want      v1alpha1.AnalysisPhase
		wantInMsg string
	}{
		"success met":                 {metric: metric(), value: 0.995, want: v1alpha1.AnalysisSuccessful},
		"success met exactly":         {metric: metric(), value: 0.99, want: v1alpha1.AnalysisSuccessful},
		"success not met fails":       {metric: metric(), value: 0.98, want: v1alpha1.AnalysisFailed, wantInMsg: "is not met"},
		"int meets a float condition": {metric: metric(), value: 1, want: v1alpha1.AnalysisSuccessful},
		"int64 below":                 {metric: metric(), value: int64(0), want: v1alpha1.AnalysisFailed},
		"uint":                        {metric: metric(success("result > 2")), value: uint32(3), want: v1alpha1.AnalysisSuccessful},
		"float32":                     {metric: metric(), value: float32(0.995), want: v1alpha1.AnalysisSuccessful},
		"float meets an int condition": {
			metric: metric(success("result > 0")), value: 0.5, want: v1alpha1.AnalysisSuccessful,
		},
		"int equals a float literal": {metric: metric(success("result == 2.0")), value: 2, want: v1alpha1.AnalysisSuccessful},
		"float equals an int literal": {
			metric: metric(success("result == 2")), value: 2.0, want: v1alpha1.AnalysisSuccessful,
		},
		"arithmetic with a double literal": {
			metric: metric(success("result * 100.0 >= 99.0")), value: 1, want: v1alpha1.AnalysisSuccessful,
		},
		"failure only, met": {
			metric: metric(success(""), failure("result > 0.01")), value: 0.02, want: v1alpha1.AnalysisFailed, wantInMsg: "failureCondition",
		},
		"failure only, not met": {
			metric: metric(success(""), failure("result > 0.01")), value: 0.001, want: v1alpha1.AnalysisSuccessful,
		},
		"both, success": {
			metric: metric(success("result >= 0.99"), failure("result < 0.9")), value: 0.995, want: v1alpha1.AnalysisSuccessful,
		},
		"both, failure": {
			metric: metric(success("result >= 0.99"), failure("result < 0.9")), value: 0.5, want: v1alpha1.AnalysisFailed,
		},
		"both, neither is inconclusive": {
			metric: metric(success("result >= 0.99"), failure("result < 0.9")), value: 0.95, want: v1alpha1.AnalysisInconclusive, wantInMsg: "neither",
		},
		"both met, failure wins": {
			metric: metric(success("result > 0"), failure("result > 0.5")), value: 0.7, want: v1alpha1.AnalysisFailed,
		},
		"no condition": {metric: metric(success("")), value: 0.1, want: v1alpha1.AnalysisSuccessful},
		"NaN never passes a success condition": {
			metric: metric(), value: math.NaN(), want: v1alpha1.AnalysisInconclusive, wantInMsg: "NaN",
		},
		"NaN never passes a failure condition": {
			metric: metric(success(""), failure("result > 0.01")), value: math.NaN(), want: v1alpha1.AnalysisInconclusive,
		},
		"string value against a number": {
			metric: metric(), value: "high", want: v1alpha1.AnalysisError, wantInMsg: "successCondition",
		},
		"string condition": {metric: metric(success(`result == "ok"`)), value: "ok", want: v1alpha1.AnalysisSuccessful},
		"list of ints": {
			metric: metric(success("result[0] >= 0.99 && size(result) == 2")), value: []int{1, 0}, want: v1alpha1.AnalysisSuccessful,
		},
		"map": {
			metric: metric(success("result.p99 < 0.5")), value: map[string]any{"p99": 1}, want: v1alpha1.AnalysisFailed,
		},
		"syntax error": {
			metric: metric(success("result >=")), value: 1.0, want: v1alpha1.AnalysisError, wantInMsg: "successCondition",
		},
		"not a bool at run time": {
			metric: metric(success("result")), value: 1.0, want: v1alpha1.AnalysisError, wantInMsg: "not a bool",
		},
		"not a bool at compile time": {
			metric: metric(success(""), failure("1 + 2")), value: 1.0, want: v1alpha1.AnalysisError, wantInMsg: "must yield a bool",
		},
		"nil value": {metric: metric(), value: nil, want: v1alpha1.AnalysisError},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, msg := Evaluate(tc.metric, tc.value)
			if got != tc.want {
				t.Fatalf("Evaluate(%v) = %s (%s), want %s", tc.value, got, msg, tc.want)
			}
			if !strings.Contains(msg, tc.wantInMsg) {
				t.Errorf("message %q does not contain %q", msg, tc.wantInMsg)
			}
		})
	}
}

func TestCompile(t *testing.T) {
	a, err := Compile("result >= 0.5")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile("result >= 0.5")
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the same expression compiled twice: want the cached condition")
	}
	if a.String() != "result >= 0.5" {
		t.Errorf("String() = %q", a.String())
	}
	for _, bad := range []string{"result >=", "nosuchvar > 1", `"a" + 1`, "1 + 2"} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("Compile(%q): want an error", bad)
		} else if !strings.Contains(err.Error(), bad) {
			t.Errorf("Compile(%q) error %q does not name the expression", bad, err)
		}
	}
}

func TestFormatValue(t *testing.T) {
	tests := map[string]struct {
		value any
		want  string
	}{
		"four decimals":         {0.99512, "0.9951"},
		"trailing zeros":        {0.995, "0.995"},
		"rounds up to one":      {0.99999, "1"},
		"small":                 {0.0023456, "0.002346"},
		"large":                 {1234.56789, "1234.5679"},
		"whole float":           {3.0, "3"},
		"int":                   {42, "42"},
		"negative":              {-1.23456, "-1.2346"},
		"zero":                  {0.0, "0"},
		"NaN":                   {math.NaN(), "NaN"},
		"infinity":              {math.Inf(1), "+Inf"},
		"string":                {"ok", "ok"},
		"bool":                  {true, "true"},
		"list":                  {[]float64{0.5, 1.0 / 3}, "[0.5, 0.3333]"},
		"nil":                   {nil, ""},
		"tiny negative rounded": {-0.00000000001, "-0.00000000001"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := FormatValue(tc.value); got != tc.want {
				t.Errorf("FormatValue(%v) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

// BenchmarkEvaluate measures judging one value with a cached condition.
func BenchmarkEvaluate(b *testing.B) {
	m := metric(success("result >= 0.99"), failure("result < 0.9"))
	for b.Loop() {
		if p, _ := Evaluate(m, 0.995); p != v1alpha1.AnalysisSuccessful {
			b.Fatal(p)
		}
	}
}
