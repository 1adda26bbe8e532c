package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/provider/prometheus"
	"fledge.dev/fledge/internal/analysis/provider/prometheus/promtest"
	"fledge.dev/fledge/internal/metrics"
)

// The example judges of examples/kubernetes/analysis, run against a real
// Prometheus scraping series named and labelled as ingress-nginx, Istio
// and an Envoy gateway (Contour's cluster names) expose them, for Rollout
// "web" in namespace "default": each example's queries, their arguments
// and placeholders filled in as a run fills them, must tell the canary's
// requests, failures and latency from stable's.

// exampleSeries writes a version's series in one system's names: n
// requests of which failed are 5xx, and slow of them slower than 500ms
// (the others at 50ms).
type exampleSeries func(e *promtest.Exporter, version string, n, failed, slow float64)

var exampleSystems = map[string]struct {
	file, template string
	args           []v1alpha1.AnalysisRunArgument
	write          exampleSeries
}{
	"ingress-nginx": {file: "judge-ingress-nginx.yaml", template: "nginx-judge",
		args: []v1alpha1.AnalysisRunArgument{{Name: "ingress", Value: "web"}},
		write: func(e *promtest.Exporter, version string, n, failed, slow float64) {
			canary := ""
			if version == "canary" {
				canary = "default-web-canary-80"
			}
			l := fmt.Sprintf(`namespace="default",ingress="web",service="web-stable",method="GET",path="/",canary=%q`, canary)
			e.Set(`nginx_ingress_controller_requests{`+l+`,status="200"}`, n-failed)
			e.Set(`nginx_ingress_controller_requests{`+l+`,status="503"}`, failed)
			histogramSeries(e, "nginx_ingress_controller_request_duration_seconds_bucket", l, 0.001, nginxBounds, n, slow)
		}},
	"istio": {file: "judge-istio.yaml", template: "istio-judge",
		write: func(e *promtest.Exporter, version string, n, failed, slow float64) {
			l := fmt.Sprintf(`reporter="destination",destination_service_namespace="default",destination_service_name="web-%s",destination_workload="web-%s"`, version, version)
			e.Set(`istio_requests_total{`+l+`,response_code="200"}`, n-failed)
			e.Set(`istio_requests_total{`+l+`,response_code="500"}`, failed)
			e.Set(`istio_requests_total{reporter="source",destination_service_namespace="default",destination_service_name="web-`+version+`",response_code="200"}`, 1e6) // the other reporter: never counted
			histogramSeries(e, "istio_request_duration_milliseconds_bucket", l, 1, []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}, n, slow)
		}},
	"gateway-api": {file: "judge-gateway-api.yaml", template: "gateway-judge",
		write: func(e *promtest.Exporter, version string, n, failed, slow float64) {
			l := fmt.Sprintf(`envoy_cluster_name="default_web-%s_80_da39a3ee5e"`, version)
			e.Set(`envoy_cluster_upstream_rq_xx{`+l+`,envoy_response_code_class="2"}`, n-failed)
			e.Set(`envoy_cluster_upstream_rq_xx{`+l+`,envoy_response_code_class="5"}`, failed)
			histogramSeries(e, "envoy_cluster_upstream_rq_time_bucket", l, 1, []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}, n, slow)
		}},
}

// histogramSeries writes cumulative buckets for n requests, slow of them
// at 1s and the others at 50ms, in the histogram's unit (perMs: bounds
// per millisecond, 0.001 for seconds).
func histogramSeries(e *promtest.Exporter, name, labels string, perMs float64, bounds []float64, n, slow float64) {
	for _, b := range bounds {
		var cum float64
		if b >= 50*perMs {
			cum = n - slow
		}
		if b >= 1000*perMs {
			cum = n
		}
		e.Set(fmt.Sprintf(`%s{%s,le="%g"}`, name, labels, b), cum)
	}
	e.Set(fmt.Sprintf(`%s{%s,le="+Inf"}`, name, labels), n)
}

// exampleJudge loads an example's template and resolves its judge as a run
// of Rollout "web" does, reading prom.
func exampleJudge(t *testing.T, file, template string, args []v1alpha1.AnalysisRunArgument, prom string) v1alpha1.Judge {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "kubernetes", "analysis", file))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := v1alpha1.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var templates []v1alpha1.NamedAnalysisTemplate
	for _, o := range objs {
		if tpl, ok := o.(*v1alpha1.AnalysisTemplate); ok {
			templates = append(templates, v1alpha1.NamedAnalysisTemplate{Name: tpl.Name, AnalysisTemplateSpec: tpl.Spec})
		}
	}
	r, err := resolve(v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: template}}, Args: args}, templates, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.judges) != 1 || r.judges[0].Prometheus == nil {
		t.Fatalf("%s: template %s has no judge reading Prometheus", file, template)
	}
	j := r.judges[0]
	j.Prometheus.Address = prom
	return j
}

func TestExampleJudgesTellTheVersionsApart(t *testing.T) {
	promtest.Binary(t)
	e := promtest.NewExporter(t)
	systems := make([]string, 0, len(exampleSystems))
	for name, s := range exampleSystems {
		systems = append(systems, name)
		s.write(e, "stable", 1000, 1, 0)
		s.write(e, "canary", 100, 0, 0)
	}
	sort.Strings(systems)
	prom := promtest.Start(t, e.Addr)
	t1 := prom.WaitFor(t, `envoy_cluster_upstream_rq_xx{envoy_cluster_name=~".*web-canary.*",envoy_response_code_class="2"} == 100`, 1)
	// Over the window: stable 400 more requests (2 failed, none slow), the
	// canary 100 more (10 failed, 20 slow).
	for _, name := range systems {
		exampleSystems[name].write(e, "stable", 1400, 3, 0)
		exampleSystems[name].write(e, "canary", 200, 10, 20)
	}
	t2 := prom.WaitFor(t, `envoy_cluster_upstream_rq_xx{envoy_cluster_name=~".*web-canary.*",envoy_response_code_class="2"} == 190`, 1)

	p, err := provider.New(prometheus.ID, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	reader := p.(windowReader)
	for _, name := range systems {
		t.Run(name, func(t *testing.T) {
			s := exampleSystems[name]
			j := exampleJudge(t, s.file, s.template, s.args, prom.URL)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			canary, stable, err := reader.JudgeVersions(ctx, j, provider.Env{Rollout: "web", CanaryRevision: "2", StableRevision: "1", WindowStart: t1, Now: t2})
			if err != nil {
				t.Fatal(err)
			}
			if canary.Requests != 100 || canary.Errors != 10 || stable.Requests != 400 || stable.Errors != 2 {
				t.Errorf("canary %d requests %d failed, stable %d and %d; want 100 and 10, 400 and 2", canary.Requests, canary.Errors, stable.Requests, stable.Errors)
			}
			// The example's threshold, 500ms, is a bound of each system's
			// histogram: slow are the requests above it.
			cut := sort.SearchFloat64s(metrics.Buckets, j.Latency.Threshold.Seconds())
			for _, v := range []struct {
				name       string
				c          metrics.Counts
				slow, more uint64
			}{{"canary", canary, 20, 100}, {"stable", stable, 0, 400}} {
				var slow, total uint64
				for i, n := range v.c.Buckets {
					total += n
					if i > cut {
						slow += n
					}
				}
				if slow != v.slow || total != v.more {
					t.Errorf("%s: %d slow of %d in the histogram, want %d of %d", v.name, slow, total, v.slow, v.more)
				}
			}
		})
	}
}
