package gatewayapi

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/router/service"
	"k8s.io/apimachinery/pkg/runtime"
)

// ruleName is what Gateway API allows as a rule's name.
var ruleName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// mirrorRule is a copy of the weighted rule (its backendRefs and weights,
// its filters, timeouts...) that matches only the requests of m within the
// rule's own matches, and copies m's percentage of them to the canary with
// a RequestMirror filter. Every request the copy matches is mirrored, the
// share the canary serves included: Gateway API mirrors per rule, not per
// backend.
func (r *Router) mirrorRule(weighted map[string]any, m v1alpha1.SetMirrorRoute, port any) (map[string]any, error) {
	name := service.MirrorPrefix + m.Name
	if len(name) > 253 || !ruleName.MatchString(name) {
		return nil, fmt.Errorf("rule name %q is not a valid Gateway API rule name (lowercase letters, digits, '-' and '.')", name)
	}
	if port == nil {
		return nil, errors.New("the backendRef to the stable Service has no port, which a RequestMirror filter needs")
	}
	rule := runtime.DeepCopyJSON(weighted)
	rule["name"] = name
	if len(m.Match) > 0 {
		base, _ := rule["matches"].([]any)
		matches, err := service.NarrowMatches(base, m.Match, narrowMatch)
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, errors.New("its match selects none of the requests of the HTTPRoute's weighted rule")
		}
		rule["matches"] = matches
	}
	mirror := map[string]any{"backendRef": map[string]any{"name": r.canary, "port": port}}
	if m.Percentage != nil && *m.Percentage != 100 { // 100 is the default, which any Gateway API version keeps
		mirror["percent"] = int64(*m.Percentage)
	}
	filters, _ := rule["filters"].([]any)
	rule["filters"] = append(filters, map[string]any{"type": "RequestMirror", "requestMirror": mirror})
	return rule, nil
}

// mirrorFilter is the requestMirror of a rule's filter that copies
// requests to the canary (nil when there is none).
func (r *Router) mirrorFilter(rule map[string]any) map[string]any {
	filters, _ := rule["filters"].([]any)
	for _, x := range filters {
		f, _ := x.(map[string]any)
		ref := nestedMap(f, "requestMirror", "backendRef")
		if f["type"] == "RequestMirror" && ref["name"] == r.canary {
			return nestedMap(f, "requestMirror")
		}
	}
	return nil
}

// samePercent tells whether a rule's requestMirror (nil: none) copies the
// share m asks for (no percent: everything).
func samePercent(f map[string]any, m v1alpha1.SetMirrorRoute) bool {
	want := int64(100)
	if m.Percentage != nil {
		want = int64(*m.Percentage)
	}
	p, ok := f["percent"].(int64)
	switch {
	case f == nil || f["fraction"] != nil:
		return false
	case !ok:
		return f["percent"] == nil && want == 100
	}
	return p == want
}

// nestedMap is the map at keys in m (nil when there is none).
func nestedMap(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ = m[k].(map[string]any)
	}
	return m
}

// narrowMatch is the HTTPRouteMatch that selects what both base and w
// select; ok is false when nothing can.
func narrowMatch(base map[string]any, w v1alpha1.RouteMatch) (map[string]any, bool, error) {
	out := runtime.DeepCopyJSON(base)
	path, ok, err := service.Narrow(pathOf(base), w.Path, true)
	if err != nil || !ok {
		return nil, false, wrap("path", err)
	}
	if path != nil {
		out["path"] = gatewayPath(path)
	}
	var have *v1alpha1.StringMatch
	if m, _ := base["method"].(string); m != "" {
		have = &v1alpha1.StringMatch{Exact: m}
	}
	method, ok, err := service.Narrow(have, w.Method, false)
	switch {
	case err != nil || !ok:
		return nil, false, wrap("method", err)
	case method != nil && method.Exact == "":
		return nil, false, errors.New("method: Gateway API matches a method exactly: use method.exact")
	case method != nil:
		out["method"] = method.Exact
	}
	headers, _ := out["headers"].([]any)
	seen := map[string]map[string]any{}
	for _, x := range headers {
		h, _ := x.(map[string]any)
		if n, _ := h["name"].(string); n != "" {
			seen[strings.ToLower(n)] = h
		}
	}
	names := make([]string, 0, len(w.Headers))
	for n := range w.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sm := w.Headers[n]
		typ, v := stringMatch(&sm)
		if h := seen[strings.ToLower(n)]; h != nil {
			if t, _ := h["type"].(string); (t == typ || t == "" && typ == "Exact") && h["value"] == v {
				continue
			}
			return nil, false, fmt.Errorf("headers[%s]: the HTTPRoute's rule already matches this header otherwise, and Gateway API reads one match per header", n)
		}
		headers = append(headers, map[string]any{"name": n, "type": typ, "value": v})
	}
	if len(headers) > 0 {
		out["headers"] = headers
	}
	return out, true, nil
}

func wrap(field string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", field, err)
}

// pathOf reads an HTTPRouteMatch's path as a string match (nil: none).
func pathOf(m map[string]any) *v1alpha1.StringMatch {
	p, _ := m["path"].(map[string]any)
	v, _ := p["value"].(string)
	if p == nil {
		return nil
	}
	switch p["type"] {
	case "Exact":
		return &v1alpha1.StringMatch{Exact: v}
	case "RegularExpression":
		return &v1alpha1.StringMatch{Regex: v}
	}
	if v == "" {
		v = "/"
	}
	return &v1alpha1.StringMatch{Prefix: v}
}

// gatewayPath writes a string match as an HTTPPathMatch.
func gatewayPath(m *v1alpha1.StringMatch) map[string]any {
	switch {
	case m.Exact != "":
		return map[string]any{"type": "Exact", "value": m.Exact}
	case m.Prefix != "":
		return map[string]any{"type": "PathPrefix", "value": m.Prefix}
	}
	return map[string]any{"type": "RegularExpression", "value": m.Regex}
}
