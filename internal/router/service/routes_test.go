package service

import (
	"reflect"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

func exact(s string) *v1alpha1.StringMatch  { return &v1alpha1.StringMatch{Exact: s} }
func prefix(s string) *v1alpha1.StringMatch { return &v1alpha1.StringMatch{Prefix: s} }
func regex(s string) *v1alpha1.StringMatch  { return &v1alpha1.StringMatch{Regex: s} }

func TestNarrow(t *testing.T) {
	tests := map[string]struct {
		have, want *v1alpha1.StringMatch
		segments   bool
		out        *v1alpha1.StringMatch // nil with ok false: nothing matches both
		ok         bool
		err        string
	}{
		"mirror matches any":              {have: prefix("/web"), want: nil, out: prefix("/web"), ok: true},
		"rule matches any":                {have: nil, want: regex("/a|/b"), out: regex("/a|/b"), ok: true},
		"rule matches every path":         {have: prefix("/"), want: exact("/login"), out: exact("/login"), ok: true},
		"exact within the rule's prefix":  {have: prefix("/api"), want: exact("/api/users"), segments: true, out: exact("/api/users"), ok: true},
		"exact outside the rule's prefix": {have: prefix("/api"), want: exact("/apix"), segments: true, ok: false},
		"by characters, /apix is within":  {have: prefix("/api"), want: exact("/apix"), out: exact("/apix"), ok: true},
		"narrower prefix":                 {have: prefix("/api/"), want: prefix("/api/v2"), segments: true, out: prefix("/api/v2"), ok: true},
		"wider prefix keeps the rule's":   {have: prefix("/api/v2"), want: prefix("/api"), segments: true, out: prefix("/api/v2"), ok: true},
		"disjoint prefixes":               {have: prefix("/api"), want: prefix("/web"), ok: false},
		"rule exact, mirror prefix":       {have: exact("/api/x"), want: prefix("/api"), segments: true, out: exact("/api/x"), ok: true},
		"rule exact, mirror regex":        {have: exact("/v22"), want: regex("/v2"), ok: false},
		"rule exact, mirror regex match":  {have: exact("/v2"), want: regex("/v[0-9]"), out: exact("/v2"), ok: true},
		"same method":                     {have: exact("GET"), want: exact("GET"), out: exact("GET"), ok: true},
		"other method":                    {have: exact("GET"), want: exact("POST"), ok: false},
		"regex within a prefix":           {have: prefix("/api"), want: regex("/api/.*"), err: `cannot match both prefix "/api" and regex "/api/.*" in one match`},
		"rule by regex":                   {have: regex("/a.*"), want: prefix("/a"), err: `cannot match both regex "/a.*" and prefix "/a" in one match`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, ok, err := Narrow(tc.have, tc.want, tc.segments)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || ok != tc.ok || (ok && !reflect.DeepEqual(out, tc.out)) {
				t.Fatalf("got %+v %v %v, want %+v %v", out, ok, err, tc.out, tc.ok)
			}
		})
	}
}

// TestAppliedMirrors reads back the recorded routes whose rule is in place,
// in the order recorded (the engine's), and nothing from a broken record.
func TestAppliedMirrors(t *testing.T) {
	ann := map[string]string{}
	routes := []v1alpha1.SetMirrorRoute{
		{Name: "b", Percentage: ptr(int32(10))},
		{Name: "a", Match: []v1alpha1.RouteMatch{{Path: prefix("/api")}}, Percentage: ptr(int32(100))},
		{Name: "c", Percentage: ptr(int32(0))},
	}
	Annotate(ann, AnnotationMirrorRoutes, routes)
	present := func(m v1alpha1.SetMirrorRoute) bool { return m.Name != "c" }
	got := AppliedMirrors(ann[AnnotationMirrorRoutes], present)
	if !reflect.DeepEqual(got, routes[:2]) {
		t.Fatalf("read back %+v, want %+v", got, routes[:2])
	}
	Annotate(ann, AnnotationMirrorRoutes, []v1alpha1.SetMirrorRoute(nil))
	if _, ok := ann[AnnotationMirrorRoutes]; ok {
		t.Fatal("no routes left the annotation in place")
	}
	if got := AppliedMirrors("{not json", present); got != nil {
		t.Fatalf("a broken record read back as %+v", got)
	}
}

func ptr[T any](v T) *T { return &v }
