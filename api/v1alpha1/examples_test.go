package v1alpha1

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadExamples(t *testing.T) {
	tests := map[string]struct {
		file     string
		rollouts []string
	}{
		"canary":     {file: "example.yaml", rollouts: []string{"web"}},
		"blue-green": {file: "bluegreen.yaml", rollouts: []string{"api"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := Load(readFile(t, tc.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.rollouts, ",") {
				t.Fatalf("rollouts = %v, want %v", got, tc.rollouts)
			}
		})
	}
}

// TestLoadExampleDefaults checks that Load returns the example ready for
// the engine: defaulted, with the values the user wrote kept.
func TestLoadExampleDefaults(t *testing.T) {
	rs, err := Load(readFile(t, "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	c := r.Spec.Strategy.Canary
	checks := map[string]struct{ got, want any }{
		"replicas":        {Int32(r.Spec.Replicas), int32(2)},
		"grace":           {*r.Spec.TerminationGracePeriodSeconds, int64(10)},
		"deadline":        {Int32(r.Spec.ProgressDeadlineSeconds), int32(DefaultProgressDeadlineSeconds)},
		"steps":           {len(c.Steps), 7},
		"pause":           {c.Steps[1].Pause.Duration.String(), "30s"},
		"promote pause":   {c.Steps[5].Pause.Duration == nil, true},
		"starting step":   {Int32(c.Analysis.StartingStep), int32(1)},
		"failover":        {Bool(c.TrafficRouting.Proxy.CanaryFailover.Enabled), true},
		"probe timeout":   {r.Spec.Template.ReadinessProbe.TimeoutSeconds, int32(DefaultProbeTimeoutSeconds)},
		"metric version":  {r.Spec.AnalysisTemplates[0].Metrics[0].Provider.Builtin.Version, "canary"},
		"metric interval": {r.Spec.AnalysisTemplates[0].Metrics[0].Interval.String(), "5s"},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
}

// TestLoadBlueGreenUsesStandaloneTemplate checks that a Rollout gets the
// AnalysisTemplate documents of its file that it names.
func TestLoadBlueGreenUsesStandaloneTemplate(t *testing.T) {
	rs, err := Load(readFile(t, "bluegreen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tpl := range rs[0].Spec.AnalysisTemplates {
		names = append(names, tpl.Name)
	}
	if got := strings.Join(names, ","); got != "latency,smoke" {
		t.Fatalf("analysisTemplates = %s, want latency,smoke", got)
	}
	smoke := rs[0].Spec.AnalysisTemplates[1]
	if got := smoke.Metrics[0].Provider.Builtin.Route; got != "GET /api/items" {
		t.Errorf("smoke route = %q", got)
	}
	if got := Int32(smoke.Metrics[0].ConsecutiveErrorLimit); got != DefaultConsecutiveErrorLimit {
		t.Errorf("smoke consecutiveErrorLimit = %d, want the default", got)
	}
}

// TestLoadTwentyMistakes is the acceptance test: one spec with more than
// twenty kinds of mistakes, each rejected with its own message naming the
// field, all in one error.
func TestLoadTwentyMistakes(t *testing.T) {
	want := []string{
		`metadata.name: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit), got "Web_Shop"`,
		`spec.replicas: must not be negative, got -1`,
		`spec.template.command: required: the program to run and its arguments`,
		`spec.template.env[0].name: PORT is reserved: Fledge sets it to each replica's port`,
		`spec.template.env[1].name: must be letters, digits, '_', '-' or '.', not starting with a digit, got "1X"`,
		`spec.template.env[3].name: duplicate "GREETING" (also env[2])`,
		`spec.template.readinessProbe: must set exactly one of httpGet, tcpSocket or exec, got none`,
		`spec.template.livenessProbe.httpGet.path: must start with '/', got "healthz"`,
		`spec.template.livenessProbe.httpGet.port: must be between 1 and 65535, got 70000`,
		`spec.template.livenessProbe.httpGet.scheme: must be HTTP or HTTPS, got "FTP"`,
		`spec.template.livenessProbe.timeoutSeconds: must be at least 1, got -1`,
		`spec.template.livenessProbe.successThreshold: must be 1 for a liveness probe, got 2`,
		`spec.template.startupProbe.exec.command: required: the program to run and its arguments`,
		`spec.template.startupProbe.failureThreshold: must be at least 1, got -3`,
		`spec.revisionHistoryLimit: must not be negative, got -2`,
		`spec.progressDeadlineSeconds: must be greater than spec.minReadySeconds (700), got 600`,
		`spec.terminationGracePeriodSeconds: must not be negative, got -5`,
		`spec.strategy.canary.trafficRouting.proxy.listen: port must be a number between 1 and 65535, got "http"`,
		`spec.strategy.canary.trafficRouting.proxy.previewListen: must be host:port, e.g. "127.0.0.1:8080": address 127.0.0.1: missing port in address`,
		`spec.strategy.canary.trafficRouting.proxy.canaryFailover.methods[1]: must be an HTTP method in upper case, such as GET or POST, got "post"`,
		`spec.strategy.canary.trafficRouting.proxy.canaryFailover.maxBodyBytes: must not be negative, got -1`,
		`spec.strategy.canary.stickiness: must set exactly one of cookie or header, got cookie and header`,
		`spec.strategy.canary.steps[0].setWeight: must be between 0 and 100, got 120`,
		`spec.strategy.canary.steps[1].pause.duration: must not be negative, got -5s`,
		`spec.strategy.canary.steps[2]: must set exactly one of setWeight, pause, analysis, setHeaderRoute or setMirrorRoute, got none`,
		`spec.strategy.canary.steps[3]: must set exactly one of setWeight, pause, analysis, setHeaderRoute or setMirrorRoute, got setWeight and pause`,
		`spec.strategy.canary.steps[4].analysis.templates[0].templateName: no analysis template "sucess-rate" in spec.analysisTemplates (available: "success-rate")`,
		`spec.strategy.canary.steps[4].analysis.args[1].name: duplicate "a"`,
		`spec.strategy.canary.steps[5].setHeaderRoute.name: required`,
		`spec.strategy.canary.steps[5].setHeaderRoute.match[0]: must set exactly one of headerName or cookieName, got headerName and cookieName`,
		"spec.strategy.canary.steps[5].setHeaderRoute.match[1].headerValue.regex: invalid regular expression: error parsing regexp: missing closing ): `(unclosed`",
		`spec.strategy.canary.steps[6].setMirrorRoute.percentage: must be between 0 and 100, got 150`,
		`spec.strategy.canary.steps[6].setMirrorRoute.match[0].path: must set exactly one of exact, prefix or regex, got exact and prefix`,
		`spec.strategy.canary.analysis.startingStep: must be between 0 and 7 (the number of steps), got 12`,
		`spec.strategy.canary.scaleDownDelaySeconds: must not be negative, got -30`,
		`spec.analysisTemplates[0].metrics[0].interval: must be positive, got 0s`,
		`spec.analysisTemplates[0].metrics[0].failureLimit: must not be negative, got -1`,
		`spec.analysisTemplates[0].metrics[0].successCondition: invalid CEL expression: 1:10: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}`,
		`spec.analysisTemplates[0].metrics[0].failureCondition: must yield a bool, got string`,
		`spec.analysisTemplates[0].metrics[0].provider.builtin: must set exactly one of successRate, errorRate, latencyP50, latencyP95, latencyP99 or requestRate, got successRate and latencyP99`,
		`spec.analysisTemplates[0].metrics[0].provider.builtin.version: must be canary or stable, got "beta"`,
		`spec.analysisTemplates[0].metrics[0].provider.builtin.route: must be "/path" or "METHOD /path", e.g. "POST /login", got "login"`,
		`spec.analysisTemplates[0].metrics[1].name: duplicate "success-rate"`,
		`spec.analysisTemplates[0].metrics[1].count: above 1 needs an interval between measurements, got 3 without one`,
		`spec.analysisTemplates[0].metrics[1]: must set successCondition or failureCondition (or both)`,
		`spec.analysisTemplates[0].metrics[1].provider: must set exactly one of builtin, prometheus, web or job, got none`,
		`spec.analysisTemplates[1].name: duplicate "success-rate"`,
		`spec.analysisTemplates[1].metrics: required: at least one metric, or a judge`,
	}
	rs, err := Load(readFile(t, "twenty-mistakes.yaml"))
	if err == nil {
		t.Fatalf("Load accepted the spec: %v", rs)
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want an ErrorList: %v", err, err)
	}
	got := strings.Split(err.Error(), "\n")
	if len(list) != len(got) {
		t.Errorf("ErrorList has %d errors but Error() %d lines", len(list), len(got))
	}
	have := map[string]bool{}
	for _, g := range got {
		have[g] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("missing: %s", w)
		}
		delete(have, w)
	}
	for g := range have {
		t.Errorf("unexpected: %s", g)
	}
	// Count the kinds: the reason with the values and the indexes taken out.
	kinds := map[string]bool{}
	for _, e := range list {
		kinds[kindOf(e)] = true
	}
	t.Logf("%d mistakes of %d kinds", len(list), len(kinds))
	if len(kinds) < 20 {
		t.Errorf("only %d kinds of mistakes: %v", len(kinds), kinds)
	}
}

// kindOf names the kind of a mistake: the field and the first words of
// the reason, without indexes or values.
func kindOf(e *FieldError) string {
	p := e.Path
	if i := strings.LastIndex(p, "."); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.Index(p, "["); i >= 0 {
		p = p[:i]
	}
	r, _, _ := strings.Cut(e.Reason, ",")
	r, _, _ = strings.Cut(r, "\"")
	return p + ": " + r
}
