package v1alpha1

import (
	"regexp"
	"slices"
	"sort"
	"strings"
)

func (v *validator) strategy(p path, s *RolloutSpec) {
	st := &s.Strategy
	if !v.exactlyOne(p, []string{"canary", "blueGreen"}, []bool{st.Canary != nil, st.BlueGreen != nil}) {
		return
	}
	kube := s.WorkloadRef != nil && s.Template == nil // both is an error of its own
	if st.Canary != nil {
		v.canary(p.field("canary"), st.Canary, kube)
	} else {
		v.blueGreen(p.field("blueGreen"), st.BlueGreen, s.Replicas, kube)
	}
}

func (v *validator) canary(p path, c *CanaryStrategy, kube bool) {
	v.routing(p.field("trafficRouting"), c.TrafficRouting, false, kube)
	if s := c.Stickiness; s != nil {
		sp := p.field("stickiness")
		if v.exactlyOne(sp, []string{"cookie", "header"}, []bool{s.Cookie != "", s.Header != ""}) {
			if s.Cookie != "" && !token(s.Cookie) {
				v.addf(sp.field("cookie"), "must be a valid cookie name (an HTTP token: no spaces, separators or control characters), got %q", s.Cookie)
			}
			if s.Header != "" {
				v.headerName(sp.field("header"), s.Header)
			}
		}
	}
	for i := range c.Steps {
		v.step(p.field("steps").index(i), &c.Steps[i])
		if m := c.Steps[i].SetMirrorRoute; m != nil && kube && c.TrafficRouting != nil {
			v.mirrorSupport(p.field("steps").index(i).field("setMirrorRoute"), m, c.TrafficRouting)
		}
	}
	if a := c.Analysis; a != nil {
		ap := p.field("analysis")
		v.analysis(ap, &a.RolloutAnalysis)
		if n := a.StartingStep; n != nil && (*n < 0 || int(*n) > len(c.Steps)) {
			v.addf(ap.field("startingStep"), "must be between 0 and %d (the number of steps), got %d", len(c.Steps), *n)
		}
	}
	v.atLeast(p.field("scaleDownDelaySeconds"), c.ScaleDownDelaySeconds, 0)
	v.webhooks(p.field("webhooks"), c.Webhooks)
}

func (v *validator) blueGreen(p path, b *BlueGreenStrategy, replicas *int32, kube bool) {
	v.routing(p.field("trafficRouting"), b.TrafficRouting, true, kube)
	if b.AutoPromotionSeconds < 0 {
		v.addf(p.field("autoPromotionSeconds"), "must not be negative, got %d", b.AutoPromotionSeconds)
	} else if b.AutoPromotionSeconds > 0 && b.AutoPromotionEnabled != nil && !*b.AutoPromotionEnabled {
		v.addf(p.field("autoPromotionSeconds"), "only meaningful with autoPromotionEnabled true: remove it or enable auto-promotion")
	}
	if n := b.PreviewReplicaCount; n != nil && replicas != nil && (*n < 1 || *n > *replicas) {
		v.addf(p.field("previewReplicaCount"), "must be between 1 and spec.replicas (%d), got %d", *replicas, *n)
	} else if n != nil && *n < 1 {
		v.addf(p.field("previewReplicaCount"), "must be at least 1, got %d", *n)
	}
	if b.PrePromotionAnalysis != nil {
		v.analysis(p.field("prePromotionAnalysis"), b.PrePromotionAnalysis)
	}
	if b.PostPromotionAnalysis != nil {
		v.analysis(p.field("postPromotionAnalysis"), b.PostPromotionAnalysis)
	}
	v.atLeast(p.field("scaleDownDelaySeconds"), b.ScaleDownDelaySeconds, 0)
	v.webhooks(p.field("webhooks"), b.Webhooks)
	for i, h := range b.Webhooks {
		if h.Type == WebhookConfirmTrafficIncrease {
			v.addf(p.field("webhooks").index(i).field("type"),
				"%s has no meaning for blueGreen (the switch is one step): use %s", h.Type, WebhookConfirmPromotion)
		}
	}
}

// routing checks the router: the embedded proxy in local mode (template),
// exactly one Kubernetes router with workloadRef.
func (v *validator) routing(p path, t *TrafficRouting, blueGreen, kube bool) {
	if !kube {
		if t != nil && (t.NGINX != nil || t.GatewayAPI != nil || t.Istio != nil || t.Service != nil) {
			v.addf(p, "template (local mode) needs trafficRouting.proxy: the Kubernetes routers (nginx, gatewayAPI, istio, service) serve workloadRef only")
			return
		}
		v.proxy(p, t, blueGreen)
		return
	}
	const why = "workloadRef needs a Kubernetes router: set trafficRouting.gatewayAPI, nginx or istio (or service, for blueGreen)"
	switch {
	case t == nil:
		v.addf(p, "required: %s", why)
	case t.Proxy != nil:
		v.addf(p.field("proxy"), "the embedded proxy serves local mode only: %s", why)
	case !v.exactlyOne(p, []string{"nginx", "gatewayAPI", "istio", "service"}, []bool{t.NGINX != nil, t.GatewayAPI != nil, t.Istio != nil, t.Service != nil}):
	case t.Service != nil && !blueGreen:
		v.addf(p.field("service"), "the service router switches all traffic at once: use it with blueGreen; a canary needs nginx, gatewayAPI or istio")
	case t.NGINX != nil:
		v.required(p.field("nginx").field("stableIngress"), t.NGINX.StableIngress)
	case t.GatewayAPI != nil:
		v.required(p.field("gatewayAPI").field("httpRoute"), t.GatewayAPI.HTTPRoute)
	case t.Istio != nil:
		v.required(p.field("istio").field("virtualService").field("name"), t.Istio.VirtualService.Name)
	}
}

// proxy checks the router: in local mode the embedded proxy is the only
// one, so it is required. Blue-green also needs the preview address, where
// the new version is tested before the switch.
func (v *validator) proxy(p path, t *TrafficRouting, blueGreen bool) {
	const why = "the embedded proxy is the only router in local mode: set trafficRouting.proxy.listen, e.g. \"127.0.0.1:8080\""
	if t == nil {
		v.addf(p, "required: %s", why)
		return
	}
	p = p.field("proxy")
	px := t.Proxy
	if px == nil {
		v.addf(p, "required: %s", why)
		return
	}
	listen, ok := "", false
	if v.required(p.field("listen"), px.Listen) {
		listen, ok = v.listenAddr(p.field("listen"), px.Listen)
	}
	switch {
	case px.PreviewListen == "" && blueGreen:
		v.addf(p.field("previewListen"), "required for blue-green: the preview must be reachable before the switch")
	case px.PreviewListen != "":
		preview, pok := v.listenAddr(p.field("previewListen"), px.PreviewListen)
		if ok && pok && sameListener(listen, preview) {
			v.addf(p.field("previewListen"), "must differ from listen (%q)", px.Listen)
		}
	}
	if f := px.CanaryFailover; f != nil {
		fp := p.field("canaryFailover")
		seen := map[string]bool{}
		for i, m := range f.Methods {
			v.method(fp.field("methods").index(i), m)
			if seen[m] {
				v.addf(fp.field("methods").index(i), "duplicate %q", m)
			}
			seen[m] = true
		}
		if f.MaxBodyBytes != nil {
			v.nonNegative(fp.field("maxBodyBytes"), *f.MaxBodyBytes)
		}
	}
}

var stepFields = []string{"setWeight", "pause", "analysis", "setHeaderRoute", "setMirrorRoute"}

func (v *validator) step(p path, s *CanaryStep) {
	set := []bool{s.SetWeight != nil, s.Pause != nil, s.Analysis != nil, s.SetHeaderRoute != nil, s.SetMirrorRoute != nil}
	if !v.exactlyOne(p, stepFields, set) {
		return
	}
	switch {
	case s.SetWeight != nil:
		v.between(p.field("setWeight"), int64(*s.SetWeight), 0, 100)
	case s.Pause != nil:
		if d := s.Pause.Duration; d != nil && d.Duration < 0 {
			v.addf(p.field("pause").field("duration"), "must not be negative, got %s", d.Duration)
		}
	case s.Analysis != nil:
		v.analysis(p.field("analysis"), s.Analysis)
	case s.SetHeaderRoute != nil:
		v.headerRoute(p.field("setHeaderRoute"), s.SetHeaderRoute)
	default:
		v.mirrorRoute(p.field("setMirrorRoute"), s.SetMirrorRoute)
	}
}

func (v *validator) headerRoute(p path, r *SetHeaderRoute) {
	v.required(p.field("name"), r.Name)
	for i, m := range r.Match {
		mp := p.field("match").index(i)
		if !v.exactlyOne(mp, []string{"headerName", "cookieName"}, []bool{m.HeaderName != "", m.CookieName != ""}) {
			continue
		}
		if m.HeaderName != "" {
			v.headerName(mp.field("headerName"), m.HeaderName)
			v.matchValue(mp, "headerValue", m.HeaderValue, "cookieValue", m.CookieValue, "headerName")
		} else {
			if !token(m.CookieName) {
				v.addf(mp.field("cookieName"), "must be a valid cookie name (an HTTP token), got %q", m.CookieName)
			}
			v.matchValue(mp, "cookieValue", m.CookieValue, "headerValue", m.HeaderValue, "cookieName")
		}
	}
}

// matchValue checks that a header (or cookie) match has its own value and
// not the other kind's, which would be silently ignored.
func (v *validator) matchValue(p path, want string, value *StringMatch, other string, otherValue *StringMatch, name string) {
	if value == nil {
		v.addf(p.field(want), "required with %s", name)
	} else {
		v.stringMatch(p.field(want), value)
	}
	if otherValue != nil {
		v.addf(p.field(other), "must not be set with %s (use %s)", name, want)
	}
}

func (v *validator) mirrorRoute(p path, r *SetMirrorRoute) {
	v.required(p.field("name"), r.Name)
	if r.Percentage != nil {
		v.between(p.field("percentage"), int64(*r.Percentage), 0, 100)
	}
	for i := range r.Match {
		m := &r.Match[i]
		mp := p.field("match").index(i)
		if m.Method != nil && v.stringMatch(mp.field("method"), m.Method) && m.Method.Exact != "" {
			v.method(mp.field("method").field("exact"), m.Method.Exact)
		}
		if m.Path != nil && v.stringMatch(mp.field("path"), m.Path) {
			if s := m.Path.Exact + m.Path.Prefix; s != "" && !strings.HasPrefix(s, "/") {
				v.addf(mp.field("path"), "must start with '/', got %q", s)
			}
		}
		names := make([]string, 0, len(m.Headers))
		for k := range m.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			hp := mp.field("headers").key(k)
			v.headerName(hp, k)
			sm := m.Headers[k]
			v.stringMatch(hp, &sm)
		}
	}
}

// gatewayMethods are the methods a Gateway API HTTPRoute can match.
var gatewayMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// gatewayRuleName is what Gateway API allows as an HTTPRoute rule's name.
var gatewayRuleName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// mirrorSupport refuses a mirror route the Kubernetes router cannot
// express (the embedded proxy and istio express them all), so that the
// rollout does not wait on a step no router will ever apply.
func (v *validator) mirrorSupport(p path, r *SetMirrorRoute, t *TrafficRouting) {
	switch {
	case t.NGINX != nil:
		v.addf(p, "the nginx router cannot mirror: ingress-nginx reads mirror-target only on the main Ingress "+
			"(a canary Ingress's other annotations are ignored), so Fledge would have to edit your Ingress, "+
			"and it copies every request, with no percentage and no match; use gatewayAPI or istio")
	case t.GatewayAPI != nil:
		if n := "fledge-mirror-" + r.Name; r.Name != "" && (len(n) > 253 || !gatewayRuleName.MatchString(n)) {
			v.addf(p.field("name"), "the gatewayAPI router names its HTTPRoute rule %q, which Gateway API refuses: "+
				"use lowercase letters, digits, '-' and '.'", n)
		}
		for i, m := range r.Match {
			switch mp := p.field("match").index(i).field("method"); {
			case m.Method == nil:
			case m.Method.Exact == "":
				v.addf(mp, "the gatewayAPI router matches a method exactly (Gateway API has no method prefix or regex): use exact")
			case !slices.Contains(gatewayMethods, m.Method.Exact):
				v.addf(mp.field("exact"), "Gateway API matches only %s, got %q", orList(gatewayMethods, "or"), m.Method.Exact)
			}
		}
	}
}

// stringMatch checks that exactly one way of matching is set and that a
// regex compiles (with Go's RE2 syntax, which the proxy uses).
func (v *validator) stringMatch(p path, m *StringMatch) bool {
	if !v.exactlyOne(p, []string{"exact", "prefix", "regex"}, []bool{m.Exact != "", m.Prefix != "", m.Regex != ""}) {
		return false
	}
	if m.Regex != "" {
		if _, err := regexp.Compile(m.Regex); err != nil {
			v.addf(p.field("regex"), "invalid regular expression: %v", err)
			return false
		}
	}
	return true
}
