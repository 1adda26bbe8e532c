package gatewayapi

import (
	"encoding/json"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

func testRouter() *Router { return &Router{stable: "web-stable", canary: "web-canary"} }

// weightedRule is a user's rule as the API server returns it, weighed 90/10.
func weightedRule(matches string) map[string]any {
	var rule map[string]any
	if err := json.Unmarshal([]byte(`{"matches": `+matches+`,
		"filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "X-Via", "value": "gw"}]}}],
		"backendRefs": [{"name": "web-stable", "port": 80, "weight": 90}, {"name": "web-canary", "port": 80, "weight": 10}]}`), &rule); err != nil {
		panic(err)
	}
	return rule
}

func asJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func pct(n int32) *int32 { return &n }

func TestMirrorRule(t *testing.T) {
	r := testRouter()
	const backends = `"backendRefs":[{"name":"web-stable","port":80,"weight":90},{"name":"web-canary","port":80,"weight":10}]`
	const userFilter = `{"requestHeaderModifier":{"set":[{"name":"X-Via","value":"gw"}]},"type":"RequestHeaderModifier"}`
	tests := map[string]struct {
		base  string
		route v1alpha1.SetMirrorRoute
		want  string // the rule's JSON
		err   string
	}{
		"every request of the rule, 10%": {
			base:  `[{"path": {"type": "PathPrefix", "value": "/"}}]`,
			route: v1alpha1.SetMirrorRoute{Name: "all", Percentage: pct(10)},
			want: `{` + backends + `,"filters":[` + userFilter + `,{"requestMirror":{"backendRef":{"name":"web-canary","port":80},"percent":10},"type":"RequestMirror"}],` +
				`"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"name":"fledge-mirror-all"}`,
		},
		"matches narrowed to the rule's": {
			base: `[{"path": {"type": "PathPrefix", "value": "/api"}, "headers": [{"name": "Host-Tag", "type": "Exact", "value": "x"}]}, {"path": {"type": "Exact", "value": "/login"}}]`,
			route: v1alpha1.SetMirrorRoute{Name: "reads", Percentage: pct(50), Match: []v1alpha1.RouteMatch{
				{Method: &v1alpha1.StringMatch{Exact: "GET"}, Path: &v1alpha1.StringMatch{Prefix: "/api/v2"},
					Headers: map[string]v1alpha1.StringMatch{"X-Tenant": {Prefix: "a"}, "X-Beta": {Exact: "1"}}},
				{Path: &v1alpha1.StringMatch{Exact: "/login"}},
			}},
			want: `{` + backends + `,"filters":[` + userFilter + `,{"requestMirror":{"backendRef":{"name":"web-canary","port":80},"percent":50},"type":"RequestMirror"}],` +
				`"matches":[{"headers":[{"name":"Host-Tag","type":"Exact","value":"x"},{"name":"X-Beta","type":"Exact","value":"1"},{"name":"X-Tenant","type":"RegularExpression","value":"^a.*"}],` +
				`"method":"GET","path":{"type":"PathPrefix","value":"/api/v2"}},` +
				`{"path":{"type":"Exact","value":"/login"}}],"name":"fledge-mirror-reads"}`,
		},
		"100% is written as no percent, which every Gateway API version keeps": {
			base:  `[{"path": {"type": "PathPrefix", "value": "/"}}]`,
			route: v1alpha1.SetMirrorRoute{Name: "all", Percentage: pct(100)},
			want: `{` + backends + `,"filters":[` + userFilter + `,{"requestMirror":{"backendRef":{"name":"web-canary","port":80}},"type":"RequestMirror"}],` +
				`"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"name":"fledge-mirror-all"}`,
		},
		"no request in common": {
			base:  `[{"path": {"type": "PathPrefix", "value": "/api"}}]`,
			route: v1alpha1.SetMirrorRoute{Name: "web", Percentage: pct(100), Match: []v1alpha1.RouteMatch{{Path: &v1alpha1.StringMatch{Prefix: "/web"}}}},
			err:   "its match selects none of the requests of the HTTPRoute's weighted rule",
		},
		"a header the rule matches otherwise": {
			base:  `[{"headers": [{"name": "x-tenant", "type": "Exact", "value": "b"}]}]`,
			route: v1alpha1.SetMirrorRoute{Name: "t", Match: []v1alpha1.RouteMatch{{Headers: map[string]v1alpha1.StringMatch{"X-Tenant": {Exact: "a"}}}}},
			err:   "match[0]: headers[X-Tenant]: the HTTPRoute's rule already matches this header otherwise",
		},
		"a regex path within the rule's prefix": {
			base:  `[{"path": {"type": "PathPrefix", "value": "/api"}}]`,
			route: v1alpha1.SetMirrorRoute{Name: "re", Match: []v1alpha1.RouteMatch{{Path: &v1alpha1.StringMatch{Regex: "/api/v[0-9]+"}}}},
			err:   `match[0]: path: cannot match both prefix "/api" and regex "/api/v[0-9]+" in one match`,
		},
		"a name Gateway API refuses": {
			base:  `[]`,
			route: v1alpha1.SetMirrorRoute{Name: "All Reads", Percentage: pct(5)},
			err:   `rule name "fledge-mirror-All Reads" is not a valid Gateway API rule name`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			base := weightedRule(tc.base)
			before := asJSON(base)
			rule, err := r.mirrorRule(base, tc.route, base["backendRefs"].([]any)[0].(map[string]any)["port"])
			if asJSON(base) != before {
				t.Fatalf("the user's rule was changed: %s", asJSON(base))
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := asJSON(rule); got != tc.want {
				t.Fatalf("rule\n%s\nwant\n%s", got, tc.want)
			}
			if f := r.mirrorFilter(rule); f == nil {
				t.Fatal("the mirror rule is not recognised as one")
			}
		})
	}
	if r.mirrorFilter(weightedRule(`[]`)) != nil {
		t.Fatal("a rule without a RequestMirror filter is taken for a mirror rule")
	}
}

// TestSamePercent: a mirror route reads back only when the stored filter
// copies the share asked for (a percent the API server pruned does not).
func TestSamePercent(t *testing.T) {
	tests := map[string]struct {
		filter map[string]any
		want   *int32
		same   bool
	}{
		"the percent asked for":   {filter: map[string]any{"percent": int64(10)}, want: pct(10), same: true},
		"another percent":         {filter: map[string]any{"percent": int64(20)}, want: pct(10)},
		"percent pruned":          {filter: map[string]any{}, want: pct(10)},
		"everything, no percent":  {filter: map[string]any{}, same: true},
		"everything, but percent": {filter: map[string]any{"percent": int64(50)}},
		"100%, no percent":        {filter: map[string]any{}, want: pct(100), same: true},
		"a fraction":              {filter: map[string]any{"fraction": map[string]any{"numerator": int64(1)}}, want: pct(10)},
		"no filter":               {want: pct(10)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := samePercent(tc.filter, v1alpha1.SetMirrorRoute{Name: "m", Percentage: tc.want}); got != tc.same {
				t.Fatalf("samePercent = %v, want %v", got, tc.same)
			}
		})
	}
}
