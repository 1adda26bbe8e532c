package istio

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
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

func init() { router.Register("istio", New) }

// GVK is the VirtualService kind this router edits.
var GVK = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}

// AnnotationHeaderRoutes records the header routes applied, to read them back.
const AnnotationHeaderRoutes = "fledge.dev/header-routes"

const routePrefix = "fledge-"

// Router weighs a VirtualService's destinations.
type Router struct {
	c              client.Client
	ro             *v1alpha1.Rollout
	vs             types.NamespacedName
	routes         []string
	stable, canary string
}

var _ router.Router = (*Router)(nil)

// New builds the router for the rollout's trafficRouting.istio.
func New(cfg router.Config) (router.Router, error) {
	if cfg.Kube == nil {
		return nil, fmt.Errorf("the istio router needs a Kubernetes client (Kubernetes mode)")
	}
	tr := cfg.Rollout.Spec.Strategy.TrafficRouting()
	if tr == nil || tr.Istio == nil {
		return nil, fmt.Errorf("rollout %s has no trafficRouting.istio", cfg.Rollout.Name)
	}
	ro := cfg.Rollout
	return &Router{c: cfg.Kube, ro: ro, vs: types.NamespacedName{Namespace: ro.Namespace, Name: tr.Istio.VirtualService.Name},
		routes: tr.Istio.VirtualService.Routes, stable: service.StableName(ro), canary: service.CanaryName(ro)}, nil
}

// SetTraffic applies t (see service.Route for the order).
func (r *Router) SetTraffic(ctx context.Context, t rollout.Traffic) error {
	return service.Route(ctx, r.c, r.ro, r, t)
}

// Observed reads the VirtualService and the Services back.
func (r *Router) Observed(ctx context.Context) (rollout.Traffic, error) {
	return service.Observe(ctx, r.c, r.ro, r)
}

func (r *Router) get(ctx context.Context) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(GVK)
	if err := r.c.Get(ctx, r.vs, u); err != nil {
		return nil, fmt.Errorf("read VirtualService %s: %w", r.vs, err)
	}
	return u, nil
}

// host tells whether a destination host names svc (short or qualified name).
func host(h any, svc string) bool {
	s, _ := h.(string)
	return s == svc || strings.HasPrefix(s, svc+".")
}

// selected tells whether an HTTP route is one the spec names (all when none).
func (r *Router) selected(route map[string]any) bool {
	name, _ := route["name"].(string)
	return len(r.routes) == 0 || slices.Contains(r.routes, name)
}

// SetWeights sets the weights of the selected routes and replaces Fledge's
// routes in front of them (Istio takes the first route that matches): the
// header routes first, then one per mirror route (a copy of the first
// weighted route, narrowed to the mirror's matches, that mirrors to the
// canary).
func (r *Router) SetWeights(ctx context.Context, c service.Canary) error {
	u, err := r.get(ctx)
	if err != nil {
		return err
	}
	base := u.DeepCopy()
	routes, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
	var kept []any
	var first, stableDest map[string]any // the first weighted route and its stable destination
	for _, x := range routes {
		route, _ := x.(map[string]any)
		if name, _ := route["name"].(string); strings.HasPrefix(name, routePrefix) {
			continue
		}
		if r.selected(route) {
			if d := r.weigh(route, c.Weight); d != nil && stableDest == nil {
				first, stableDest = route, d
			}
		}
		kept = append(kept, route)
	}
	if stableDest == nil {
		return fmt.Errorf("VirtualService %s has no selected HTTP route with a destination to %s", r.vs, r.stable)
	}
	var out []any
	for _, h := range c.Headers {
		out = append(out, r.headerRoute(h, stableDest))
	}
	for _, m := range c.Mirrors {
		route, err := r.mirrorRoute(first, stableDest, m)
		if err != nil {
			return fmt.Errorf("VirtualService %s: mirror route %q: %w", r.vs, m.Name, err)
		}
		for _, h := range out {
			if h.(map[string]any)["name"] == route["name"] {
				return fmt.Errorf("VirtualService %s: mirror route %q and a header route both need route %s: rename one", r.vs, m.Name, route["name"])
			}
		}
		out = append(out, route)
	}
	out = append(out, kept...)
	if err := unstructured.SetNestedSlice(u.Object, out, "spec", "http"); err != nil {
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
		return fmt.Errorf("set weights on VirtualService %s: %w", r.vs, err)
	}
	return nil
}

// weigh sets a route's weights; it returns the stable destination (nil when
// the route has none), adding the canary's when missing.
func (r *Router) weigh(route map[string]any, weight int32) map[string]any {
	dests, _ := route["route"].([]any)
	var stable map[string]any
	hasCanary := false
	for _, x := range dests {
		d, _ := x.(map[string]any)
		dest, _ := d["destination"].(map[string]any)
		switch {
		case host(dest["host"], r.stable):
			stable, d["weight"] = dest, int64(100-weight)
		case host(dest["host"], r.canary):
			hasCanary, d["weight"] = true, int64(weight)
		}
	}
	if stable == nil {
		return nil
	}
	if !hasCanary {
		route["route"] = append(dests, map[string]any{"destination": r.canaryDest(stable), "weight": int64(weight)})
	}
	return stable
}

// canaryDest is the stable destination with the canary's host.
func (r *Router) canaryDest(stable map[string]any) map[string]any {
	d := map[string]any{}
	for k, v := range stable {
		d[k] = v
	}
	h, _ := stable["host"].(string)
	d["host"] = r.canary + strings.TrimPrefix(h, r.stable)
	return d
}

// headerRoute sends requests matching h to the canary.
func (r *Router) headerRoute(h v1alpha1.SetHeaderRoute, stable map[string]any) map[string]any {
	headers := map[string]any{}
	for _, m := range h.Match {
		if m.HeaderName != "" {
			headers[strings.ToLower(m.HeaderName)] = stringMatch(m.HeaderValue)
			continue
		}
		v := m.CookieValue.Regex
		if m.CookieValue.Exact != "" {
			v = regexp.QuoteMeta(m.CookieValue.Exact)
		} else if m.CookieValue.Prefix != "" {
			v = regexp.QuoteMeta(m.CookieValue.Prefix) + "[^;]*"
		}
		headers["cookie"] = map[string]any{"regex": `(^|.*;\s*)` + regexp.QuoteMeta(m.CookieName) + `=` + v + `(;.*|$)`}
	}
	return map[string]any{
		"name":  routePrefix + h.Name,
		"match": []any{map[string]any{"headers": headers}},
		"route": []any{map[string]any{"destination": r.canaryDest(stable), "weight": int64(100)}},
	}
}

func stringMatch(m *v1alpha1.StringMatch) map[string]any {
	switch {
	case m.Exact != "":
		return map[string]any{"exact": m.Exact}
	case m.Prefix != "":
		return map[string]any{"prefix": m.Prefix}
	default:
		return map[string]any{"regex": m.Regex}
	}
}

// ObservedWeights reads the canary weight of the first selected route and
// the header and mirror routes in place (a Fledge route that mirrors to
// the canary is a mirror route's).
func (r *Router) ObservedWeights(ctx context.Context) (service.Canary, error) {
	u, err := r.get(ctx)
	if err != nil {
		return service.Canary{}, err
	}
	routes, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
	names, mirrors := map[string]bool{}, map[string]bool{}
	var weight int32
	found := false
	for _, x := range routes {
		route, _ := x.(map[string]any)
		if name, _ := route["name"].(string); strings.HasPrefix(name, routePrefix) {
			if r.mirrors(route) {
				mirrors[name] = true
			} else {
				names[strings.TrimPrefix(name, routePrefix)] = true
			}
			continue
		}
		if found || !r.selected(route) {
			continue
		}
		var sw, cw int64
		dests, _ := route["route"].([]any)
		for _, y := range dests {
			d, _ := y.(map[string]any)
			dest, _ := d["destination"].(map[string]any)
			w, ok := d["weight"].(int64)
			if !ok && len(dests) == 1 {
				w = 100 // Istio: a single destination takes everything
			}
			switch {
			case host(dest["host"], r.stable):
				sw, found = w, true
			case host(dest["host"], r.canary):
				cw = w
			}
		}
		if sw+cw > 0 {
			weight = int32(cw * 100 / (sw + cw))
		}
	}
	var headers []v1alpha1.SetHeaderRoute
	if s := u.GetAnnotations()[AnnotationHeaderRoutes]; s != "" {
		var all []v1alpha1.SetHeaderRoute
		if json.Unmarshal([]byte(s), &all) == nil {
			for _, h := range all {
				if names[h.Name] {
					headers = append(headers, h)
				}
			}
		}
	}
	present := func(m v1alpha1.SetMirrorRoute) bool { return mirrors[service.MirrorPrefix+m.Name] }
	return service.Canary{Weight: weight, Headers: headers,
		Mirrors: service.AppliedMirrors(u.GetAnnotations()[service.AnnotationMirrorRoutes], present)}, nil
}
