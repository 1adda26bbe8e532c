package v1alpha1

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	sigsjson "sigs.k8s.io/json"
)

// locate finds where decoding failed. encoding/json names the field of a
// type error without list indexes, and an error from a field's own
// UnmarshalJSON (a bad duration) not at all, and it stops at the first; so
// the document is walked as generic JSON beside the Go type, decoding each
// value alone, down to the deepest values that fail. It runs only on the
// error path.
func locate(js []byte, obj any, err error) ErrorList {
	var tree any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var l ErrorList
	if dec.Decode(&tree) == nil {
		find(tree, reflect.TypeOf(obj).Elem(), "", &l)
	}
	if len(l) == 0 {
		l = ErrorList{{Reason: strings.TrimPrefix(err.Error(), "json: ")}}
	}
	return l
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// maxDecodeErrors bounds the list of a hopeless document.
const maxDecodeErrors = 50

// find adds to l the deepest values under node that do not decode into t.
func find(node any, t reflect.Type, p path, l *ErrorList) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	b, err := json.Marshal(node)
	if err == nil {
		err = sigsjson.UnmarshalCaseSensitivePreserveInts(b, reflect.New(t).Interface())
	}
	switch {
	case err == nil || len(*l) >= maxDecodeErrors:
		return
	case reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler):
		// The type parses itself (Duration, Time): its message says why.
		*l = append(*l, &FieldError{string(p), strings.TrimPrefix(err.Error(), "json: ")})
		return
	}
	before := len(*l)
	findChildren(node, t, p, l)
	if len(*l) > before {
		return
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		*l = append(*l, &FieldError{string(p), fmt.Sprintf("want %s, got %s", describe(t), show(node))})
		return
	}
	*l = append(*l, &FieldError{string(p), strings.TrimPrefix(err.Error(), "json: ")})
}

// findChildren looks for failing values among the children of node.
func findChildren(node any, t reflect.Type, p path, l *ErrorList) {
	switch n := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch t.Kind() {
			case reflect.Struct:
				if f, ok := fieldByJSONName(t, k); ok {
					find(n[k], f.Type, p.field(k), l)
				}
			case reflect.Map:
				find(n[k], t.Elem(), p.key(k), l)
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, c := range n {
				find(c, t.Elem(), p.index(i), l)
			}
		}
	}
}

// fieldByJSONName finds a struct field by its JSON name, looking into
// embedded structs without a name (`json:",inline"`) as encoding/json does.
func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" && f.Anonymous {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if sf, ok := fieldByJSONName(ft, name); ok {
					return sf, true
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// describe names a Go type as a YAML author thinks of it.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer (" + t.Kind().String() + ")"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "an object"
	}
}

// show writes a JSON value briefly, for a message.
func show(node any) string {
	switch n := node.(type) {
	case nil:
		return "null"
	case string:
		if len(n) > 40 {
			n = n[:40] + "..."
		}
		return fmt.Sprintf("%q", n)
	case json.Number:
		return n.String()
	case float64:
		return strconv.FormatFloat(n, 'g', -1, 64)
	case bool:
		return fmt.Sprint(n)
	case []any:
		return "a list"
	default:
		return "an object"
	}
}
