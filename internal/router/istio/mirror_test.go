package istio

import (
	"encoding/json"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

// weightedRoute is a user's HTTP route as the API server returns it,
// weighed 90/10.
func weightedRoute(extra string) map[string]any {
	var route map[string]any
	if err := json.Unmarshal([]byte(`{"name": "primary", "retries": {"attempts": 2}`+extra+`,
		"route": [{"destination": {"host": "web-stable", "port": {"number": 80}}, "weight": 90},
		          {"destination": {"host": "web-canary", "port": {"number": 80}}, "weight": 10}]}`), &route); err != nil {
		panic(err)
	}
	return route
}

func asJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func pct(n int32) *int32 { return &n }

func TestMirrorRoute(t *testing.T) {
	r := &Router{stable: "web-stable", canary: "web-canary"}
	const dests = `"retries":{"attempts":2},"route":[{"destination":{"host":"web-stable","port":{"number":80}},"weight":90},{"destination":{"host":"web-canary","port":{"number":80}},"weight":10}]`
	const mirror = `"mirror":{"host":"web-canary","port":{"number":80}}`
	tests := map[string]struct {
		extra string
		route v1alpha1.SetMirrorRoute
		want  string
		err   string
	}{
		"every request of the route, 10%": {
			route: v1alpha1.SetMirrorRoute{Name: "all", Percentage: pct(10)},
			want:  `{` + mirror + `,"mirrorPercentage":{"value":10},"name":"fledge-mirror-all",` + dests + `}`,
		},
		"matches narrowed to the route's": {
			extra: `, "match": [{"uri": {"prefix": "/api"}, "headers": {"host-tag": {"exact": "x"}}}, {"uri": {"exact": "/login"}}]`,
			route: v1alpha1.SetMirrorRoute{Name: "reads", Percentage: pct(50), Match: []v1alpha1.RouteMatch{
				{Method: &v1alpha1.StringMatch{Regex: "GET|HEAD"}, Path: &v1alpha1.StringMatch{Prefix: "/apix"},
					Headers: map[string]v1alpha1.StringMatch{"X-Tenant": {Prefix: "a"}}},
			}},
			want: `{"match":[{"headers":{"host-tag":{"exact":"x"},"x-tenant":{"prefix":"a"}},"method":{"regex":"GET|HEAD"},"uri":{"prefix":"/apix"}}],` +
				mirror + `,"mirrorPercentage":{"value":50},"name":"fledge-mirror-reads",` + dests + `}`,
		},
		"the user's mirrors list": {
			extra: `, "mirrors": [{"destination": {"host": "shadow"}}]`,
			route: v1alpha1.SetMirrorRoute{Name: "all", Percentage: pct(100)},
			want: `{"mirrors":[{"destination":{"host":"shadow"}},{"destination":{"host":"web-canary","port":{"number":80}},"percentage":{"value":100}}],` +
				`"name":"fledge-mirror-all",` + dests + `}`,
		},
		"the user's mirror": {
			extra: `, "mirror": {"host": "shadow"}`,
			route: v1alpha1.SetMirrorRoute{Name: "all", Percentage: pct(100)},
			err:   "the weighted route already mirrors",
		},
		"no request in common": {
			extra: `, "match": [{"method": {"exact": "POST"}}]`,
			route: v1alpha1.SetMirrorRoute{Name: "reads", Match: []v1alpha1.RouteMatch{{Method: &v1alpha1.StringMatch{Exact: "GET"}}}},
			err:   "its match selects none of the requests of the VirtualService's weighted route",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			base := weightedRoute(tc.extra)
			before := asJSON(base)
			stable := base["route"].([]any)[0].(map[string]any)["destination"].(map[string]any)
			route, err := r.mirrorRoute(base, stable, tc.route)
			if asJSON(base) != before {
				t.Fatalf("the user's route was changed: %s", asJSON(base))
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
			if got := asJSON(route); got != tc.want {
				t.Fatalf("route\n%s\nwant\n%s", got, tc.want)
			}
			if !r.mirrors(route) {
				t.Fatal("the mirror route is not recognised as one")
			}
		})
	}
	if r.mirrors(weightedRoute(`, "mirror": {"host": "shadow"}`)) {
		t.Fatal("a route mirroring elsewhere is taken for a mirror route")
	}
}
