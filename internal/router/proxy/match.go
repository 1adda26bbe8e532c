package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
)

// stringMatcher is a compiled v1alpha1.StringMatch. A regex must match the
// whole string (RE2, anchored, as in Envoy and Istio), so "v2" does not match
// "v22".
type stringMatcher struct {
	exact, prefix string
	isPrefix      bool
	re            *regexp.Regexp
}

func compileString(m v1alpha1.StringMatch) (stringMatcher, error) {
	set := 0
	for _, s := range []string{m.Exact, m.Prefix, m.Regex} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return stringMatcher{}, errors.New("set only one of exact, prefix and regex")
	}
	switch {
	case m.Regex != "":
		// Compiled alone first: a balanced pattern cannot escape the anchors.
		if _, err := regexp.Compile(m.Regex); err != nil {
			return stringMatcher{}, fmt.Errorf("regex: %w", err)
		}
		re, err := regexp.Compile(`^(?:` + m.Regex + `)$`)
		if err != nil {
			return stringMatcher{}, fmt.Errorf("regex: %w", err)
		}
		return stringMatcher{re: re}, nil
	case m.Prefix != "":
		return stringMatcher{prefix: m.Prefix, isPrefix: true}, nil
	}
	return stringMatcher{exact: m.Exact}, nil
}

func (m *stringMatcher) match(v string) bool {
	switch {
	case m.re != nil:
		return m.re.MatchString(v)
	case m.isPrefix:
		return strings.HasPrefix(v, m.prefix)
	}
	return v == m.exact
}

// valueMatcher matches one header or cookie: present, and if value is set,
// with a value it matches (any of the header's values).
type valueMatcher struct {
	name   string
	cookie bool
	value  *stringMatcher
}

func (m *valueMatcher) matches(r *http.Request) bool {
	if m.cookie {
		v, ok := cookieValue(r.Header, m.name)
		return ok && (m.value == nil || m.value.match(v))
	}
	vs := r.Header[m.name]
	if m.value == nil {
		return len(vs) > 0
	}
	for _, v := range vs {
		if m.value.match(v) {
			return true
		}
	}
	return false
}

// headerRoute matches a request that matches all of its entries.
type headerRoute struct {
	name string
	all  []valueMatcher
}

func (h *headerRoute) matches(r *http.Request) bool {
	for i := range h.all {
		if !h.all[i].matches(r) {
			return false
		}
	}
	return len(h.all) > 0
}

// compileHeaderRoutes compiles the routes once, when they are set; a route
// without match entries is a removal and matches nothing.
func compileHeaderRoutes(rs []v1alpha1.SetHeaderRoute) ([]headerRoute, error) {
	var out []headerRoute
	for i, r := range rs {
		hr := headerRoute{name: r.Name}
		for j, m := range r.Match {
			where := fmt.Sprintf("headerRoutes[%d] (%s).match[%d]", i, r.Name, j)
			if (m.HeaderName == "") == (m.CookieName == "") {
				return nil, fmt.Errorf("%s: set exactly one of headerName and cookieName", where)
			}
			vm := valueMatcher{name: textproto.CanonicalMIMEHeaderKey(m.HeaderName)}
			value := m.HeaderValue
			if m.CookieName != "" {
				vm = valueMatcher{name: m.CookieName, cookie: true}
				value = m.CookieValue
			}
			if value != nil {
				sm, err := compileString(*value)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", where, err)
				}
				vm.value = &sm
			}
			hr.all = append(hr.all, vm)
		}
		if len(hr.all) > 0 {
			out = append(out, hr)
		}
	}
	return out, nil
}

// requestMatcher is a compiled v1alpha1.RouteMatch: every set field must
// match.
type requestMatcher struct {
	method, path *stringMatcher
	headers      []valueMatcher
}

func compileRouteMatch(m v1alpha1.RouteMatch) (requestMatcher, error) {
	var out requestMatcher
	for _, f := range []struct {
		name string
		in   *v1alpha1.StringMatch
		out  **stringMatcher
	}{{"method", m.Method, &out.method}, {"path", m.Path, &out.path}} {
		if f.in == nil {
			continue
		}
		sm, err := compileString(*f.in)
		if err != nil {
			return out, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.out = &sm
	}
	for name, v := range m.Headers {
		sm, err := compileString(v)
		if err != nil {
			return out, fmt.Errorf("headers[%s]: %w", name, err)
		}
		out.headers = append(out.headers, valueMatcher{name: textproto.CanonicalMIMEHeaderKey(name), value: &sm})
	}
	return out, nil
}

func (m *requestMatcher) matches(r *http.Request) bool {
	if m.method != nil && !m.method.match(r.Method) {
		return false
	}
	if m.path != nil && !m.path.match(r.URL.Path) {
		return false
	}
	for i := range m.headers {
		if !m.headers[i].matches(r) {
			return false
		}
	}
	return true
}
