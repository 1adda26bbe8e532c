package gatewayapi

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/router"
	"fledge.dev/fledge/internal/router/service"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func init() { router.Register("gatewayAPI", New) }

// GVK is the HTTPRoute kind this router edits.
var GVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}

// AnnotationHeaderRoutes records the header routes applied, so that they
// are read back exactly as the engine asked for them.
const AnnotationHeaderRoutes = "fledge.dev/header-routes"

// rulePrefix names the rules Fledge adds for header routes.
const rulePrefix = "fledge-"

// Router weighs an HTTPRoute's backendRefs to <rollout>-stable and
// <rollout>-canary.
type Router struct {
	c              client.Client
	ro             *v1alpha1.Rollout
	route          types.NamespacedName
	stable, canary string
}

var _ router.Router = (*Router)(nil)

// New builds the router for the rollout's trafficRouting.gatewayAPI.
func New(cfg router.Config) (router.Router, error) {
	if cfg.Kube == nil {
		return nil, fmt.Errorf("the gatewayAPI router needs a Kubernetes client (Kubernetes mode)")
	}
	tr := cfg.Rollout.Spec.Strategy.TrafficRouting()
	if tr == nil || tr.GatewayAPI == nil {
		return nil, fmt.Errorf("rollout %s has no trafficRouting.gatewayAPI", cfg.Rollout.Name)
	}
	ro := cfg.Rollout
	return &Router{c: cfg.Kube, ro: ro, route: types.NamespacedName{Namespace: ro.Namespace, Name: tr.GatewayAPI.HTTPRoute},
		stable: service.StableName(ro), canary: service.CanaryName(ro)}, nil
}

// SetTraffic applies t (see service.Route for the order).
func (r *Router) SetTraffic(ctx context.Context, t rollout.Traffic) error {
	return service.Route(ctx, r.c, r.ro, r, t)
}

// Observed reads the HTTPRoute and the Services back.
func (r *Router) Observed(ctx context.Context) (rollout.Traffic, error) {
	return service.Observe(ctx, r.c, r.ro, r)
}

func (r *Router) get(ctx context.Context) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(GVK)
	if err := r.c.Get(ctx, r.route, u); err != nil {
		return nil, fmt.Errorf("read HTTPRoute %s: %w", r.route, err)
	}
	return u, nil
}

// SetWeights sets the weights in every rule that sends to the stable
// Service (adding the canary backendRef where missing) and replaces
// Fledge's rules: one per mirror route in front of the user's rules (a
// copy of the first weighted rule, narrowed to the route's matches, with a
// RequestMirror filter; in front, it wins the ties Gateway API breaks by
// rule order), one per header route behind them.
func (r *Router) SetWeights(ctx context.Context, c service.Canary) error {
	u, err := r.get(ctx)
	if err != nil {
		return err
	}
	base := u.DeepCopy()
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	var kept []any
	var first map[string]any // the first weighted rule, which Fledge's rules narrow
	var port any             // and the port of its stable backendRef
	for _, rl := range rules {
		rule, ok := rl.(map[string]any)
		if !ok {
			continue
		}
		if name, _ := rule["name"].(string); strings.HasPrefix(name, rulePrefix) {
			continue // replaced below
		}
		if ref := r.weigh(rule, c.Weight); ref != nil && first == nil {
			first, port = rule, ref["port"]
		}
		kept = append(kept, rule)
	}
	if first == nil {
		return fmt.Errorf("HTTPRoute %s has no rule with a backendRef to Service %s", r.route, r.stable)
	}
	matches, _ := first["matches"].([]any)
	var out []any
	names := map[string]bool{}
	for _, m := range c.Mirrors {
		rule, err := r.mirrorRule(first, m, port)
		if err != nil {
			return fmt.Errorf("HTTPRoute %s: mirror route %q: %w", r.route, m.Name, err)
		}
		names[rule["name"].(string)] = true
		out = append(out, rule)
	}
	out = append(out, kept...)
	for _, h := range c.Headers {
		rule := r.headerRule(h, matches, port)
		if names[rule["name"].(string)] {
			return fmt.Errorf("HTTPRoute %s: header route %q and a mirror route both need rule %s: rename one", r.route, h.Name, rule["name"])
		}
		out = append(out, rule)
	}
	if err := unstructured.SetNestedSlice(u.Object, out, "spec", "rules"); err != nil {
		return err
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	service.Annotate(ann, AnnotationHeaderRoutes, c.Headers)
	service.Annotate(ann, service.AnnotationMirrorRoutes, c.Mirrors)
	u.SetAnnotations(ann)
	if err := r.c.Patch(ctx, u, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("set weights on HTTPRoute %s: %w", r.route, err)
	}
	return r.checkPercent(ctx, u, c)
}

// checkPercent withdraws the mirror rules when the HTTPRoute as stored (the
// API server's answer to the patch) lost a mirror's percent: the standard
// channel of Gateway API before v1.3 has no percent and its CRD prunes the
// field, which would mirror every request instead of the share asked for.
func (r *Router) checkPercent(ctx context.Context, stored *unstructured.Unstructured, c service.Canary) error {
	rules, _, _ := unstructured.NestedSlice(stored.Object, "spec", "rules")
	byName := map[string]map[string]any{}
	for _, rl := range rules {
		rule, _ := rl.(map[string]any)
		if name, _ := rule["name"].(string); name != "" {
			byName[name] = r.mirrorFilter(rule)
		}
	}
	for _, m := range c.Mirrors {
		if samePercent(byName[service.MirrorPrefix+m.Name], m) {
			continue
		}
		if err := r.SetWeights(ctx, service.Canary{Weight: c.Weight, Headers: c.Headers}); err != nil {
			return fmt.Errorf("withdraw the mirror rules of HTTPRoute %s: %w", r.route, err)
		}
		return fmt.Errorf("HTTPRoute %s: mirror route %q: the API server dropped requestMirror.percent "+
			"(the standard channel of Gateway API before v1.3 has none): install Gateway API v1.3 or later, or mirror 100%%", r.route, m.Name)
	}
	return nil
}

// weigh sets the weights of a rule that routes to the stable Service; it
// returns the stable backendRef, nil when the rule has none.
func (r *Router) weigh(rule map[string]any, weight int32) map[string]any {
	refs, _ := rule["backendRefs"].([]any)
	var stableRef map[string]any
	hasCanary := false
	for _, x := range refs {
		ref, _ := x.(map[string]any)
		switch ref["name"] {
		case r.stable:
			stableRef = ref
			ref["weight"] = int64(100 - weight)
		case r.canary:
			hasCanary = true
			ref["weight"] = int64(weight)
		}
	}
	if stableRef == nil {
		return nil
	}
	if !hasCanary {
		c := map[string]any{"name": r.canary, "weight": int64(weight)}
		if p, ok := stableRef["port"]; ok {
			c["port"] = p
		}
		rule["backendRefs"] = append(refs, c)
	}
	return stableRef
}

// headerRule is a rule sending requests that match h (within the matches of
// the weighted rule, e.g. its path) to the canary only. Cookies match on
// the Cookie header: Gateway API has no cookie match.
func (r *Router) headerRule(h v1alpha1.SetHeaderRoute, base []any, port any) map[string]any {
	var hm []any
	for _, m := range h.Match {
		if m.HeaderName != "" {
			typ, v := stringMatch(m.HeaderValue)
			hm = append(hm, map[string]any{"name": m.HeaderName, "type": typ, "value": v})
			continue
		}
		_, v := stringMatch(m.CookieValue)
		if m.CookieValue.Exact != "" {
			v = regexp.QuoteMeta(m.CookieValue.Exact)
		} else if m.CookieValue.Prefix != "" {
			v = regexp.QuoteMeta(m.CookieValue.Prefix) + "[^;]*"
		}
		hm = append(hm, map[string]any{"name": "Cookie", "type": "RegularExpression",
			"value": `(^|;\s*)` + regexp.QuoteMeta(m.CookieName) + `=` + v + `(;|$)`})
	}
	if len(base) == 0 {
		base = []any{map[string]any{}}
	}
	var matches []any
	for _, b := range base {
		m := map[string]any{}
		for k, v := range b.(map[string]any) {
			m[k] = v
		}
		m["headers"] = hm
		matches = append(matches, m)
	}
	ref := map[string]any{"name": r.canary, "weight": int64(1)}
	if port != nil {
		ref["port"] = port
	}
	return map[string]any{
		"name":        rulePrefix + h.Name,
		"matches":     matches,
		"backendRefs": []any{ref},
	}
}

// stringMatch translates a StringMatch to Gateway API's (Exact or
// RegularExpression; a prefix is a regular expression).
func stringMatch(m *v1alpha1.StringMatch) (string, string) {
	switch {
	case m == nil:
		return "RegularExpression", ".*"
	case m.Exact != "":
		return "Exact", m.Exact
	case m.Prefix != "":
		return "RegularExpression", "^" + regexp.QuoteMeta(m.Prefix) + ".*"
	default:
		return "RegularExpression", m.Regex
	}
}

// ObservedWeights reads the canary weight of the first rule that routes to
// the stable Service, and the header and mirror routes whose rules are in
// place (a Fledge rule with a RequestMirror filter to the canary is a
// mirror route's).
func (r *Router) ObservedWeights(ctx context.Context) (service.Canary, error) {
	u, err := r.get(ctx)
	if err != nil {
		return service.Canary{}, err
	}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	var weight int32
	found := false
	names, mirrors := map[string]bool{}, map[string]map[string]any{}
	for _, rl := range rules {
		rule, _ := rl.(map[string]any)
		if name, _ := rule["name"].(string); strings.HasPrefix(name, rulePrefix) {
			if f := r.mirrorFilter(rule); f != nil {
				mirrors[name] = f
			} else {
				names[strings.TrimPrefix(name, rulePrefix)] = true
			}
			continue
		}
		if found {
			continue
		}
		refs, _ := rule["backendRefs"].([]any)
		var sw, cw int64
		hasStable := false
		for _, x := range refs {
			ref, _ := x.(map[string]any)
			w, ok := ref["weight"].(int64)
			if !ok {
				w = 1 // Gateway API's default weight
			}
			switch ref["name"] {
			case r.stable:
				sw, hasStable = w, true
			case r.canary:
				cw = w
			}
		}
		if hasStable {
			found = true
			if sw+cw > 0 {
				weight = int32(cw * 100 / (sw + cw))
			}
		}
	}
	var headers []v1alpha1.SetHeaderRoute
	if s := u.GetAnnotations()[AnnotationHeaderRoutes]; s != "" {
		var all []v1alpha1.SetHeaderRoute
		if err := json.Unmarshal([]byte(s), &all); err == nil {
			for _, h := range all {
				if names[h.Name] {
					headers = append(headers, h)
				}
			}
		}
	}
	present := func(m v1alpha1.SetMirrorRoute) bool { return samePercent(mirrors[service.MirrorPrefix+m.Name], m) }
	return service.Canary{Weight: weight, Headers: headers,
		Mirrors: service.AppliedMirrors(u.GetAnnotations()[service.AnnotationMirrorRoutes], present)}, nil
}
