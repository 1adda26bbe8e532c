package controller

import (
	"context"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestAnalysisRefsFindEveryAnalysis(t *testing.T) {
	ref := func(name string) v1alpha1.RolloutAnalysis {
		return v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: name}}}
	}
	step, bg, pre, post := ref("step"), ref("bg"), ref("pre"), ref("post")
	canary := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		Steps:    []v1alpha1.CanaryStep{{}, {Analysis: &step}},
		Analysis: &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: bg},
	}}}}
	blueGreen := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
		PrePromotionAnalysis: &pre, PostPromotionAnalysis: &post,
	}}}}
	tests := map[string]struct {
		ro   *v1alpha1.Rollout
		want []string
	}{
		"canary": {canary, []string{
			"spec.strategy.canary.steps[1].analysis.templates[0] step",
			"spec.strategy.canary.analysis.templates[0] bg",
		}},
		"blue-green": {blueGreen, []string{
			"spec.strategy.blueGreen.prePromotionAnalysis.templates[0] pre",
			"spec.strategy.blueGreen.postPromotionAnalysis.templates[0] post",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, r := range analysisRefs(tc.ro) {
				got = append(got, r.path+" "+r.ref.TemplateName)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestClusterSupportNamesWhatCannotMeasure(t *testing.T) {
	metric := func(name string, p v1alpha1.MetricProvider) v1alpha1.Metric {
		return v1alpha1.Metric{Name: name, Provider: p}
	}
	prom := v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Address: "http://p", Query: "up"}}
	builtin := v1alpha1.MetricProvider{Builtin: &v1alpha1.BuiltinMetric{SuccessRate: &struct{}{}}}
	job := v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Command: []string{"true"}}}
	tests := map[string]struct {
		tpl  v1alpha1.AnalysisTemplateSpec
		used bool
		want []string // parts of the error; none: no error
	}{
		"prometheus": {tpl: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric("ok", prom)}}, used: true},
		"builtin":    {tpl: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric("ok", prom), metric("rate", builtin)}}, used: true, want: []string{"spec.analysisTemplates[0].metrics[1].provider.builtin", `"rate"`, "embedded proxy"}},
		"job":        {tpl: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric("cmd", job)}}, used: true, want: []string{"metrics[0].provider.job", "local daemon"}},
		"judge":      {tpl: v1alpha1.AnalysisTemplateSpec{Judge: &v1alpha1.Judge{}}, used: true, want: []string{"spec.analysisTemplates[0].judge", "embedded proxy", "judge.prometheus"}},
		"prometheus judge": {tpl: v1alpha1.AnalysisTemplateSpec{Judge: &v1alpha1.Judge{Prometheus: &v1alpha1.JudgePrometheus{
			Address: "http://p", Requests: `requests_total{service="{{service}}"}`, Failures: `failures_total{service="{{service}}"}`}}}, used: true},
		"unused builtin": {tpl: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric("rate", builtin)}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			step := v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "other"}}}
			if tc.used {
				step.Templates[0].TemplateName = "t"
			}
			ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{
				AnalysisTemplates: []v1alpha1.NamedAnalysisTemplate{{Name: "t", AnalysisTemplateSpec: tc.tpl}},
				Strategy:          v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{{Analysis: &step}}}},
			}}
			err := clusterSupport(ro, analysisRefs(ro), map[string]string{"t": "spec.analysisTemplates[0]"})
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if _, ok := err.(*specError); !ok {
				t.Fatalf("got %v (%T), want a *specError", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestVerdictMessageNamesMetricsAndValues(t *testing.T) {
	r := &v1alpha1.AnalysisRun{Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisFailed, MetricResults: []v1alpha1.MetricResult{
		{Name: "success-ratio", Phase: v1alpha1.AnalysisFailed, Message: "1 of 1 measurements failed",
			Measurements: []v1alpha1.Measurement{{Value: "0.9"}, {Value: "0.5"}}},
		{Name: "latency", Phase: v1alpha1.AnalysisSuccessful},
	}}}
	r.Name = "web-rabc-step1-1"
	got := verdictMessage(r)
	want := `analysis run web-rabc-step1-1 Failed: metric "success-ratio" failed, last value 0.5: 1 of 1 measurements failed; metric "latency" successful`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// listCounter is a client.Reader that counts the LISTs and finds nothing.
type listCounter struct {
	client.Reader
	lists int
}

func (l *listCounter) List(context.Context, client.ObjectList, ...client.ListOption) error {
	l.lists++
	return nil
}

func TestRunManagerOnlyForRolloutsWithAnalysis(t *testing.T) {
	step := v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "t"}}}
	mk := func(name string, analysis bool, runSeq int32) *v1alpha1.Rollout {
		ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			Steps: []v1alpha1.CanaryStep{{}}}}}}
		if analysis {
			ro.Spec.Strategy.Canary.Steps[0].Analysis = &step
		}
		ro.Name, ro.Namespace, ro.UID, ro.Status.RunSeq = name, "ns", types.UID(name), runSeq
		return ro
	}
	tests := map[string]struct {
		ro      *v1alpha1.Rollout
		dec     rollout.Decision
		manager bool
	}{
		"no analysis":             {ro: mk("plain", false, 0)},
		"analysis in the spec":    {ro: mk("step", true, 0), manager: true},
		"ran one before":          {ro: mk("history", false, 3), manager: true},
		"a decision starts a run": {ro: mk("asked", false, 0), dec: rollout.Decision{Analysis: []rollout.RunSpec{{}}}, manager: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reader := &listCounter{}
			a := NewAnalyses(nil, reader, nil, logr.Discard(), make(chan event.GenericEvent, 1))
			if _, err := a.observe(context.Background(), tc.ro); err != nil {
				t.Fatal(err)
			}
			if len(tc.dec.Analysis) > 0 {
				rr, err := a.forRollout(context.Background(), tc.ro, true)
				if err != nil || rr == nil {
					t.Fatalf("forRollout(want): %v, %v", rr, err)
				}
			}
			made := len(a.byOwner) == 1
			if made != tc.manager {
				t.Fatalf("run manager made: %v, want %v", made, tc.manager)
			}
			if want := map[bool]int{false: 0, true: 1}[tc.manager]; reader.lists != want {
				t.Fatalf("%d LISTs of AnalysisRuns, want %d", reader.lists, want)
			}
		})
	}
}
