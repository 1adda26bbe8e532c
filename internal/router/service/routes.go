package service

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
)

// AnnotationMirrorRoutes records, on the router object, the mirror routes
// applied, so that they are read back exactly as the engine gave them (the
// router's own fields lose their form: a match narrowed to the user's
// rule, a percentage as a double).
const AnnotationMirrorRoutes = "fledge.dev/mirror-routes"

// MirrorPrefix names the rules (Gateway API) and HTTP routes (Istio) that
// Fledge adds for mirror routes: fledge-mirror-<route>.
const MirrorPrefix = "fledge-mirror-"

// Annotate records routes under key in ann, or removes key when there are
// none.
func Annotate[T any](ann map[string]string, key string, routes []T) {
	delete(ann, key)
	if len(routes) > 0 {
		b, _ := json.Marshal(routes)
		ann[key] = string(b)
	}
}

// AppliedMirrors decodes the mirror routes recorded in an annotation and
// keeps, in recorded order, those whose rule is in place (present tells).
// An annotation that does not decode reads as none: the engine then
// applies the routes again.
func AppliedMirrors(s string, present func(v1alpha1.SetMirrorRoute) bool) []v1alpha1.SetMirrorRoute {
	if s == "" {
		return nil
	}
	var all, out []v1alpha1.SetMirrorRoute
	if json.Unmarshal([]byte(s), &all) != nil {
		return nil
	}
	for _, m := range all {
		if present(m) {
			out = append(out, m)
		}
	}
	return out
}

// Narrow intersects what a user's rule matches (have; nil matches
// anything) with what a mirror route matches (want; nil: anything), for a
// path or a method. ok is false when no value matches both. With segments,
// a prefix matches whole path segments (Gateway API's PathPrefix: /api
// matches /api/x, not /apix); without, characters (Istio's prefix). What
// cannot be written as one match (a regex beside a prefix) is an error.
func Narrow(have, want *v1alpha1.StringMatch, segments bool) (out *v1alpha1.StringMatch, ok bool, err error) {
	switch {
	case want == nil:
		return have, true, nil
	case have == nil || have.Prefix == "/":
		return want, true, nil
	case have.Exact != "":
		return have, matchesString(want, have.Exact, segments), nil
	case want.Exact != "" && have.Prefix != "":
		return want, under(want.Exact, have.Prefix, segments), nil
	case want.Prefix != "" && have.Prefix != "":
		switch {
		case under(want.Prefix, have.Prefix, segments):
			return want, true, nil
		case under(have.Prefix, want.Prefix, segments):
			return have, true, nil
		}
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("cannot match both %s and %s in one match", describe(have), describe(want))
}

// matchesString tells whether the value v matches m (a regex whole).
func matchesString(m *v1alpha1.StringMatch, v string, segments bool) bool {
	switch {
	case m.Exact != "":
		return v == m.Exact
	case m.Prefix != "":
		return under(v, m.Prefix, segments)
	}
	re, err := regexp.Compile(`^(?:` + m.Regex + `)$`)
	return err == nil && re.MatchString(v)
}

// under tells whether v starts with prefix p.
func under(v, p string, segments bool) bool {
	if !segments || p == "/" || v == p {
		return strings.HasPrefix(v, p)
	}
	return strings.HasPrefix(v, strings.TrimSuffix(p, "/")+"/")
}

func describe(m *v1alpha1.StringMatch) string {
	switch {
	case m.Exact != "":
		return fmt.Sprintf("exact %q", m.Exact)
	case m.Prefix != "":
		return fmt.Sprintf("prefix %q", m.Prefix)
	}
	return fmt.Sprintf("regex %q", m.Regex)
}

// NarrowMatches intersects the matches of a router's rule (any of which
// selects a request) with a mirror route's (any of which too): every pair
// that can both match one request becomes a match, as narrow (the
// router's own match format) makes it; ok false from narrow drops a pair.
func NarrowMatches(base []any, want []v1alpha1.RouteMatch,
	narrow func(base map[string]any, w v1alpha1.RouteMatch) (map[string]any, bool, error)) ([]any, error) {
	if len(base) == 0 {
		base = []any{map[string]any{}}
	}
	var out []any
	for i, w := range want {
		for _, b := range base {
			bm, _ := b.(map[string]any)
			m, ok, err := narrow(bm, w)
			if err != nil {
				return nil, fmt.Errorf("match[%d]: %w", i, err)
			}
			if ok {
				out = append(out, m)
			}
		}
	}
	return out, nil
}
