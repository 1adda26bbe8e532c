package v1alpha1

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// FieldError is one mistake in a spec: the path of the field, as the user
// wrote it (e.g. spec.strategy.canary.steps[2].setWeight), and why it is
// wrong.
type FieldError struct {
	Path   string
	Reason string
}

// Error reads "<path>: <reason>", or just the reason when the mistake is not
// in one field (a YAML syntax error).
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// ErrorList is every mistake found in one object, in the order of the spec,
// so that a user fixes them all in one pass instead of one per attempt.
type ErrorList []*FieldError

// Error has one line per mistake.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Validate checks a Rollout, after Default, and returns every mistake as an
// ErrorList, or nil. It never panics, whatever the input: the edges call it
// on specs straight from users.
func (r *Rollout) Validate() error {
	return r.validate(nil)
}

// validate checks a Rollout that may also use standalone templates, by
// name, which Load copies into it once it is valid (so that messages only
// name fields the user wrote).
func (r *Rollout) validate(standalone map[string]*AnalysisTemplateSpec) error {
	v := &validator{}
	if r == nil {
		v.addf("", "no Rollout")
		return v.err()
	}
	v.typeMeta(r.APIVersion, r.Kind, KindRollout)
	v.objectName("metadata.name", r.Name)
	v.indexTemplates(r.Spec.AnalysisTemplates, standalone)
	v.rolloutSpec("spec", &r.Spec)
	return v.err()
}

// Validate checks an AnalysisTemplate, after its spec's Default, and
// returns every mistake as an ErrorList, or nil.
func (t *AnalysisTemplate) Validate() error {
	v := &validator{}
	if t == nil {
		v.addf("", "no AnalysisTemplate")
		return v.err()
	}
	v.typeMeta(t.APIVersion, t.Kind, KindTemplate)
	v.objectName("metadata.name", t.Name)
	v.templateSpec("spec", &t.Spec)
	return v.err()
}

// path is a field path as users write it: a.b[2].c, headers[X-User].
type path string

func (p path) field(name string) path {
	if p == "" {
		return path(name)
	}
	return p + "." + path(name)
}

func (p path) index(i int) path { return p + path("["+strconv.Itoa(i)+"]") }

func (p path) key(k string) path { return p + path("["+k+"]") }

// validator collects mistakes instead of stopping at the first one.
type validator struct {
	errs ErrorList
	// templates are the analysis templates a Rollout's strategy may name,
	// and templateOrder their quoted names, for messages.
	templates     map[string]*AnalysisTemplateSpec
	templateOrder []string
	// elsewhere says where else templates were looked for.
	elsewhere string
	// argValues are the arguments of the template being checked, with their
	// default values (nil: none), and argsPath where they are declared.
	argValues map[string]*string
	argsPath  path
}

func (v *validator) addf(p path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: string(p), Reason: fmt.Sprintf(format, args...)})
}

// err returns nil, not a nil ErrorList, when there is no mistake, so that
// callers can compare with nil.
func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

func (v *validator) typeMeta(apiVersion, kind, want string) {
	if apiVersion != APIVersion {
		v.addf("apiVersion", "must be %q, got %q", APIVersion, apiVersion)
	}
	if kind != want {
		v.addf("kind", "must be %s, got %q", want, kind)
	}
}

func (v *validator) rolloutSpec(p path, s *RolloutSpec) {
	v.atLeast(p.field("replicas"), s.Replicas, 0)
	v.workload(p, s)
	v.nonNegative(p.field("minReadySeconds"), int64(s.MinReadySeconds))
	v.atLeast(p.field("revisionHistoryLimit"), s.RevisionHistoryLimit, 0)
	if d := s.ProgressDeadlineSeconds; d != nil {
		switch {
		case *d < 1:
			v.addf(p.field("progressDeadlineSeconds"), "must be at least 1, got %d", *d)
		case *d <= s.MinReadySeconds:
			v.addf(p.field("progressDeadlineSeconds"), "must be greater than spec.minReadySeconds (%d), got %d", s.MinReadySeconds, *d)
		}
	}
	if g := s.TerminationGracePeriodSeconds; g != nil {
		v.nonNegative(p.field("terminationGracePeriodSeconds"), *g)
	}
	v.strategy(p.field("strategy"), s)
	v.namedTemplates(p.field("analysisTemplates"), s.AnalysisTemplates)
	v.notifications(p.field("notifications"), s)
}

// workload checks that exactly one of template and workloadRef says what
// to run.
func (v *validator) workload(p path, s *RolloutSpec) {
	switch {
	case s.Template == nil && s.WorkloadRef == nil:
		v.addf(p, "must set template (local mode) or workloadRef (Kubernetes mode), got neither")
	case s.Template != nil && s.WorkloadRef != nil:
		v.addf(p, "must set only one of template or workloadRef, got both")
	case s.Template != nil:
		v.processTemplate(p.field("template"), s.Template)
	default:
		w := s.WorkloadRef
		v.required(p.field("workloadRef").field("apiVersion"), w.APIVersion)
		v.required(p.field("workloadRef").field("kind"), w.Kind)
		v.required(p.field("workloadRef").field("name"), w.Name)
	}
}

// --- checks shared by every kind ---

func (v *validator) required(p path, s string) bool {
	if s == "" {
		v.addf(p, "required")
		return false
	}
	return true
}

func (v *validator) nonNegative(p path, n int64) {
	if n < 0 {
		v.addf(p, "must not be negative, got %d", n)
	}
}

// atLeast checks an optional number; unset is left to Default.
func (v *validator) atLeast(p path, n *int32, lo int32) {
	switch {
	case n == nil:
	case lo == 0 && *n < 0:
		v.addf(p, "must not be negative, got %d", *n)
	case *n < lo:
		v.addf(p, "must be at least %d, got %d", lo, *n)
	}
}

func (v *validator) between(p path, n, lo, hi int64) {
	if n < lo || n > hi {
		v.addf(p, "must be between %d and %d, got %d", lo, hi, n)
	}
}

// exactlyOne checks that exactly one of the named fields is set; names and
// set are parallel.
func (v *validator) exactlyOne(p path, names []string, set []bool) bool {
	var got []string
	for i, ok := range set {
		if ok {
			got = append(got, names[i])
		}
	}
	if len(got) == 1 {
		return true
	}
	have := "none"
	if len(got) > 1 {
		have = orList(got, "and")
	}
	v.addf(p, "must set exactly one of %s, got %s", orList(names, "or"), have)
	return false
}

// orList writes a, b or c.
func orList(items []string, conj string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dnsLabel checks a name that becomes part of other names (processes,
// analysis runs, Kubernetes objects).
func (v *validator) dnsLabel(p path, name string) {
	switch {
	case len(name) > 63:
		v.addf(p, "must be at most 63 characters, got %d", len(name))
	case !dns1123Label.MatchString(name):
		v.addf(p, "must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit), got %q", name)
	}
}

func (v *validator) objectName(p path, name string) {
	if v.required(p, name) {
		v.dnsLabel(p, name)
	}
}

// listenAddr checks a host:port the proxy listens on and returns it
// normalised for comparison.
func (v *validator) listenAddr(p path, addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.addf(p, "must be host:port, e.g. \"127.0.0.1:8080\": %v", err)
		return "", false
	}
	n, err := strconv.Atoi(port)
	if err != nil || !allDigits(port) || n < 1 || n > 65535 {
		v.addf(p, "port must be a number between 1 and 65535, got %q", port)
		return "", false
	}
	if host != "" && !validHost(host) {
		v.addf(p, "host must be an IP address or a host name, got %q", host)
		return "", false
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), true
}

// sameListener tells whether two valid listen addresses would collide:
// the same port on the same host, or on a wildcard host that takes them all.
func sameListener(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	local := func(h string) string {
		if strings.EqualFold(h, "localhost") {
			return "127.0.0.1"
		}
		return strings.ToLower(h)
	}
	return wild(ha) || wild(hb) || local(ha) == local(hb)
}

var hostName = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$`)

func validHost(h string) bool {
	return net.ParseIP(h) != nil || (len(h) <= 253 && hostName.MatchString(h))
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// token tells whether s is an HTTP token (RFC 9110): a method, a cookie name.
func token(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !httpguts.IsTokenRune(c) {
			return false
		}
	}
	return true
}

// method tells whether s is an HTTP method as Fledge matches it: a token in
// upper case, since methods are case-sensitive and "get" is not GET.
func method(s string) bool {
	return token(s) && s == strings.ToUpper(s)
}

func (v *validator) method(p path, s string) {
	if !method(s) {
		v.addf(p, "must be an HTTP method in upper case, such as GET or POST, got %q", s)
	}
}

func (v *validator) headerName(p path, s string) {
	if !httpguts.ValidHeaderFieldName(s) {
		v.addf(p, "must be a valid HTTP header name, got %q", s)
	}
}
