package jsonpath

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const doc = `{
	"status": "ok",
	"data": {"successRate": 0.995, "ok": true, "p99": null, "odd key": 7},
	"items": [{"name": "a", "value": 1}, {"name": "b", "value": 2}, {"name": "c"}],
	"empty": []
}`

func decode(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestGet(t *testing.T) {
	v := decode(t)
	tests := map[string]struct {
		path string
		want any
	}{
		"Argo's braces":         {path: "{$.data.successRate}", want: 0.995},
		"Kubernetes' braces":    {path: "{.data.ok}", want: true},
		"bare":                  {path: "data.successRate", want: 0.995},
		"dollar":                {path: "$.status", want: "ok"},
		"whole document":        {path: "$", want: v},
		"whole in braces":       {path: "{$}", want: v},
		"null":                  {path: "$.data.p99", want: nil},
		"quoted field":          {path: "$.data['odd key']", want: 7.0},
		"double-quoted field":   {path: `$["data"]["odd key"]`, want: 7.0},
		"index":                 {path: "$.items[1].name", want: "b"},
		"last":                  {path: "$.items[-1].name", want: "c"},
		"wildcard":              {path: "$.items[*].name", want: []any{"a", "b", "c"}},
		"wildcard skips misses": {path: "$.items[*].value", want: []any{1.0, 2.0}},
		"dot wildcard":          {path: "$.items.*.name", want: []any{"a", "b", "c"}},
		"object wildcard":       {path: "$.data.*", want: []any{7.0, true, nil, 0.995}}, // key order
		"empty wildcard":        {path: "$.empty[*]", want: []any{}},
		"spaces":                {path: " { $.items[ 0 ].value } ", want: 1.0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Get(v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Get = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestGetMisses(t *testing.T) {
	v := decode(t)
	tests := map[string]struct{ path, want string }{
		"missing field":     {path: "$.data.errorRate", want: `at $.data: no field "errorRate" (have "odd key", "ok", "p99", "successRate")`},
		"deep miss":         {path: "$.nope.x", want: `at $: no field "nope"`},
		"index out":         {path: "$.items[3]", want: "at $.items: index 3 out of range (length 3)"},
		"negative out":      {path: "$.items[-4]", want: "index -4 out of range"},
		"field of an array": {path: "$.items.name", want: `at $.items: field "name" of an array`},
		"index of object":   {path: "$.data[0]", want: "index 0 of an object"},
		"into a number":     {path: "$.data.successRate.x", want: ".x of a number"},
		"into null":         {path: "$.data.p99[0]", want: "[0] of null"},
		"quoted in message": {path: "$.data['odd key'].x", want: `at $.data["odd key"]: .x of a number`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Get(v)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Get error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := map[string]struct{ path, want string }{
		"recursive":       {path: "$..name", want: "recursive descent (..) is not supported"},
		"filter":          {path: "$.items[?(@.value > 1)]", want: "filters are not supported"},
		"slice":           {path: "$.items[0:2]", want: "slices are not supported"},
		"union":           {path: "$.items[0,1]", want: "unions are not supported"},
		"unclosed":        {path: "$.items[0", want: "'[' is not closed"},
		"unbalanced":      {path: "{$.a", want: "unbalanced braces"},
		"trailing dot":    {path: "$.a.", want: "a field name must follow '.'"},
		"not an index":    {path: "$.a[x]", want: `want an index, a quoted field or *, got "x"`},
		"unterminated":    {path: "$['a]", want: "unterminated quoted field"},
		"quote not shut":  {path: "$['a'", want: "closed by ']'"},
		"space unquoted":  {path: "$.odd key", want: `field "odd key" must be quoted: ['odd key']`},
		"expression path": {path: "{.a} {.b}", want: "must be quoted"},
		"after the root":  {path: "$x", want: "want '.' or '[' before a selector"},
		"after an index":  {path: "$.a[0]x", want: "want '.' or '[' before a selector"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) error %v, want one containing %q", tc.path, err, tc.want)
			}
		})
	}
}

// FuzzParse checks that Parse and Get never panic and that a parsed path
// either selects or explains why not.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"{$.data.ok}", "$.items[-1].name", "$['a\\'b']", "$.items[*].value", "$", "a.b[0]"} {
		f.Add(s)
	}
	var v any
	_ = json.Unmarshal([]byte(doc), &v)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		if _, err := p.Get(v); err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}
