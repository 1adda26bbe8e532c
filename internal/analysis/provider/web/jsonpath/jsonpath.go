package jsonpath

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Path is a parsed JSONPath.
type Path struct {
	src   string
	steps []step
	multi bool // has a wildcard: Get returns a list
}

// step is one selector: a field name, an index or a wildcard.
type step struct {
	field    string
	index    int
	isIndex  bool
	wildcard bool
}

func (s step) String() string {
	switch {
	case s.wildcard:
		return "[*]"
	case s.isIndex:
		return "[" + strconv.Itoa(s.index) + "]"
	case isPlain(s.field):
		return "." + s.field
	}
	return "[" + strconv.Quote(s.field) + "]"
}

// Parse reads a path; its error says at which character it stopped.
func Parse(expr string) (*Path, error) {
	s := strings.TrimSpace(expr)
	if strings.HasPrefix(s, "{") {
		if !strings.HasSuffix(s, "}") {
			return nil, fmt.Errorf("JSONPath %q: unbalanced braces", expr)
		}
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	p := &Path{src: expr}
	if rest, rooted := strings.CutPrefix(s, "$"); rooted {
		s = rest
	} else if s != "" && s[0] != '.' && s[0] != '[' {
		s = "." + s // "a.b" means "$.a.b"
	}
	for i := 0; i < len(s); {
		st, n, err := parseStep(s[i:])
		if err != nil {
			return nil, fmt.Errorf("JSONPath %q: at %q: %w", expr, s[i:], err)
		}
		p.steps = append(p.steps, st)
		p.multi = p.multi || st.wildcard
		i += n
	}
	return p, nil
}

// parseStep reads the selector at the start of s and its length.
func parseStep(s string) (step, int, error) {
	switch {
	case strings.HasPrefix(s, ".."):
		return step{}, 0, fmt.Errorf("recursive descent (..) is not supported")
	case s[0] != '.' && s[0] != '[':
		return step{}, 0, fmt.Errorf("want '.' or '[' before a selector")
	}
	if s[0] == '.' {
		end := 1
		for end < len(s) && s[end] != '.' && s[end] != '[' {
			end++
		}
		name := s[1:end]
		switch {
		case name == "*":
			return step{wildcard: true}, end, nil
		case name == "":
			return step{}, 0, fmt.Errorf("a field name must follow '.'")
		case strings.ContainsAny(name, " \t\"'()?@,:"):
			return step{}, 0, fmt.Errorf("field %q must be quoted: ['%s']", name, name)
		}
		return step{field: name}, end, nil
	}
	// s[0] == '['
	if len(s) > 1 && (s[1] == '\'' || s[1] == '"') {
		name, n, err := quoted(s[1:])
		if err != nil {
			return step{}, 0, err
		}
		if 1+n >= len(s) || s[1+n] != ']' {
			return step{}, 0, fmt.Errorf("a quoted field must be closed by ']'")
		}
		return step{field: name}, n + 2, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return step{}, 0, fmt.Errorf("'[' is not closed")
	}
	inner := strings.TrimSpace(s[1:end])
	switch {
	case inner == "*":
		return step{wildcard: true}, end + 1, nil
	case strings.HasPrefix(inner, "?"):
		return step{}, 0, fmt.Errorf("filters are not supported")
	case strings.Contains(inner, ":"):
		return step{}, 0, fmt.Errorf("slices are not supported")
	case strings.Contains(inner, ","):
		return step{}, 0, fmt.Errorf("unions are not supported")
	}
	i, err := strconv.Atoi(inner)
	if err != nil {
		return step{}, 0, fmt.Errorf("want an index, a quoted field or *, got %q", inner)
	}
	return step{index: i, isIndex: true}, end + 1, nil
}

// quoted reads a quoted string at the start of s (quote included) and
// returns it unescaped with the length it took.
func quoted(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == q:
			return b.String(), i + 1, nil
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted field")
}

// String returns the path as written.
func (p *Path) String() string { return p.src }

// Multi tells whether the path has a wildcard, so that Get returns a list.
func (p *Path) Multi() bool { return p.multi }

// Get returns the value the path selects in doc, which is JSON decoded
// into any (maps, slices, float64, string, bool, nil).
func (p *Path) Get(doc any) (any, error) {
	nodes := []any{doc}
	for i, st := range p.steps {
		var next []any
		for _, n := range nodes {
			got, err := st.apply(n)
			if err != nil {
				if p.multi {
					continue // a wildcard path keeps what matches
				}
				return nil, fmt.Errorf("JSONPath %s: at %s: %w", p.src, p.prefix(i), err)
			}
			next = append(next, got...)
		}
		nodes = next
	}
	if p.multi {
		if nodes == nil {
			nodes = []any{}
		}
		return nodes, nil
	}
	return nodes[0], nil
}

// prefix writes the first n steps, where a lookup failed.
func (p *Path) prefix(n int) string {
	var b strings.Builder
	b.WriteString("$")
	for _, st := range p.steps[:n] {
		b.WriteString(st.String())
	}
	return b.String()
}

// apply selects from one node.
func (st step) apply(n any) ([]any, error) {
	switch v := n.(type) {
	case map[string]any:
		switch {
		case st.wildcard:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = v[k]
			}
			return out, nil
		case st.isIndex:
			return nil, fmt.Errorf("index %d of an object", st.index)
		}
		got, ok := v[st.field]
		if !ok {
			return nil, fmt.Errorf("no field %q (have %s)", st.field, fields(v))
		}
		return []any{got}, nil
	case []any:
		switch {
		case st.wildcard:
			return v, nil
		case !st.isIndex:
			return nil, fmt.Errorf("field %q of an array", st.field)
		}
		i := st.index
		if i < 0 {
			i += len(v)
		}
		if i < 0 || i >= len(v) {
			return nil, fmt.Errorf("index %d out of range (length %d)", st.index, len(v))
		}
		return []any{v[i]}, nil
	}
	return nil, fmt.Errorf("%s of %s", st, kind(n))
}

// fields lists an object's keys for a message, the first few.
func fields(m map[string]any) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, strconv.Quote(k))
	}
	sort.Strings(keys)
	if len(keys) > 8 {
		keys = append(keys[:8], "...")
	}
	return strings.Join(keys, ", ")
}

func kind(n any) string {
	switch n.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("a %T", n)
}

func isPlain(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
