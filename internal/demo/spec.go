package demo

import (
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// timing is how long the demo's pauses and measurements last.
type timing struct {
	pause    time.Duration // the timed pause step
	interval time.Duration // the analysis interval
	rps      int           // the load, requests per second
}

var (
	normal = timing{pause: 15 * time.Second, interval: 5 * time.Second, rps: 100}
	fast   = timing{pause: 3 * time.Second, interval: 2 * time.Second, rps: 200}
)

// release is one version the demo rolls out.
type release struct {
	version string
	// errorRate is the sample app's --error-rate flag ("" for a good version).
	errorRate string
	// wantAbort says whether Fledge is expected to roll it back.
	wantAbort bool
}

var releases = []release{
	{version: "v2", errorRate: "POST /login=0.2", wantAbort: true},
	{version: "v3"},
}

// spec is the demo's Rollout for a version: the example, with the
// demo's timings, the sample app as the program, a free port, and the
// canary judge as the background analysis (the step analysis keeps the
// example's success-rate metric).
func spec(exe, version, errorRate, listen string, t timing) *v1alpha1.Rollout {
	cmd := []string{exe, "sample-app", "--version", version, "--latency", "GET /=2ms,POST /login=5ms"}
	if errorRate != "" {
		cmd = append(cmd, "--error-rate", errorRate)
	}
	i32 := func(v int32) *int32 { return &v }
	grace := int64(10)
	analysis := v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "success-rate"}}}
	judged := v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "judge"}}}
	ro := &v1alpha1.Rollout{
		Spec: v1alpha1.RolloutSpec{
			Replicas: i32(2),
			Template: &v1alpha1.ProcessTemplate{
				Command:        cmd,
				Env:            []v1alpha1.EnvVar{{Name: "GREETING", Value: "hello"}},
				ReadinessProbe: &v1alpha1.Probe{HTTPGet: &v1alpha1.HTTPGetAction{Path: "/healthz"}, PeriodSeconds: 1, FailureThreshold: 2},
				LivenessProbe:  &v1alpha1.Probe{HTTPGet: &v1alpha1.HTTPGetAction{Path: "/healthz"}, PeriodSeconds: 2, FailureThreshold: 3},
				StartupProbe:   &v1alpha1.Probe{TCPSocket: &v1alpha1.TCPSocketAction{}, PeriodSeconds: 1, FailureThreshold: 30},
			},
			TerminationGracePeriodSeconds: &grace,
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				TrafficRouting: &v1alpha1.TrafficRouting{Proxy: &v1alpha1.ProxyRouting{Listen: listen}},
				Stickiness:     &v1alpha1.Stickiness{Cookie: "fledge-web"},
				Steps: []v1alpha1.CanaryStep{
					{SetWeight: i32(10)},
					{Pause: &v1alpha1.RolloutPause{Duration: &v1alpha1.Duration{Duration: t.pause}}},
					{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "testers", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}}}}},
					{Analysis: &analysis},
					{SetWeight: i32(50)},
					{Pause: &v1alpha1.RolloutPause{}},
					{SetWeight: i32(100)},
				},
				Analysis:              &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: judged, StartingStep: i32(1)},
				ScaleDownDelaySeconds: i32(5),
			}},
			AnalysisTemplates: []v1alpha1.NamedAnalysisTemplate{{
				Name: "success-rate",
				AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{
					Name:             "success-rate",
					Interval:         &v1alpha1.Duration{Duration: t.interval},
					FailureLimit:     i32(1),
					SuccessCondition: "result >= 0.99",
					Provider:         v1alpha1.MetricProvider{Builtin: &v1alpha1.BuiltinMetric{SuccessRate: &struct{}{}}},
				}}},
			}, {
				// The background judge: canary against stable every second,
				// rolled back after 3 failed requests more than stable's rate
				// predicts (or sooner, on the statistics), the weight held
				// until it passes. Slow means slower than an SLO of 500ms:
				// the sample app answers in milliseconds, so a good canary
				// has nothing slow to be held on.
				Name: "judge",
				AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{Judge: &v1alpha1.Judge{
					MaxCanaryFailures: 3,
					Latency:           &v1alpha1.JudgeLatency{Threshold: &v1alpha1.Duration{Duration: 500 * time.Millisecond}},
				}},
			}},
		},
	}
	ro.APIVersion, ro.Kind, ro.Name = v1alpha1.APIVersion, v1alpha1.KindRollout, "web"
	return ro
}
