package run

import (
	"reflect"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

func TestResolve(t *testing.T) {
	str := func(s string) *string { return &s }
	metric := func(name, route string) v1alpha1.Metric {
		return v1alpha1.Metric{Name: name, SuccessCondition: "result >= 0.99",
			Provider: v1alpha1.MetricProvider{Builtin: &v1alpha1.BuiltinMetric{SuccessRate: &struct{}{}, Route: route}}}
	}
	templates := []v1alpha1.NamedAnalysisTemplate{
		{Name: "login", AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{
			Args:    []v1alpha1.Argument{{Name: "method", Value: str("POST")}, {Name: "path"}},
			Metrics: []v1alpha1.Metric{metric("login", "{{args.method}} {{ args.path }}")},
		}},
		{Name: "home", AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{
			Metrics: []v1alpha1.Metric{metric("home", "GET /")},
		}},
		{Name: "typo", AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{
			Metrics: []v1alpha1.Metric{metric("typo", "{{args.pth}}")},
		}},
	}
	ref := func(names ...string) []v1alpha1.AnalysisTemplateRef {
		var out []v1alpha1.AnalysisTemplateRef
		for _, n := range names {
			out = append(out, v1alpha1.AnalysisTemplateRef{TemplateName: n})
		}
		return out
	}
	args := func(kv ...string) []v1alpha1.AnalysisRunArgument {
		var out []v1alpha1.AnalysisRunArgument
		for i := 0; i < len(kv); i += 2 {
			out = append(out, v1alpha1.AnalysisRunArgument{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := map[string]struct {
		analysis   v1alpha1.RolloutAnalysis
		wantRoutes []string
		wantArgs   []v1alpha1.AnalysisRunArgument
		wantErr    string
	}{
		"defaults and a given value": {
			analysis:   v1alpha1.RolloutAnalysis{Templates: ref("login"), Args: args("path", "/login")},
			wantRoutes: []string{"POST /login"}, wantArgs: args("method", "POST", "path", "/login"),
		},
		"the run's value overrides the default": {
			analysis:   v1alpha1.RolloutAnalysis{Templates: ref("login"), Args: args("path", "/login", "method", "PUT")},
			wantRoutes: []string{"PUT /login"}, wantArgs: args("method", "PUT", "path", "/login"),
		},
		"values that need JSON escaping": {
			analysis:   v1alpha1.RolloutAnalysis{Templates: ref("login"), Args: args("path", `/a"b\c<d>`)},
			wantRoutes: []string{`POST /a"b\c<d>`}, wantArgs: args("method", "POST", "path", `/a"b\c<d>`),
		},
		"metrics of every template, in order": {
			analysis:   v1alpha1.RolloutAnalysis{Templates: ref("home", "login"), Args: args("path", "/x")},
			wantRoutes: []string{"GET /", "POST /x"}, wantArgs: args("method", "POST", "path", "/x"),
		},
		"a missing value": {
			analysis: v1alpha1.RolloutAnalysis{Templates: ref("login")},
			wantErr:  `template "login": argument "path" has no value: give it in the analysis's args`,
		},
		"an undeclared argument": {
			analysis: v1alpha1.RolloutAnalysis{Templates: ref("typo"), Args: args("pth", "/")},
			wantErr:  `template "typo": metric "typo" refers to {{args.pth}}, which its template does not declare`,
		},
		"an unknown template": {
			analysis: v1alpha1.RolloutAnalysis{Templates: ref("nope")},
			wantErr:  `no analysis template "nope" in the rollout's analysisTemplates (have "login", "home", "typo")`,
		},
		"a cluster-scoped template": {
			analysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "home", ClusterScope: true}}},
			wantErr:  "only in Kubernetes mode",
		},
		"no template": {wantErr: "names no template"},
		"the canary's revision from the release": {
			analysis: v1alpha1.RolloutAnalysis{Templates: ref("login"), Args: []v1alpha1.AnalysisRunArgument{
				{Name: "path", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: str("Latest")}},
				{Name: "method", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: str("Stable")}},
			}},
			wantRoutes: []string{"1 2"}, wantArgs: args("method", "1", "path", "2"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := resolve(tc.analysis, templates, env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var routes []string
			for _, m := range got.metrics {
				routes = append(routes, m.Provider.Builtin.Route)
				if m.FailureLimit == nil || m.ConsecutiveErrorLimit == nil || m.Provider.Builtin.Version != "canary" {
					t.Errorf("metric %q is not defaulted", m.Name)
				}
			}
			if !reflect.DeepEqual(routes, tc.wantRoutes) || !reflect.DeepEqual(got.args, tc.wantArgs) {
				t.Errorf("routes %q args %v, want %q %v", routes, got.args, tc.wantRoutes, tc.wantArgs)
			}
		})
	}
	if templates[0].Metrics[0].Provider.Builtin.Route != "{{args.method}} {{ args.path }}" || templates[0].Metrics[0].FailureLimit != nil {
		t.Error("resolve changed the rollout's templates")
	}
}
