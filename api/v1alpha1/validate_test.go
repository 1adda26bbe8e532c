package v1alpha1

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// base loads a testdata example, defaulted and valid, for a case to break.
func base(t *testing.T, file string) *Rollout {
	t.Helper()
	rs, err := Load(readFile(t, file))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return rs[0]
}

func i32(n int32) *int32            { return &n }
func i64(n int64) *int64            { return &n }
func dur(d time.Duration) *Duration { return &Duration{d} }

// canaryOf and friends reach into the examples; they are valid by
// TestLoadExamples.
// gatewayAPI replaces a canary's proxy with the Gateway API router.
func gatewayAPI(r *Rollout) {
	r.Spec.Strategy.Canary.TrafficRouting = &TrafficRouting{GatewayAPI: &GatewayAPIRouting{HTTPRoute: "web"}}
}

func canaryOf(r *Rollout) *CanaryStrategy       { return r.Spec.Strategy.Canary }
func blueGreenOf(r *Rollout) *BlueGreenStrategy { return r.Spec.Strategy.BlueGreen }
func proxyOf(r *Rollout) *ProxyRouting {
	if c := r.Spec.Strategy.Canary; c != nil {
		return c.TrafficRouting.Proxy
	}
	return r.Spec.Strategy.BlueGreen.TrafficRouting.Proxy
}
func metricOf(r *Rollout) *Metric { return &r.Spec.AnalysisTemplates[0].Metrics[0] }

const (
	steps = "spec.strategy.canary.steps"
	proxy = "spec.strategy.canary.trafficRouting.proxy"
	bg    = "spec.strategy.blueGreen"
	m0    = "spec.analysisTemplates[0].metrics[0]"
)

// TestValidateRejects breaks one field of a valid example per case and
// expects exactly the one message that names it.
func TestValidateRejects(t *testing.T) {
	tests := map[string]struct {
		file   string // default example.yaml (canary)
		mutate func(r *Rollout)
		want   string
	}{
		// metadata and type
		"no name":        {mutate: func(r *Rollout) { r.Name = "" }, want: "metadata.name: required"},
		"long name":      {mutate: func(r *Rollout) { r.Name = strings.Repeat("a", 64) }, want: "metadata.name: must be at most 63 characters, got 64"},
		"name ends dash": {mutate: func(r *Rollout) { r.Name = "web-" }, want: `metadata.name: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit), got "web-"`},
		"wrong kind":     {mutate: func(r *Rollout) { r.Kind = "Deployment" }, want: `kind: must be Rollout, got "Deployment"`},
		"wrong version":  {mutate: func(r *Rollout) { r.APIVersion = "argoproj.io/v1alpha1" }, want: `apiVersion: must be "fledge.dev/v1alpha1", got "argoproj.io/v1alpha1"`},

		// spec
		"negative replicas": {mutate: func(r *Rollout) { r.Spec.Replicas = i32(-1) }, want: "spec.replicas: must not be negative, got -1"},
		"no workload":       {mutate: func(r *Rollout) { r.Spec.Template = nil }, want: "spec: must set template (local mode) or workloadRef (Kubernetes mode), got neither"},
		"both workloads": {mutate: func(r *Rollout) {
			r.Spec.WorkloadRef = &WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
		},
			want: "spec: must set only one of template or workloadRef, got both"},
		"workloadRef without name": {mutate: func(r *Rollout) {
			r.Spec.Template, r.Spec.WorkloadRef = nil, &WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment"}
			gatewayAPI(r)
		}, want: "spec.workloadRef.name: required"},
		"workloadRef with the proxy": {mutate: func(r *Rollout) {
			r.Spec.Template, r.Spec.WorkloadRef = nil, &WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
		}, want: "spec.strategy.canary.trafficRouting.proxy: the embedded proxy serves local mode only: workloadRef needs a Kubernetes router: set trafficRouting.gatewayAPI, nginx or istio (or service, for blueGreen)"},
		"workloadRef canary with the service router": {mutate: func(r *Rollout) {
			r.Spec.Template, r.Spec.WorkloadRef = nil, &WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
			canaryOf(r).TrafficRouting = &TrafficRouting{Service: &ServiceRouting{}}
		}, want: "spec.strategy.canary.trafficRouting.service: the service router switches all traffic at once: use it with blueGreen; a canary needs nginx, gatewayAPI or istio"},
		"template with a Kubernetes router": {mutate: func(r *Rollout) { gatewayAPI(r) },
			want: "spec.strategy.canary.trafficRouting: template (local mode) needs trafficRouting.proxy: the Kubernetes routers (nginx, gatewayAPI, istio, service) serve workloadRef only"},
		"workloadRef without kind": {mutate: func(r *Rollout) {
			r.Spec.Template, r.Spec.WorkloadRef = nil, &WorkloadRef{APIVersion: "apps/v1", Name: "web"}
			gatewayAPI(r)
		}, want: "spec.workloadRef.kind: required"},
		"negative minReady": {mutate: func(r *Rollout) { r.Spec.MinReadySeconds = -1 }, want: "spec.minReadySeconds: must not be negative, got -1"},
		"negative history":  {mutate: func(r *Rollout) { r.Spec.RevisionHistoryLimit = i32(-1) }, want: "spec.revisionHistoryLimit: must not be negative, got -1"},
		"zero deadline":     {mutate: func(r *Rollout) { r.Spec.ProgressDeadlineSeconds = i32(0) }, want: "spec.progressDeadlineSeconds: must be at least 1, got 0"},
		"deadline <= minReady": {mutate: func(r *Rollout) { r.Spec.MinReadySeconds = 60; r.Spec.ProgressDeadlineSeconds = i32(60) },
			want: "spec.progressDeadlineSeconds: must be greater than spec.minReadySeconds (60), got 60"},
		"negative grace": {mutate: func(r *Rollout) { r.Spec.TerminationGracePeriodSeconds = i64(-1) }, want: "spec.terminationGracePeriodSeconds: must not be negative, got -1"},

		// template
		"no command":        {mutate: func(r *Rollout) { r.Spec.Template.Command = nil }, want: "spec.template.command: required: the program to run and its arguments"},
		"empty program":     {mutate: func(r *Rollout) { r.Spec.Template.Command[0] = "" }, want: `spec.template.command[0]: must name the program to run, got ""`},
		"NUL in argument":   {mutate: func(r *Rollout) { r.Spec.Template.Command[2] = "v\x002" }, want: "spec.template.command[2]: must not contain a NUL character"},
		"env without name":  {mutate: func(r *Rollout) { r.Spec.Template.Env[0].Name = "" }, want: "spec.template.env[0].name: required"},
		"env PORT":          {mutate: func(r *Rollout) { r.Spec.Template.Env[0].Name = "PORT" }, want: "spec.template.env[0].name: PORT is reserved: Fledge sets it to each replica's port"},
		"env bad name":      {mutate: func(r *Rollout) { r.Spec.Template.Env[0].Name = "A=B" }, want: `spec.template.env[0].name: must be letters, digits, '_', '-' or '.', not starting with a digit, got "A=B"`},
		"env NUL value":     {mutate: func(r *Rollout) { r.Spec.Template.Env[0].Value = "a\x00" }, want: "spec.template.env[0].value: must not contain a NUL character"},
		"env duplicate":     {mutate: func(r *Rollout) { r.Spec.Template.Env = append(r.Spec.Template.Env, EnvVar{Name: "GREETING"}) }, want: `spec.template.env[1].name: duplicate "GREETING" (also env[0])`},
		"probe no handler":  {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.HTTPGet = nil }, want: "spec.template.readinessProbe: must set exactly one of httpGet, tcpSocket or exec, got none"},
		"probe two handler": {mutate: func(r *Rollout) { r.Spec.Template.StartupProbe.Exec = &ExecAction{Command: []string{"true"}} }, want: "spec.template.startupProbe: must set exactly one of httpGet, tcpSocket or exec, got tcpSocket and exec"},
		"probe timeout 0":   {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.TimeoutSeconds = 0 }, want: "spec.template.readinessProbe.timeoutSeconds: must be at least 1, got 0"},
		"probe period 0":    {mutate: func(r *Rollout) { r.Spec.Template.LivenessProbe.PeriodSeconds = 0 }, want: "spec.template.livenessProbe.periodSeconds: must be at least 1, got 0"},
		"probe failure 0":   {mutate: func(r *Rollout) { r.Spec.Template.StartupProbe.FailureThreshold = 0 }, want: "spec.template.startupProbe.failureThreshold: must be at least 1, got 0"},
		"probe success 0":   {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.SuccessThreshold = 0 }, want: "spec.template.readinessProbe.successThreshold: must be at least 1, got 0"},
		"probe delay < 0":   {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.InitialDelaySeconds = -1 }, want: "spec.template.readinessProbe.initialDelaySeconds: must not be negative, got -1"},
		"liveness success":  {mutate: func(r *Rollout) { r.Spec.Template.LivenessProbe.SuccessThreshold = 2 }, want: "spec.template.livenessProbe.successThreshold: must be 1 for a liveness probe, got 2"},
		"startup success":   {mutate: func(r *Rollout) { r.Spec.Template.StartupProbe.SuccessThreshold = 3 }, want: "spec.template.startupProbe.successThreshold: must be 1 for a startup probe, got 3"},
		"http port high":    {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.HTTPGet.Port = 65536 }, want: "spec.template.readinessProbe.httpGet.port: must be between 1 and 65535, got 65536"},
		"http port < 0":     {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.HTTPGet.Port = -80 }, want: "spec.template.readinessProbe.httpGet.port: must be between 1 and 65535, got -80"},
		"tcp port high":     {mutate: func(r *Rollout) { r.Spec.Template.StartupProbe.TCPSocket.Port = 99999 }, want: "spec.template.startupProbe.tcpSocket.port: must be between 1 and 65535, got 99999"},
		"tcp host url":      {mutate: func(r *Rollout) { r.Spec.Template.StartupProbe.TCPSocket.Host = "http://x" }, want: `spec.template.startupProbe.tcpSocket.host: must be an IP address or a host name, without scheme or port, got "http://x"`},
		"http scheme lower": {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.HTTPGet.Scheme = "https" }, want: `spec.template.readinessProbe.httpGet.scheme: must be HTTP or HTTPS, got "https"`},
		"http path":         {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.HTTPGet.Path = "healthz" }, want: `spec.template.readinessProbe.httpGet.path: must start with '/', got "healthz"`},
		"http header name": {mutate: func(r *Rollout) {
			r.Spec.Template.ReadinessProbe.HTTPGet.HTTPHeaders = []HTTPHeader{{Name: "X Probe", Value: "1"}}
		}, want: `spec.template.readinessProbe.httpGet.httpHeaders[0].name: must be a valid HTTP header name, got "X Probe"`},
		"http header value": {mutate: func(r *Rollout) {
			r.Spec.Template.ReadinessProbe.HTTPGet.HTTPHeaders = []HTTPHeader{{Name: "X-Probe", Value: "a\r\nb"}}
		}, want: `spec.template.readinessProbe.httpGet.httpHeaders[0].value: must be a valid HTTP header value (no control characters), got "a\r\nb"`},
		"exec no command": {mutate: func(r *Rollout) {
			r.Spec.Template.StartupProbe = &Probe{Exec: &ExecAction{}, TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
		},
			want: "spec.template.startupProbe.exec.command: required: the program to run and its arguments"},

		// strategy and routing
		"no strategy":    {mutate: func(r *Rollout) { r.Spec.Strategy.Canary = nil }, want: "spec.strategy: must set exactly one of canary or blueGreen, got none"},
		"two strategies": {mutate: func(r *Rollout) { r.Spec.Strategy.BlueGreen = &BlueGreenStrategy{} }, want: "spec.strategy: must set exactly one of canary or blueGreen, got canary and blueGreen"},
		"no routing": {mutate: func(r *Rollout) { canaryOf(r).TrafficRouting = nil },
			want: `spec.strategy.canary.trafficRouting: required: the embedded proxy is the only router in local mode: set trafficRouting.proxy.listen, e.g. "127.0.0.1:8080"`},
		"no proxy": {mutate: func(r *Rollout) { canaryOf(r).TrafficRouting.Proxy = nil },
			want: proxy + `: required: the embedded proxy is the only router in local mode: set trafficRouting.proxy.listen, e.g. "127.0.0.1:8080"`},
		"no listen":        {mutate: func(r *Rollout) { proxyOf(r).Listen = "" }, want: proxy + ".listen: required"},
		"listen no port":   {mutate: func(r *Rollout) { proxyOf(r).Listen = "8080" }, want: proxy + `.listen: must be host:port, e.g. "127.0.0.1:8080": address 8080: missing port in address`},
		"listen port 0":    {mutate: func(r *Rollout) { proxyOf(r).Listen = "127.0.0.1:0" }, want: proxy + `.listen: port must be a number between 1 and 65535, got "0"`},
		"listen port name": {mutate: func(r *Rollout) { proxyOf(r).Listen = "127.0.0.1:http" }, want: proxy + `.listen: port must be a number between 1 and 65535, got "http"`},
		"listen port sign": {mutate: func(r *Rollout) { proxyOf(r).Listen = "127.0.0.1:+80" }, want: proxy + `.listen: port must be a number between 1 and 65535, got "+80"`},
		"listen bad host":  {mutate: func(r *Rollout) { proxyOf(r).Listen = "my_host:80" }, want: proxy + `.listen: host must be an IP address or a host name, got "my_host"`},
		"preview = listen": {mutate: func(r *Rollout) { proxyOf(r).PreviewListen = "127.0.0.1:8080" }, want: proxy + `.previewListen: must differ from listen ("127.0.0.1:8080")`},
		"preview wildcard": {mutate: func(r *Rollout) { proxyOf(r).PreviewListen = ":8080" }, want: proxy + `.previewListen: must differ from listen ("127.0.0.1:8080")`},
		"preview localhost": {mutate: func(r *Rollout) { proxyOf(r).PreviewListen = "localhost:8080" },
			want: proxy + `.previewListen: must differ from listen ("127.0.0.1:8080")`},
		"preview invalid": {mutate: func(r *Rollout) { proxyOf(r).PreviewListen = "127.0.0.1:70000" }, want: proxy + `.previewListen: port must be a number between 1 and 65535, got "70000"`},
		"method lower":    {mutate: func(r *Rollout) { proxyOf(r).CanaryFailover.Methods = []string{"get"} }, want: proxy + `.canaryFailover.methods[0]: must be an HTTP method in upper case, such as GET or POST, got "get"`},
		"method space":    {mutate: func(r *Rollout) { proxyOf(r).CanaryFailover.Methods = []string{"GET", "PO ST"} }, want: proxy + `.canaryFailover.methods[1]: must be an HTTP method in upper case, such as GET or POST, got "PO ST"`},
		"method dup":      {mutate: func(r *Rollout) { proxyOf(r).CanaryFailover.Methods = []string{"GET", "GET"} }, want: proxy + `.canaryFailover.methods[1]: duplicate "GET"`},
		"body < 0":        {mutate: func(r *Rollout) { proxyOf(r).CanaryFailover.MaxBodyBytes = i64(-1) }, want: proxy + ".canaryFailover.maxBodyBytes: must not be negative, got -1"},
		"stickiness none": {mutate: func(r *Rollout) { canaryOf(r).Stickiness.Cookie = "" }, want: "spec.strategy.canary.stickiness: must set exactly one of cookie or header, got none"},
		"stickiness both": {mutate: func(r *Rollout) { canaryOf(r).Stickiness.Header = "X-User" }, want: "spec.strategy.canary.stickiness: must set exactly one of cookie or header, got cookie and header"},
		"cookie invalid": {mutate: func(r *Rollout) { canaryOf(r).Stickiness.Cookie = "a;b" },
			want: `spec.strategy.canary.stickiness.cookie: must be a valid cookie name (an HTTP token: no spaces, separators or control characters), got "a;b"`},
		"header invalid": {mutate: func(r *Rollout) { canaryOf(r).Stickiness = &Stickiness{Header: "X:User"} }, want: `spec.strategy.canary.stickiness.header: must be a valid HTTP header name, got "X:User"`},
		"scaleDown < 0":  {mutate: func(r *Rollout) { canaryOf(r).ScaleDownDelaySeconds = i32(-1) }, want: "spec.strategy.canary.scaleDownDelaySeconds: must not be negative, got -1"},

		// steps
		"empty step":     {mutate: func(r *Rollout) { canaryOf(r).Steps[0] = CanaryStep{} }, want: steps + "[0]: must set exactly one of setWeight, pause, analysis, setHeaderRoute or setMirrorRoute, got none"},
		"step with two":  {mutate: func(r *Rollout) { canaryOf(r).Steps[0].Pause = &RolloutPause{} }, want: steps + "[0]: must set exactly one of setWeight, pause, analysis, setHeaderRoute or setMirrorRoute, got setWeight and pause"},
		"weight 120":     {mutate: func(r *Rollout) { canaryOf(r).Steps[2] = CanaryStep{SetWeight: i32(120)} }, want: steps + "[2].setWeight: must be between 0 and 100, got 120"},
		"weight -1":      {mutate: func(r *Rollout) { canaryOf(r).Steps[0].SetWeight = i32(-1) }, want: steps + "[0].setWeight: must be between 0 and 100, got -1"},
		"pause negative": {mutate: func(r *Rollout) { canaryOf(r).Steps[1].Pause.Duration = dur(-time.Second) }, want: steps + "[1].pause.duration: must not be negative, got -1s"},
		"no templates":   {mutate: func(r *Rollout) { canaryOf(r).Steps[3].Analysis.Templates = nil }, want: steps + "[3].analysis.templates: required: at least one templateName"},
		"no templateName": {mutate: func(r *Rollout) { canaryOf(r).Steps[3].Analysis.Templates[0].TemplateName = "" },
			want: steps + "[3].analysis.templates[0].templateName: required"},
		"unknown template": {mutate: func(r *Rollout) { canaryOf(r).Steps[3].Analysis.Templates[0].TemplateName = "latency" },
			want: steps + `[3].analysis.templates[0].templateName: no analysis template "latency" in spec.analysisTemplates (available: "success-rate")`},
		"no templates defined": {mutate: func(r *Rollout) {
			r.Spec.AnalysisTemplates = nil
			canaryOf(r).Analysis = nil
		}, want: steps + `[3].analysis.templates[0].templateName: no analysis template "success-rate" in spec.analysisTemplates (none defined)`},
		"template twice": {mutate: func(r *Rollout) {
			a := canaryOf(r).Steps[3].Analysis
			a.Templates = append(a.Templates, a.Templates[0])
		}, want: steps + `[3].analysis.templates[1].templateName: duplicate "success-rate"`},
		"metric clash": {mutate: func(r *Rollout) {
			r.Spec.AnalysisTemplates = append(r.Spec.AnalysisTemplates, NamedAnalysisTemplate{Name: "other", AnalysisTemplateSpec: r.Spec.AnalysisTemplates[0].AnalysisTemplateSpec})
			a := canaryOf(r).Steps[3].Analysis
			a.Templates = append(a.Templates, AnalysisTemplateRef{TemplateName: "other"})
		}, want: steps + `[3].analysis.templates[1].templateName: metric "success-rate" is also defined by template "success-rate": the metrics and judges of one analysis must have distinct names`},
		"arg without name": {mutate: func(r *Rollout) { canaryOf(r).Steps[3].Analysis.Args = []AnalysisRunArgument{{Value: "x"}} },
			want: steps + "[3].analysis.args[0].name: required"},
		"arg twice": {mutate: func(r *Rollout) {
			one := "1"
			r.Spec.AnalysisTemplates[0].Args = []Argument{{Name: "a", Value: &one}}
			canaryOf(r).Steps[3].Analysis.Args = []AnalysisRunArgument{{Name: "a"}, {Name: "a"}}
		},
			want: steps + `[3].analysis.args[1].name: duplicate "a"`},

		// header and mirror routes
		"route no name":  {mutate: func(r *Rollout) { canaryOf(r).Steps[2].SetHeaderRoute.Name = "" }, want: steps + "[2].setHeaderRoute.name: required"},
		"match none":     {mutate: func(r *Rollout) { canaryOf(r).Steps[2].SetHeaderRoute.Match[0].HeaderName = "" }, want: steps + "[2].setHeaderRoute.match[0]: must set exactly one of headerName or cookieName, got none"},
		"match both":     {mutate: func(r *Rollout) { canaryOf(r).Steps[2].SetHeaderRoute.Match[0].CookieName = "c" }, want: steps + "[2].setHeaderRoute.match[0]: must set exactly one of headerName or cookieName, got headerName and cookieName"},
		"match bad name": {mutate: func(r *Rollout) { canaryOf(r).Steps[2].SetHeaderRoute.Match[0].HeaderName = "X Canary" }, want: steps + `[2].setHeaderRoute.match[0].headerName: must be a valid HTTP header name, got "X Canary"`},
		"match no value": {mutate: func(r *Rollout) { canaryOf(r).Steps[2].SetHeaderRoute.Match[0].HeaderValue = nil }, want: steps + "[2].setHeaderRoute.match[0].headerValue: required with headerName"},
		"match wrong value": {mutate: func(r *Rollout) { canaryOf(r).Steps[2].SetHeaderRoute.Match[0].CookieValue = &StringMatch{Exact: "1"} },
			want: steps + "[2].setHeaderRoute.match[0].cookieValue: must not be set with headerName (use headerValue)"},
		"cookie match no value": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2].SetHeaderRoute.Match[0] = HeaderRoutingMatch{CookieName: "beta"}
		}, want: steps + "[2].setHeaderRoute.match[0].cookieValue: required with cookieName"},
		"cookie match bad name": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2].SetHeaderRoute.Match[0] = HeaderRoutingMatch{CookieName: "be ta", CookieValue: &StringMatch{Exact: "1"}}
		}, want: steps + `[2].setHeaderRoute.match[0].cookieName: must be a valid cookie name (an HTTP token), got "be ta"`},
		"string match none": {mutate: func(r *Rollout) { canaryOf(r).Steps[2].SetHeaderRoute.Match[0].HeaderValue.Exact = "" },
			want: steps + "[2].setHeaderRoute.match[0].headerValue: must set exactly one of exact, prefix or regex, got none"},
		"string match three": {mutate: func(r *Rollout) {
			*canaryOf(r).Steps[2].SetHeaderRoute.Match[0].HeaderValue = StringMatch{"a", "b", "c"}
		},
			want: steps + "[2].setHeaderRoute.match[0].headerValue: must set exactly one of exact, prefix or regex, got exact, prefix and regex"},
		"bad regex": {mutate: func(r *Rollout) {
			*canaryOf(r).Steps[2].SetHeaderRoute.Match[0].HeaderValue = StringMatch{Regex: "a(?<x"}
		},
			want: steps + "[2].setHeaderRoute.match[0].headerValue.regex: invalid regular expression: error parsing regexp: invalid named capture: `(?<x`"},
		"mirror no name": {mutate: func(r *Rollout) { canaryOf(r).Steps[2] = CanaryStep{SetMirrorRoute: &SetMirrorRoute{}} },
			want: steps + "[2].setMirrorRoute.name: required"},
		"mirror 101%": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2] = CanaryStep{SetMirrorRoute: &SetMirrorRoute{Name: "m", Percentage: i32(101)}}
		},
			want: steps + "[2].setMirrorRoute.percentage: must be between 0 and 100, got 101"},
		"mirror method": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2] = CanaryStep{SetMirrorRoute: &SetMirrorRoute{Name: "m", Match: []RouteMatch{{Method: &StringMatch{Exact: "post"}}}}}
		}, want: steps + `[2].setMirrorRoute.match[0].method.exact: must be an HTTP method in upper case, such as GET or POST, got "post"`},
		"mirror path": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2] = CanaryStep{SetMirrorRoute: &SetMirrorRoute{Name: "m", Match: []RouteMatch{{Path: &StringMatch{Prefix: "api"}}}}}
		}, want: steps + `[2].setMirrorRoute.match[0].path: must start with '/', got "api"`},
		"mirror path regex": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2] = CanaryStep{SetMirrorRoute: &SetMirrorRoute{Name: "m", Match: []RouteMatch{{Path: &StringMatch{Regex: "*"}}}}}
		}, want: steps + "[2].setMirrorRoute.match[0].path.regex: invalid regular expression: error parsing regexp: missing argument to repetition operator: `*`"},
		"mirror header name": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2] = CanaryStep{SetMirrorRoute: &SetMirrorRoute{Name: "m", Match: []RouteMatch{{Headers: map[string]StringMatch{"X-A": {Exact: "1"}, "X B": {Exact: "1"}}}}}}
		}, want: steps + `[2].setMirrorRoute.match[0].headers[X B]: must be a valid HTTP header name, got "X B"`},
		"mirror header match": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2] = CanaryStep{SetMirrorRoute: &SetMirrorRoute{Name: "m", Match: []RouteMatch{{Headers: map[string]StringMatch{"X-A": {}}}}}}
		}, want: steps + "[2].setMirrorRoute.match[0].headers[X-A]: must set exactly one of exact, prefix or regex, got none"},

		// background analysis
		"starting step high": {mutate: func(r *Rollout) { canaryOf(r).Analysis.StartingStep = i32(8) },
			want: "spec.strategy.canary.analysis.startingStep: must be between 0 and 7 (the number of steps), got 8"},
		"starting step < 0": {mutate: func(r *Rollout) { canaryOf(r).Analysis.StartingStep = i32(-1) },
			want: "spec.strategy.canary.analysis.startingStep: must be between 0 and 7 (the number of steps), got -1"},
		"background template": {mutate: func(r *Rollout) { canaryOf(r).Analysis.Templates[0].TemplateName = "x" },
			want: `spec.strategy.canary.analysis.templates[0].templateName: no analysis template "x" in spec.analysisTemplates (available: "success-rate")`},

		// blue-green
		"bg no routing": {file: "bluegreen.yaml", mutate: func(r *Rollout) { blueGreenOf(r).TrafficRouting = nil },
			want: bg + `.trafficRouting: required: the embedded proxy is the only router in local mode: set trafficRouting.proxy.listen, e.g. "127.0.0.1:8080"`},
		"bg no preview": {file: "bluegreen.yaml", mutate: func(r *Rollout) { proxyOf(r).PreviewListen = "" },
			want: bg + ".trafficRouting.proxy.previewListen: required for blue-green: the preview must be reachable before the switch"},
		"bg preview = listen": {file: "bluegreen.yaml", mutate: func(r *Rollout) { proxyOf(r).PreviewListen = "127.0.0.1:9090" },
			want: bg + `.trafficRouting.proxy.previewListen: must differ from listen ("127.0.0.1:9090")`},
		"bg autoPromotionSeconds < 0": {file: "bluegreen.yaml", mutate: func(r *Rollout) { blueGreenOf(r).AutoPromotionSeconds = -1 },
			want: bg + ".autoPromotionSeconds: must not be negative, got -1"},
		"bg autoPromotionSeconds without auto": {file: "bluegreen.yaml", mutate: func(r *Rollout) { f := false; blueGreenOf(r).AutoPromotionEnabled = &f },
			want: bg + ".autoPromotionSeconds: only meaningful with autoPromotionEnabled true: remove it or enable auto-promotion"},
		"bg preview replicas 0": {file: "bluegreen.yaml", mutate: func(r *Rollout) { blueGreenOf(r).PreviewReplicaCount = i32(0) },
			want: bg + ".previewReplicaCount: must be between 1 and spec.replicas (3), got 0"},
		"bg preview replicas > replicas": {file: "bluegreen.yaml", mutate: func(r *Rollout) { blueGreenOf(r).PreviewReplicaCount = i32(4) },
			want: bg + ".previewReplicaCount: must be between 1 and spec.replicas (3), got 4"},
		"bg pre template": {file: "bluegreen.yaml", mutate: func(r *Rollout) { blueGreenOf(r).PrePromotionAnalysis.Templates[0].TemplateName = "smok" },
			want: bg + `.prePromotionAnalysis.templates[0].templateName: no analysis template "smok" in spec.analysisTemplates (available: "latency", "smoke")`},
		"bg post template": {file: "bluegreen.yaml", mutate: func(r *Rollout) { blueGreenOf(r).PostPromotionAnalysis.Templates = nil },
			want: bg + ".postPromotionAnalysis.templates: required: at least one templateName"},
		"bg scaleDown < 0": {file: "bluegreen.yaml", mutate: func(r *Rollout) { blueGreenOf(r).ScaleDownDelaySeconds = i32(-5) },
			want: bg + ".scaleDownDelaySeconds: must not be negative, got -5"},

		// analysis templates
		"template no name": {mutate: func(r *Rollout) {
			r.Spec.AnalysisTemplates[0].Name = ""
			r.Spec.Strategy.Canary = &CanaryStrategy{TrafficRouting: canaryOf(r).TrafficRouting}
		},
			want: "spec.analysisTemplates[0].name: required"},
		"template bad name": {file: "bluegreen.yaml", mutate: func(r *Rollout) {
			r.Spec.AnalysisTemplates[0].Name = "Latency"
			blueGreenOf(r).PostPromotionAnalysis.Templates[0].TemplateName = "Latency"
		}, want: `spec.analysisTemplates[0].name: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit), got "Latency"`},
		"template defined twice": {mutate: func(r *Rollout) {
			r.Spec.AnalysisTemplates = append(r.Spec.AnalysisTemplates, r.Spec.AnalysisTemplates[0])
		},
			want: `spec.analysisTemplates[1].name: duplicate "success-rate"`},
		"no metrics":     {mutate: func(r *Rollout) { r.Spec.AnalysisTemplates[0].Metrics = nil }, want: "spec.analysisTemplates[0].metrics: required: at least one metric, or a judge"},
		"metric no name": {mutate: func(r *Rollout) { metricOf(r).Name = "" }, want: m0 + ".name: required"},
		"metric twice":   {mutate: func(r *Rollout) { t := &r.Spec.AnalysisTemplates[0]; t.Metrics = append(t.Metrics, t.Metrics[0]) }, want: `spec.analysisTemplates[0].metrics[1].name: duplicate "success-rate"`},
		"interval 0":     {mutate: func(r *Rollout) { metricOf(r).Interval = dur(0) }, want: m0 + ".interval: must be positive, got 0s"},
		"interval < 0":   {mutate: func(r *Rollout) { metricOf(r).Interval = dur(-time.Minute) }, want: m0 + ".interval: must be positive, got -1m0s"},
		"initialDelay<0": {mutate: func(r *Rollout) { metricOf(r).InitialDelay = dur(-time.Second) }, want: m0 + ".initialDelay: must not be negative, got -1s"},
		"count 0":        {mutate: func(r *Rollout) { metricOf(r).Count = i32(0) }, want: m0 + ".count: must be at least 1, got 0"},
		"count, no interval": {mutate: func(r *Rollout) { metricOf(r).Count = i32(2); metricOf(r).Interval = nil },
			want: m0 + ".count: above 1 needs an interval between measurements, got 2 without one"},
		"failureLimit < 0":      {mutate: func(r *Rollout) { metricOf(r).FailureLimit = i32(-1) }, want: m0 + ".failureLimit: must not be negative, got -1"},
		"inconclusiveLimit < 0": {mutate: func(r *Rollout) { metricOf(r).InconclusiveLimit = i32(-1) }, want: m0 + ".inconclusiveLimit: must not be negative, got -1"},
		"errorLimit < 0":        {mutate: func(r *Rollout) { metricOf(r).ConsecutiveErrorLimit = i32(-2) }, want: m0 + ".consecutiveErrorLimit: must not be negative, got -2"},
		"no condition":          {mutate: func(r *Rollout) { metricOf(r).SuccessCondition = "" }, want: m0 + ": must set successCondition or failureCondition (or both)"},
		"CEL syntax": {mutate: func(r *Rollout) { metricOf(r).SuccessCondition = "result >= 0.99 &&" },
			want: m0 + ".successCondition: invalid CEL expression: 1:18: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"},
		"CEL undeclared": {mutate: func(r *Rollout) { metricOf(r).FailureCondition = "value < 0.9" },
			want: m0 + ".failureCondition: invalid CEL expression: 1:1: undeclared reference to 'value' (in container '')"},
		"CEL not bool":    {mutate: func(r *Rollout) { metricOf(r).SuccessCondition = "1 + 2" }, want: m0 + ".successCondition: must yield a bool, got int"},
		"no provider":     {mutate: func(r *Rollout) { metricOf(r).Provider.Builtin = nil }, want: m0 + ".provider: must set exactly one of builtin, prometheus, web or job, got none"},
		"no measure":      {mutate: func(r *Rollout) { metricOf(r).Provider.Builtin.SuccessRate = nil }, want: m0 + ".provider.builtin: must set exactly one of successRate, errorRate, latencyP50, latencyP95, latencyP99 or requestRate, got none"},
		"bad version":     {mutate: func(r *Rollout) { metricOf(r).Provider.Builtin.Version = "Canary" }, want: m0 + `.provider.builtin.version: must be canary or stable, got "Canary"`},
		"route no slash":  {mutate: func(r *Rollout) { metricOf(r).Provider.Builtin.Route = "GET login" }, want: m0 + `.provider.builtin.route: must be "/path" or "METHOD /path", e.g. "POST /login", got "GET login"`},
		"route lowercase": {mutate: func(r *Rollout) { metricOf(r).Provider.Builtin.Route = "get /login" }, want: m0 + `.provider.builtin.route: must be "/path" or "METHOD /path", e.g. "POST /login", got "get /login"`},
		"route two paths": {mutate: func(r *Rollout) { metricOf(r).Provider.Builtin.Route = "GET /a /b" }, want: m0 + `.provider.builtin.route: must be "/path" or "METHOD /path", e.g. "POST /login", got "GET /a /b"`},
		"template arg twice": {mutate: func(r *Rollout) {
			x := "1"
			r.Spec.AnalysisTemplates[0].Args = []Argument{{Name: "x", Value: &x}, {Name: "x", Value: &x}}
		},
			want: `spec.analysisTemplates[0].args[1].name: duplicate "x"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			file := tc.file
			if file == "" {
				file = "example.yaml"
			}
			r := base(t, file)
			tc.mutate(r)
			err := r.Validate()
			if err == nil {
				t.Fatalf("accepted; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || !strings.HasPrefix(tc.want, list[0].Path+": ") {
				t.Fatalf("want one FieldError with the path, got %#v", list)
			}
		})
	}
}

// TestValidateAccepts checks what a demanding user may write.
func TestValidateAccepts(t *testing.T) {
	tests := map[string]struct {
		file   string
		mutate func(r *Rollout)
	}{
		"workloadRef instead of template": {mutate: func(r *Rollout) {
			r.Spec.Template, r.Spec.WorkloadRef = nil, &WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
			gatewayAPI(r)
		}},
		"zero replicas":       {mutate: func(r *Rollout) { r.Spec.Replicas = i32(0) }},
		"probe port default":  {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.HTTPGet.Port = 0 }},
		"readiness success 3": {mutate: func(r *Rollout) { r.Spec.Template.ReadinessProbe.SuccessThreshold = 3 }},
		"https probe on a host": {mutate: func(r *Rollout) {
			h := r.Spec.Template.ReadinessProbe.HTTPGet
			h.Scheme, h.Host, h.Port = "HTTPS", "::1", 8443
		}},
		"env with dots":              {mutate: func(r *Rollout) { r.Spec.Template.Env[0].Name = "app.greeting" }},
		"no steps":                   {mutate: func(r *Rollout) { canaryOf(r).Steps, canaryOf(r).Analysis.StartingStep = nil, i32(0) }},
		"starting at the end":        {mutate: func(r *Rollout) { canaryOf(r).Analysis.StartingStep = i32(7) }},
		"IPv6 listen":                {mutate: func(r *Rollout) { proxyOf(r).Listen = "[::1]:8080" }},
		"all interfaces":             {mutate: func(r *Rollout) { proxyOf(r).Listen = ":8080" }},
		"host name listen":           {mutate: func(r *Rollout) { proxyOf(r).Listen = "localhost:8080" }},
		"preview on another port":    {mutate: func(r *Rollout) { proxyOf(r).PreviewListen = "127.0.0.1:8081" }},
		"preview on another address": {mutate: func(r *Rollout) { proxyOf(r).PreviewListen = "127.0.0.2:8080" }},
		"POST retried":               {mutate: func(r *Rollout) { proxyOf(r).CanaryFailover.Methods = []string{"GET", "POST", "PROPFIND"} }},
		"stickiness by header":       {mutate: func(r *Rollout) { canaryOf(r).Stickiness = &Stickiness{Header: "X-User-ID"} }},
		"weight 0 and 100":           {mutate: func(r *Rollout) { canaryOf(r).Steps[0].SetWeight = i32(0) }},
		"pause 0":                    {mutate: func(r *Rollout) { canaryOf(r).Steps[1].Pause.Duration = dur(0) }},
		"remove a header route":      {mutate: func(r *Rollout) { canaryOf(r).Steps[2].SetHeaderRoute.Match = nil }},
		"cookie route with a regex": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2].SetHeaderRoute.Match[0] = HeaderRoutingMatch{CookieName: "beta", CookieValue: &StringMatch{Regex: "^(1|yes)$"}}
		}},
		"mirror everything": {mutate: func(r *Rollout) {
			canaryOf(r).Steps[2] = CanaryStep{SetMirrorRoute: &SetMirrorRoute{Name: "m", Percentage: i32(10)}}
		}},
		"mirror by method and header": {mutate: mirrorByMethod},
		"count 1 without interval":    {mutate: func(r *Rollout) { metricOf(r).Interval, metricOf(r).Count = nil, i32(1) }},
		"failure condition only":      {mutate: func(r *Rollout) { metricOf(r).SuccessCondition, metricOf(r).FailureCondition = "", "result < 0.9" }},
		"dynamic condition":           {mutate: func(r *Rollout) { metricOf(r).SuccessCondition = "result" }},
		"CEL macros":                  {mutate: func(r *Rollout) { metricOf(r).SuccessCondition = "has(result.p99) ? result.p99 < 0.5 : result < 0.5" }},
		"stable route for all":        {mutate: func(r *Rollout) { b := metricOf(r).Provider.Builtin; b.Version, b.Route = "stable", "/login" }},
		"blue-green manual promotion": {file: "bluegreen.yaml", mutate: func(r *Rollout) {
			f := false
			blueGreenOf(r).AutoPromotionEnabled, blueGreenOf(r).AutoPromotionSeconds = &f, 0
		}},
		"blue-green full preview": {file: "bluegreen.yaml", mutate: func(r *Rollout) { blueGreenOf(r).PreviewReplicaCount = i32(3) }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			file := tc.file
			if file == "" {
				file = "example.yaml"
			}
			r := base(t, file)
			tc.mutate(r)
			if err := r.Validate(); err != nil {
				t.Fatalf("rejected:\n%v", err)
			}
		})
	}
}

func mirrorByMethod(r *Rollout) {
	canaryOf(r).Steps[2] = CanaryStep{SetMirrorRoute: &SetMirrorRoute{Name: "m", Match: []RouteMatch{{
		Method:  &StringMatch{Exact: "POST"},
		Path:    &StringMatch{Prefix: "/api/"},
		Headers: map[string]StringMatch{"X-Debug": {Regex: "^on$"}},
	}}}}
}

func TestValidateAnalysisTemplate(t *testing.T) {
	valid := func() *AnalysisTemplate {
		tpl := &AnalysisTemplate{Spec: AnalysisTemplateSpec{Metrics: []Metric{{
			Name: "errors", Interval: dur(5 * time.Second), FailureCondition: "result > 0.01",
			Provider: MetricProvider{Builtin: &BuiltinMetric{ErrorRate: &struct{}{}}},
		}}}}
		tpl.APIVersion, tpl.Kind, tpl.Name = APIVersion, KindTemplate, "errors"
		tpl.Spec.Default()
		return tpl
	}
	tests := map[string]struct {
		mutate func(t *AnalysisTemplate)
		want   string // empty: valid
	}{
		"valid":      {mutate: func(*AnalysisTemplate) {}},
		"no name":    {mutate: func(t *AnalysisTemplate) { t.Name = "" }, want: "metadata.name: required"},
		"wrong kind": {mutate: func(t *AnalysisTemplate) { t.Kind = KindRollout }, want: `kind: must be AnalysisTemplate, got "Rollout"`},
		"no metrics": {mutate: func(t *AnalysisTemplate) { t.Spec.Metrics = nil }, want: "spec.metrics: required: at least one metric, or a judge"},
		"two measures": {mutate: func(t *AnalysisTemplate) { t.Spec.Metrics[0].Provider.Builtin.RequestRate = &struct{}{} },
			want: "spec.metrics[0].provider.builtin: must set exactly one of successRate, errorRate, latencyP50, latencyP95, latencyP99 or requestRate, got errorRate and requestRate"},
		"arg no name": {mutate: func(t *AnalysisTemplate) { t.Spec.Args = []Argument{{}} }, want: "spec.args[0].name: required"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tpl := valid()
			tc.mutate(tpl)
			err := tpl.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

// TestValidateNil checks that Validate does not panic on empty objects,
// defaulted or not.
func TestValidateNil(t *testing.T) {
	var r *Rollout
	if r.Validate() == nil {
		t.Error("nil Rollout accepted")
	}
	var tpl *AnalysisTemplate
	if tpl.Validate() == nil {
		t.Error("nil AnalysisTemplate accepted")
	}
	empty := &Rollout{}
	if empty.Validate() == nil {
		t.Error("empty Rollout accepted")
	}
	empty.Default()
	if empty.Validate() == nil {
		t.Error("defaulted empty Rollout accepted")
	}
	if (&AnalysisTemplate{}).Validate() == nil {
		t.Error("empty AnalysisTemplate accepted")
	}
}

// TestValidateMirrorRouteSupport checks that a setMirrorRoute the chosen
// Kubernetes router cannot express is refused with its path and why, and
// that what it can express passes.
func TestValidateMirrorRouteSupport(t *testing.T) {
	mirror := func(router TrafficRouting, m SetMirrorRoute) func(r *Rollout) {
		return func(r *Rollout) {
			r.Spec.Template, r.Spec.WorkloadRef = nil, &WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
			canaryOf(r).TrafficRouting = &router
			canaryOf(r).Steps[3] = CanaryStep{SetMirrorRoute: &m}
		}
	}
	nginx := TrafficRouting{NGINX: &NGINXRouting{StableIngress: "web"}}
	gw := TrafficRouting{GatewayAPI: &GatewayAPIRouting{HTTPRoute: "web"}}
	istio := TrafficRouting{Istio: &IstioRouting{VirtualService: IstioVirtualService{Name: "web"}}}
	reads := SetMirrorRoute{Name: "reads", Percentage: i32(50), Match: []RouteMatch{{
		Method: &StringMatch{Exact: "GET"}, Path: &StringMatch{Prefix: "/api/"},
		Headers: map[string]StringMatch{"X-Tenant": {Regex: "a|b"}}}}}
	rejects := map[string]struct {
		mutate func(r *Rollout)
		want   string
	}{
		"nginx": {mutate: mirror(nginx, reads),
			want: steps + "[3].setMirrorRoute: the nginx router cannot mirror: ingress-nginx reads mirror-target only on the main Ingress " +
				"(a canary Ingress's other annotations are ignored), so Fledge would have to edit your Ingress, " +
				"and it copies every request, with no percentage and no match; use gatewayAPI or istio"},
		"nginx, every request": {mutate: mirror(nginx, SetMirrorRoute{Name: "all", Percentage: i32(100)}),
			want: steps + "[3].setMirrorRoute: the nginx router cannot mirror: ingress-nginx reads mirror-target only on the main Ingress " +
				"(a canary Ingress's other annotations are ignored), so Fledge would have to edit your Ingress, " +
				"and it copies every request, with no percentage and no match; use gatewayAPI or istio"},
		"gatewayAPI method prefix": {mutate: mirror(gw, SetMirrorRoute{Name: "reads", Match: []RouteMatch{{Method: &StringMatch{Prefix: "G"}}}}),
			want: steps + "[3].setMirrorRoute.match[0].method: the gatewayAPI router matches a method exactly (Gateway API has no method prefix or regex): use exact"},
		"gatewayAPI unknown method": {mutate: mirror(gw, SetMirrorRoute{Name: "reads", Match: []RouteMatch{{Method: &StringMatch{Exact: "PURGE"}}}}),
			want: steps + `[3].setMirrorRoute.match[0].method.exact: Gateway API matches only GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE or PATCH, got "PURGE"`},
		"gatewayAPI rule name": {mutate: mirror(gw, SetMirrorRoute{Name: "Reads", Percentage: i32(10)}),
			want: steps + `[3].setMirrorRoute.name: the gatewayAPI router names its HTTPRoute rule "fledge-mirror-Reads", which Gateway API refuses: use lowercase letters, digits, '-' and '.'`},
	}
	for name, tc := range rejects {
		t.Run(name, func(t *testing.T) {
			r := base(t, "example.yaml")
			tc.mutate(r)
			err := r.Validate()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
	accepts := map[string]func(r *Rollout){
		"gatewayAPI":             mirror(gw, reads),
		"gatewayAPI, a removal":  mirror(gw, SetMirrorRoute{Name: "reads"}),
		"istio":                  mirror(istio, reads),
		"istio, method by regex": mirror(istio, SetMirrorRoute{Name: "Writes", Match: []RouteMatch{{Method: &StringMatch{Regex: "POST|PUT"}}}}),
	}
	for name, mutate := range accepts {
		t.Run(name, func(t *testing.T) {
			r := base(t, "example.yaml")
			mutate(r)
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
