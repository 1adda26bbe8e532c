package istio

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/router/service"
	"k8s.io/apimachinery/pkg/runtime"
)

// mirrorRoute is a copy of the weighted route (its destinations and
// weights, retries, timeout, rewrite...) that matches only the requests of
// m within the route's own matches, and mirrors m's percentage of them to
// the canary. Every request it matches is mirrored, the share the canary
// serves included: Istio mirrors per route, not per destination.
func (r *Router) mirrorRoute(weighted, stable map[string]any, m v1alpha1.SetMirrorRoute) (map[string]any, error) {
	route := runtime.DeepCopyJSON(weighted)
	route["name"] = service.MirrorPrefix + m.Name
	if len(m.Match) > 0 {
		base, _ := route["match"].([]any)
		match, err := service.NarrowMatches(base, m.Match, narrowMatch)
		if err != nil {
			return nil, err
		}
		if len(match) == 0 {
			return nil, errors.New("its match selects none of the requests of the VirtualService's weighted route")
		}
		route["match"] = match
	}
	percent := float64(100)
	if m.Percentage != nil {
		percent = float64(*m.Percentage)
	}
	dest := r.canaryDest(stable)
	switch {
	case route["mirrors"] != nil: // the user mirrors with the newer list: add the canary to it
		list, _ := route["mirrors"].([]any)
		route["mirrors"] = append(list, map[string]any{"destination": dest, "percentage": map[string]any{"value": percent}})
	case route["mirror"] != nil:
		return nil, errors.New("the weighted route already mirrors (its mirror field): Istio mirrors to one destination with mirror, use its mirrors list instead")
	default:
		route["mirror"] = dest
		route["mirrorPercentage"] = map[string]any{"value": percent}
	}
	return route, nil
}

// mirrors tells whether a route mirrors to the canary.
func (r *Router) mirrors(route map[string]any) bool {
	if d, _ := route["mirror"].(map[string]any); d != nil && host(d["host"], r.canary) {
		return true
	}
	list, _ := route["mirrors"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		if d, _ := m["destination"].(map[string]any); d != nil && host(d["host"], r.canary) {
			return true
		}
	}
	return false
}

// narrowMatch is the HTTPMatchRequest that selects what both base and w
// select; ok is false when nothing can.
func narrowMatch(base map[string]any, w v1alpha1.RouteMatch) (map[string]any, bool, error) {
	out := runtime.DeepCopyJSON(base)
	for _, f := range []struct {
		key  string
		want *v1alpha1.StringMatch
	}{{"uri", w.Path}, {"method", w.Method}} {
		m, ok, err := service.Narrow(fromIstio(base[f.key]), f.want, false)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", f.key, err)
		}
		if !ok {
			return nil, false, nil
		}
		if m != nil {
			out[f.key] = stringMatch(m)
		}
	}
	headers, _ := out["headers"].(map[string]any)
	if headers == nil {
		headers = map[string]any{}
	}
	names := make([]string, 0, len(w.Headers))
	for n := range w.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sm := w.Headers[n]
		want, key := stringMatch(&sm), strings.ToLower(n)
		if have, ok := headers[key]; ok && !reflect.DeepEqual(have, want) {
			return nil, false, fmt.Errorf("headers[%s]: the VirtualService's route already matches this header otherwise", n)
		}
		headers[key] = want
	}
	if len(headers) > 0 {
		out["headers"] = headers
	}
	return out, true, nil
}

// fromIstio reads an Istio StringMatch (nil: none).
func fromIstio(v any) *v1alpha1.StringMatch {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil
	}
	s := func(k string) string { x, _ := m[k].(string); return x }
	out := &v1alpha1.StringMatch{Exact: s("exact"), Prefix: s("prefix"), Regex: s("regex")}
	if *out == (v1alpha1.StringMatch{}) {
		return nil
	}
	return out
}
