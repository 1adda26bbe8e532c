package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group, Version and the kinds served under them.
const (
	Group        = "fledge.dev"
	Version      = "v1alpha1"
	APIVersion   = Group + "/" + Version
	KindRollout  = "Rollout"
	KindTemplate = "AnalysisTemplate"
)

// Rollout releases new versions of a workload progressively: a canary that takes
// an enforced share of traffic step by step, or a blue-green switch, judged by
// analysis and promoted or rolled back automatically.
//
// The /scale subresource lets a HorizontalPodAutoscaler target a Rollout.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=fledge
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=integer,JSONPath=`.status.currentStepIndex`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.status.canaryWeight`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.replicas`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RolloutSpec   `json:"spec"`
	Status RolloutStatus `json:"status,omitempty"`
}

// RolloutList is a list of Rollouts.
// +kubebuilder:object:root=true
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Rollout `json:"items"`
}

func init() { register(&Rollout{}, &RolloutList{}) }

// RolloutSpec is what the user asks for.
// +kubebuilder:validation:XValidation:rule="has(self.template) != has(self.workloadRef)",message="must set exactly one of template (local mode) or workloadRef (Kubernetes mode)"
// +kubebuilder:validation:XValidation:rule="!has(self.workloadRef) || !has(self.strategy.canary) || !has(self.strategy.canary.trafficRouting) || !has(self.strategy.canary.trafficRouting.proxy)",message="workloadRef needs a Kubernetes router (nginx, gatewayAPI, istio): the embedded proxy serves local mode only"
// +kubebuilder:validation:XValidation:rule="!has(self.workloadRef) || !has(self.strategy.blueGreen) || !has(self.strategy.blueGreen.trafficRouting) || !has(self.strategy.blueGreen.trafficRouting.proxy)",message="workloadRef needs a Kubernetes router (service, nginx, gatewayAPI, istio): the embedded proxy serves local mode only"
// +kubebuilder:validation:XValidation:rule="!has(self.workloadRef) || !has(self.strategy.canary) || !has(self.strategy.canary.trafficRouting) || !has(self.strategy.canary.trafficRouting.service)",message="the service router switches all traffic at once: use it with blueGreen; a canary needs nginx, gatewayAPI or istio"
// +kubebuilder:validation:XValidation:rule="!has(self.template) || ((!has(self.strategy.canary) || !has(self.strategy.canary.trafficRouting) || has(self.strategy.canary.trafficRouting.proxy)) && (!has(self.strategy.blueGreen) || !has(self.strategy.blueGreen.trafficRouting) || has(self.strategy.blueGreen.trafficRouting.proxy)))",message="template (local mode) needs trafficRouting.proxy: the Kubernetes routers serve workloadRef only"
type RolloutSpec struct {
	// Replicas is the number of replicas of each fully scaled version. Default 1.
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`

	// Template is the version to run, in local mode: each replica is a process
	// started from it. Changing it starts a rollout, as a Deployment's pod
	// template does. Exactly one of template and workloadRef is set.
	Template *ProcessTemplate `json:"template,omitempty"`

	// WorkloadRef names the workload whose pod template is the version, in
	// Kubernetes mode (for example a Deployment).
	WorkloadRef *WorkloadRef `json:"workloadRef,omitempty"`

	// MinReadySeconds is how long a replica must be ready before it counts as
	// available. Default 0.
	// +kubebuilder:validation:Minimum=0
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`

	// RevisionHistoryLimit is how many old revisions are kept for undo. Default 10.
	// +kubebuilder:validation:Minimum=0
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// Paused stops the rollout where it is: no step advances and no weight
	// changes until it is set back to false (`fledge pause` / `fledge resume`).
	Paused bool `json:"paused,omitempty"`

	// ProgressDeadlineSeconds is how long a rollout may go without progress
	// (a step completed, a replica becoming ready) before it is considered
	// failed. Time spent paused does not count. Default 600.
	// +kubebuilder:validation:Minimum=1
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`

	// ProgressDeadlineAbort aborts the rollout (traffic back to stable, canary
	// scaled down) when the progress deadline is exceeded, instead of only
	// marking it Degraded. Default true: an update that cannot become ready
	// should not keep a half-released state.
	ProgressDeadlineAbort *bool `json:"progressDeadlineAbort,omitempty"`

	// TerminationGracePeriodSeconds is how long a replica has to exit after
	// SIGTERM before it is killed. Default 30.
	// +kubebuilder:validation:Minimum=0
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`

	// Strategy is how a new version is released: canary or blueGreen.
	Strategy RolloutStrategy `json:"strategy"`

	// AnalysisTemplates are templates defined inline, referenced by name from
	// the strategy's analyses (templateName).
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	AnalysisTemplates []NamedAnalysisTemplate `json:"analysisTemplates,omitempty"`

	// Notifications send what happens to this rollout (started, steps,
	// pauses, failed analyses, aborts, promotions) to webhooks or Slack, in
	// addition to the --notify-* flags' receivers. See docs/notifications.md.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Notifications []Notification `json:"notifications,omitempty"`
}

// WorkloadRef refers to the workload that holds the pod template (Kubernetes mode).
type WorkloadRef struct {
	// APIVersion of the workload, e.g. apps/v1.
	// +kubebuilder:validation:MinLength=1
	APIVersion string `json:"apiVersion"`
	// Kind of the workload, e.g. Deployment.
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
	// Name of the workload, in the Rollout's namespace.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// RolloutStrategy holds exactly one strategy.
// +kubebuilder:validation:XValidation:rule="has(self.canary) != has(self.blueGreen)",message="must set exactly one of canary or blueGreen"
type RolloutStrategy struct {
	Canary    *CanaryStrategy    `json:"canary,omitempty"`
	BlueGreen *BlueGreenStrategy `json:"blueGreen,omitempty"`
}

// TrafficRouting names the router that enforces the split: the embedded
// proxy in local mode, one of the Kubernetes routers with workloadRef. The
// Kubernetes routers send traffic to the Services <rollout>-stable and
// <rollout>-canary, which Fledge creates and points at each revision's pods.
// +kubebuilder:validation:XValidation:rule="(has(self.proxy) ? 1 : 0) + (has(self.nginx) ? 1 : 0) + (has(self.gatewayAPI) ? 1 : 0) + (has(self.istio) ? 1 : 0) + (has(self.service) ? 1 : 0) == 1",message="must set exactly one router: proxy, nginx, gatewayAPI, istio or service"
type TrafficRouting struct {
	// Proxy is Fledge's embedded proxy (local mode).
	Proxy *ProxyRouting `json:"proxy,omitempty"`
	// NGINX drives ingress-nginx: Fledge keeps a canary Ingress
	// <stableIngress>-canary beside yours, with the canary annotations.
	NGINX *NGINXRouting `json:"nginx,omitempty"`
	// GatewayAPI sets the weights of a Gateway API HTTPRoute's backendRefs
	// (Envoy Gateway, Istio, Cilium, NGINX Gateway Fabric, Kong, Traefik...).
	GatewayAPI *GatewayAPIRouting `json:"gatewayAPI,omitempty"`
	// Istio sets the weights of an Istio VirtualService's HTTP routes.
	Istio *IstioRouting `json:"istio,omitempty"`
	// Service switches the <rollout>-stable Service's selector from one
	// revision to the next at once: blue-green without a router.
	Service *ServiceRouting `json:"service,omitempty"`
}

// NGINXRouting configures the ingress-nginx router.
type NGINXRouting struct {
	// StableIngress is the name of your Ingress, whose backend is the
	// <rollout>-stable Service; it is copied into <stableIngress>-canary.
	// +kubebuilder:validation:MinLength=1
	StableIngress string `json:"stableIngress"`
}

// GatewayAPIRouting configures the Gateway API router.
type GatewayAPIRouting struct {
	// HTTPRoute is the name of your HTTPRoute; its rules' backendRefs to
	// <rollout>-stable and <rollout>-canary get the weights.
	// +kubebuilder:validation:MinLength=1
	HTTPRoute string `json:"httpRoute"`
}

// IstioRouting configures the Istio router.
type IstioRouting struct {
	// VirtualService is the VirtualService whose routes get the weights.
	VirtualService IstioVirtualService `json:"virtualService"`
}

// IstioVirtualService names a VirtualService and the HTTP routes in it.
type IstioVirtualService struct {
	// Name of the VirtualService, in the Rollout's namespace.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Routes are the names of the HTTP routes to set; all when empty.
	Routes []string `json:"routes,omitempty"`
}

// ServiceRouting configures the selector switch.
type ServiceRouting struct {
	// ActiveService is the Service users reach, whose selector is switched
	// to the active revision (a fledge.dev/revision label is added to it).
	// Default <rollout>-stable, the Service Fledge creates.
	ActiveService string `json:"activeService,omitempty"`
}

// ProxyRouting configures the embedded proxy.
type ProxyRouting struct {
	// Listen is the address users reach the service on, e.g. "127.0.0.1:8080".
	// For blue-green it serves the active version.
	// +kubebuilder:validation:MinLength=1
	Listen string `json:"listen"`

	// PreviewListen, if set, always serves the new version: the preview for
	// blue-green, the canary for a canary (for testers and smoke tests).
	PreviewListen string `json:"previewListen,omitempty"`

	// CanaryFailover makes a canary safe for users: a request that fails on
	// the canary is retried once on stable and counted as a canary failure.
	CanaryFailover *CanaryFailover `json:"canaryFailover,omitempty"`
}

// CanaryFailover configures the retry of failed canary requests on stable.
type CanaryFailover struct {
	// Enabled turns the failover on. Default true.
	Enabled *bool `json:"enabled,omitempty"`

	// Methods whose requests are retried on stable after a connection error
	// or a 5xx from the canary. Default [GET, HEAD, OPTIONS]; add others
	// (e.g. POST) only when they are safe to repeat.
	Methods []string `json:"methods,omitempty"`

	// MaxBodyBytes is the largest request body buffered so that it can be
	// replayed on stable; larger requests are not retried. Default 1048576.
	// +kubebuilder:validation:Minimum=0
	MaxBodyBytes *int64 `json:"maxBodyBytes,omitempty"`
}

// Stickiness keeps a user on the version first given to them.
// +kubebuilder:validation:XValidation:rule="has(self.cookie) != has(self.header)",message="must set exactly one of cookie or header"
type Stickiness struct {
	// Cookie is the name of a cookie the proxy sets to remember the user.
	Cookie string `json:"cookie,omitempty"`
	// Header names a request header that identifies the user (e.g. X-User-ID).
	Header string `json:"header,omitempty"`
}

// CanaryStrategy releases the new version to a growing share of traffic.
type CanaryStrategy struct {
	// TrafficRouting is the router that enforces the weights.
	TrafficRouting *TrafficRouting `json:"trafficRouting,omitempty"`

	// Stickiness keeps each user on one version; when the weight rises only
	// the needed share of users moves to the canary.
	Stickiness *Stickiness `json:"stickiness,omitempty"`

	// Steps are executed in order; when all are done the canary is promoted.
	// +kubebuilder:validation:MaxItems=100
	Steps []CanaryStep `json:"steps,omitempty"`

	// Analysis runs in the background from startingStep to the end of the
	// rollout; a failure aborts it.
	Analysis *RolloutAnalysisBackground `json:"analysis,omitempty"`

	// ScaleDownDelaySeconds is how long the previous stable version keeps
	// running after a promotion, so that an undo is instant. Default 30.
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`

	// Webhooks are HTTP gates called during the rollout: before it starts,
	// before each weight increase, before the promotion, after it, and to
	// ask for a rollback. See docs/webhooks.md.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Webhooks []Webhook `json:"webhooks,omitempty"`
}

// CanaryStep is one step of a canary; exactly one field is set.
// +kubebuilder:validation:XValidation:rule="(has(self.setWeight) ? 1 : 0) + (has(self.pause) ? 1 : 0) + (has(self.analysis) ? 1 : 0) + (has(self.setHeaderRoute) ? 1 : 0) + (has(self.setMirrorRoute) ? 1 : 0) == 1",message="must set exactly one of setWeight, pause, analysis, setHeaderRoute or setMirrorRoute"
type CanaryStep struct {
	// SetWeight sends this percentage (0-100) of traffic to the canary.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	SetWeight *int32 `json:"setWeight,omitempty"`
	// Pause waits for a duration, or for `fledge promote` if none is given.
	Pause *RolloutPause `json:"pause,omitempty"`
	// Analysis runs analysis templates and waits for their verdict.
	Analysis *RolloutAnalysis `json:"analysis,omitempty"`
	// SetHeaderRoute sends requests matching headers or cookies to the canary.
	SetHeaderRoute *SetHeaderRoute `json:"setHeaderRoute,omitempty"`
	// SetMirrorRoute copies a percentage of matching requests to the canary.
	SetMirrorRoute *SetMirrorRoute `json:"setMirrorRoute,omitempty"`
}

// RolloutPause pauses a canary.
type RolloutPause struct {
	// Duration such as "30s" or 30 (seconds). Unset waits for promote.
	Duration *Duration `json:"duration,omitempty"`
}

// SetHeaderRoute adds (or, with no match, removes) a named route that sends
// requests matching every entry of match to the canary, whatever the weight.
type SetHeaderRoute struct {
	// Name identifies the route, so that a later step can replace or remove it.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Match lists the conditions a request must all meet.
	// +kubebuilder:validation:MaxItems=16
	Match []HeaderRoutingMatch `json:"match,omitempty"`
}

// HeaderRoutingMatch matches one header, or one cookie.
// +kubebuilder:validation:XValidation:rule="has(self.headerName) != has(self.cookieName)",message="must set exactly one of headerName or cookieName"
// +kubebuilder:validation:XValidation:rule="!has(self.headerName) || (has(self.headerValue) && !has(self.cookieValue))",message="headerName needs headerValue (and no cookieValue)"
// +kubebuilder:validation:XValidation:rule="!has(self.cookieName) || (has(self.cookieValue) && !has(self.headerValue))",message="cookieName needs cookieValue (and no headerValue)"
type HeaderRoutingMatch struct {
	HeaderName  string       `json:"headerName,omitempty"`
	HeaderValue *StringMatch `json:"headerValue,omitempty"`
	CookieName  string       `json:"cookieName,omitempty"`
	CookieValue *StringMatch `json:"cookieValue,omitempty"`
}

// StringMatch matches a string in exactly one way.
// +kubebuilder:validation:XValidation:rule="(has(self.exact) ? 1 : 0) + (has(self.prefix) ? 1 : 0) + (has(self.regex) ? 1 : 0) == 1",message="must set exactly one of exact, prefix or regex"
type StringMatch struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Regex  string `json:"regex,omitempty"`
}

// SetMirrorRoute adds (or, with no match and no percentage, removes) a named
// route that copies matching requests to the canary; the canary's responses
// are discarded.
type SetMirrorRoute struct {
	// Name identifies the route, so that a later step can replace or remove it.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Match selects the requests to mirror; all of them when empty.
	// +kubebuilder:validation:MaxItems=16
	Match []RouteMatch `json:"match,omitempty"`
	// Percentage of matching requests that are copied (0-100). Default 100.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Percentage *int32 `json:"percentage,omitempty"`
}

// RouteMatch matches a request; every set field must match.
type RouteMatch struct {
	// Method matches the request method, e.g. {exact: POST}.
	Method *StringMatch `json:"method,omitempty"`
	// Path matches the request path, e.g. {prefix: /api}.
	Path *StringMatch `json:"path,omitempty"`
	// Headers match request headers by name.
	// +kubebuilder:validation:MaxProperties=16
	Headers map[string]StringMatch `json:"headers,omitempty"`
}

// BlueGreenStrategy runs the new version in full beside the old, tests it on
// the preview address, then switches all traffic in one step.
type BlueGreenStrategy struct {
	// TrafficRouting is the router: its listen address serves the active
	// version and previewListen the preview.
	TrafficRouting *TrafficRouting `json:"trafficRouting,omitempty"`

	// AutoPromotionEnabled switches to the new version once it is ready and
	// pre-promotion analysis passed. When false, it waits for promote.
	// Default true.
	AutoPromotionEnabled *bool `json:"autoPromotionEnabled,omitempty"`

	// AutoPromotionSeconds delays the automatic switch this long after the
	// preview became ready.
	// +kubebuilder:validation:Minimum=0
	AutoPromotionSeconds int32 `json:"autoPromotionSeconds,omitempty"`

	// PreviewReplicaCount runs the preview with fewer replicas until the
	// switch; it is scaled to full before taking traffic. Default: replicas.
	// +kubebuilder:validation:Minimum=1
	PreviewReplicaCount *int32 `json:"previewReplicaCount,omitempty"`

	// PrePromotionAnalysis must pass before the switch.
	PrePromotionAnalysis *RolloutAnalysis `json:"prePromotionAnalysis,omitempty"`

	// PostPromotionAnalysis runs after the switch; a failure switches back to
	// the previous version, still warm.
	PostPromotionAnalysis *RolloutAnalysis `json:"postPromotionAnalysis,omitempty"`

	// ScaleDownDelaySeconds keeps the previous version running this long after
	// the switch, so that an undo is instant. Default 30.
	// +kubebuilder:validation:Minimum=0
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`

	// Webhooks are HTTP gates called during the rollout: pre-rollout before
	// the preview is announced ready (a failure aborts), confirm-promotion
	// before the switch, post-rollout after it, and rollback (a 2xx aborts)
	// until the promotion completes. confirm-traffic-increase has no meaning
	// here: the switch is one step. See docs/webhooks.md.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Webhooks []Webhook `json:"webhooks,omitempty"`
}

// RolloutAnalysis runs analysis templates.
type RolloutAnalysis struct {
	// Templates are run together; the analysis fails when any of them does.
	// +kubebuilder:validation:MinItems=1
	Templates []AnalysisTemplateRef `json:"templates"`
	// Args give the templates' arguments their values.
	Args []AnalysisRunArgument `json:"args,omitempty"`
}

// RolloutAnalysisBackground is an analysis that runs in the background.
type RolloutAnalysisBackground struct {
	RolloutAnalysis `json:",inline"`
	// StartingStep is the index of the step at which the analysis starts. Default 0.
	// +kubebuilder:validation:Minimum=0
	StartingStep *int32 `json:"startingStep,omitempty"`
}

// AnalysisTemplateRef names a template.
type AnalysisTemplateRef struct {
	// TemplateName is the name of the template.
	// +kubebuilder:validation:MinLength=1
	TemplateName string `json:"templateName"`
	// ClusterScope refers to a ClusterAnalysisTemplate (Kubernetes mode).
	ClusterScope bool `json:"clusterScope,omitempty"`
}

// AnalysisRunArgument gives a template argument its value.
type AnalysisRunArgument struct {
	// Name of the template argument.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Value of the argument (or ValueFrom).
	Value string `json:"value,omitempty"`
	// ValueFrom takes the value from the release instead of the spec.
	ValueFrom *ArgumentValueFrom `json:"valueFrom,omitempty"`
}

// TrafficRouting is the routing of whichever strategy is set (nil if none),
// for the code that routes either strategy the same way.
// Webhooks are the gates of whichever strategy is set.
func (s RolloutStrategy) Webhooks() []Webhook {
	switch {
	case s.Canary != nil:
		return s.Canary.Webhooks
	case s.BlueGreen != nil:
		return s.BlueGreen.Webhooks
	}
	return nil
}

func (s RolloutStrategy) TrafficRouting() *TrafficRouting {
	switch {
	case s.Canary != nil:
		return s.Canary.TrafficRouting
	case s.BlueGreen != nil:
		return s.BlueGreen.TrafficRouting
	}
	return nil
}
