package proxy

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

func mustHeaderRoutes() []v1alpha1.SetHeaderRoute {
	return []v1alpha1.SetHeaderRoute{{Name: "testers", Match: []v1alpha1.HeaderRoutingMatch{
		{HeaderName: "x-canary", HeaderValue: &v1alpha1.StringMatch{Exact: "always"}},
	}}}
}

func TestHeaderRouteMatch(t *testing.T) {
	exact := func(s string) *v1alpha1.StringMatch { return &v1alpha1.StringMatch{Exact: s} }
	tests := map[string]struct {
		route   v1alpha1.SetHeaderRoute
		headers map[string]string
		want    bool
	}{
		"exact header": {
			route:   v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Beta", HeaderValue: exact("yes")}}},
			headers: map[string]string{"x-beta": "yes"}, want: true,
		},
		"exact header differs": {
			route:   v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Beta", HeaderValue: exact("yes")}}},
			headers: map[string]string{"X-Beta": "yess"},
		},
		"prefix": {
			route:   v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "User-Agent", HeaderValue: &v1alpha1.StringMatch{Prefix: "Mozilla/5"}}}},
			headers: map[string]string{"User-Agent": "Mozilla/5.0 (X11)"}, want: true,
		},
		"regex is anchored": {
			route:   v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Version", HeaderValue: &v1alpha1.StringMatch{Regex: "v2|v3"}}}},
			headers: map[string]string{"X-Version": "v22"},
		},
		"regex": {
			route:   v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Version", HeaderValue: &v1alpha1.StringMatch{Regex: "v[23]"}}}},
			headers: map[string]string{"X-Version": "v3"}, want: true,
		},
		"presence only": {
			route:   v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Debug"}}},
			headers: map[string]string{"X-Debug": ""}, want: true,
		},
		"cookie": {
			route:   v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{CookieName: "beta", CookieValue: exact("1")}}},
			headers: map[string]string{"Cookie": "session=abc; beta=1"}, want: true,
		},
		"cookie absent": {
			route:   v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{CookieName: "beta"}}},
			headers: map[string]string{"Cookie": "session=abc; betas=1"},
		},
		"every entry must match": {
			route: v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{
				{HeaderName: "X-A", HeaderValue: exact("1")}, {HeaderName: "X-B", HeaderValue: exact("2")}}},
			headers: map[string]string{"X-A": "1"},
		},
		"no entries is a removal": {
			route:   v1alpha1.SetHeaderRoute{Name: "r"},
			headers: map[string]string{"X-A": "1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			routes, err := compileHeaderRoutes([]v1alpha1.SetHeaderRoute{tc.route})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest("GET", "http://x/", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			sel := headerRouted{routes: routes, next: fixed(false)}
			if got, _ := sel.pick(r); got != tc.want {
				t.Errorf("matched = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := map[string]struct {
		route v1alpha1.SetHeaderRoute
		want  string
	}{
		"bad regex": {
			route: v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X", HeaderValue: &v1alpha1.StringMatch{Regex: "a("}}}},
			want:  "headerRoutes[0] (r).match[0]: regex",
		},
		"unbalanced regex cannot escape the anchors": {
			route: v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X", HeaderValue: &v1alpha1.StringMatch{Regex: "a)|(b"}}}},
			want:  "regex",
		},
		"two kinds": {
			route: v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X", HeaderValue: &v1alpha1.StringMatch{Exact: "a", Prefix: "b"}}}},
			want:  "only one of",
		},
		"header and cookie": {
			route: v1alpha1.SetHeaderRoute{Name: "r", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X", CookieName: "c"}}},
			want:  "exactly one of headerName and cookieName",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := compileHeaderRoutes([]v1alpha1.SetHeaderRoute{tc.route})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMirrorRouteMatch(t *testing.T) {
	pct := func(v int32) *int32 { return &v }
	tests := map[string]struct {
		route        v1alpha1.SetMirrorRoute
		method, path string
		want         int // of 10 requests
	}{
		"all requests": {route: v1alpha1.SetMirrorRoute{Name: "m", Percentage: pct(100)}, method: "GET", path: "/", want: 10},
		"half":         {route: v1alpha1.SetMirrorRoute{Name: "m", Percentage: pct(50)}, method: "GET", path: "/", want: 5},
		"method and path": {route: v1alpha1.SetMirrorRoute{Name: "m", Match: []v1alpha1.RouteMatch{{
			Method: &v1alpha1.StringMatch{Exact: "GET"}, Path: &v1alpha1.StringMatch{Prefix: "/api/"}}}},
			method: "GET", path: "/api/x", want: 10},
		"path differs": {route: v1alpha1.SetMirrorRoute{Name: "m", Match: []v1alpha1.RouteMatch{{
			Path: &v1alpha1.StringMatch{Prefix: "/api/"}}}}, method: "GET", path: "/web", want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ms, err := compileMirrorRoutes([]v1alpha1.SetMirrorRoute{tc.route})
			if err != nil || len(ms) != 1 {
				t.Fatalf("compile: %v, %d routes", err, len(ms))
			}
			r, _ := http.NewRequest(tc.method, "http://x"+tc.path, nil)
			got := 0
			for range 10 {
				if ms[0].selects(r) {
					got++
				}
			}
			if got != tc.want {
				t.Errorf("mirrored %d of 10, want %d", got, tc.want)
			}
		})
	}
	if ms, _ := compileMirrorRoutes([]v1alpha1.SetMirrorRoute{{Name: "gone"}}); len(ms) != 0 {
		t.Error("a mirror route without match and percentage is a removal")
	}
}

// FuzzHeaderMatch checks the header matcher against independent oracles:
// exact is equality, prefix is strings.HasPrefix, regex is a full match (the
// leftmost-longest match spans the whole value), and a bad regex is an error
// at compile time, never a panic or a silent mismatch.
func FuzzHeaderMatch(f *testing.F) {
	f.Add(uint8(0), "always", "always")
	f.Add(uint8(1), "Mozilla", "Mozilla/5.0")
	f.Add(uint8(2), "v[23]", "v3")
	f.Add(uint8(2), "a|ab", "ab")
	f.Add(uint8(2), "a)|(b", "b")
	f.Add(uint8(2), "(", "")
	f.Add(uint8(3), "beta", "1")
	f.Fuzz(func(t *testing.T, kind uint8, pattern, value string) {
		var sm v1alpha1.StringMatch
		switch kind % 4 {
		case 0:
			sm.Exact = pattern
		case 1:
			sm.Prefix = pattern
		default:
			sm.Regex = pattern
		}
		m := v1alpha1.HeaderRoutingMatch{HeaderName: "X-Test", HeaderValue: &sm}
		cookie := kind%4 == 3 && validCookieValue(value)
		if cookie {
			m = v1alpha1.HeaderRoutingMatch{CookieName: "c", CookieValue: &sm}
		}
		routes, err := compileHeaderRoutes([]v1alpha1.SetHeaderRoute{{Name: "f", Match: []v1alpha1.HeaderRoutingMatch{m}}})
		var oracle bool
		switch {
		case sm.Regex != "":
			re, rerr := regexp.Compile(pattern)
			if (rerr != nil) != (err != nil) {
				t.Fatalf("regex %q: compile error %v, matcher error %v", pattern, rerr, err)
			}
			if rerr != nil {
				return
			}
			re.Longest()
			loc := re.FindStringIndex(value)
			oracle = loc != nil && loc[0] == 0 && loc[1] == len(value)
		case sm.Prefix != "":
			oracle = strings.HasPrefix(value, pattern)
		default:
			oracle = value == pattern
		}
		if err != nil {
			t.Fatalf("compile %+v: %v", sm, err)
		}
		r, _ := http.NewRequest("GET", "http://x/", nil)
		if cookie {
			r.Header["Cookie"] = []string{"a=b; c=" + value + "; d=e"}
		} else {
			r.Header["X-Test"] = []string{value}
		}
		if got := len(routes) == 1 && routes[0].matches(r); got != oracle {
			t.Fatalf("%+v on %q (cookie %v): matched %v, oracle %v", sm, value, cookie, got, oracle)
		}
	})
}

// validCookieValue is what a browser sends unquoted in a Cookie header.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == ';' || c == '\\' || c == ',' {
			return false
		}
	}
	return true
}
