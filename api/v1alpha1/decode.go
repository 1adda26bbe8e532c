package v1alpha1

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded document: a *Rollout or an *AnalysisTemplate.
// +kubebuilder:object:generate=false
type Object interface {
	GetObjectKind() schema.ObjectKind
	GetName() string
	Validate() error
}

var (
	_ Object = (*Rollout)(nil)
	_ Object = (*AnalysisTemplate)(nil)
)

// DocumentError is the mistakes of one document in an input that holds
// several, so that the user knows which one to fix.
// +kubebuilder:object:generate=false
type DocumentError struct {
	Index int    // 1-based, counting the documents that are not empty
	Line  int    // the line where the document starts
	Kind  string // as far as known
	Name  string
	Err   error
}

// Error prefixes every line of the wrapped error (one line per mistake)
// with the document.
func (e *DocumentError) Error() string {
	prefix := fmt.Sprintf("document %d (line %d)", e.Index, e.Line)
	if e.Kind != "" && e.Name != "" {
		prefix = fmt.Sprintf("%s %q (document %d, line %d)", e.Kind, e.Name, e.Index, e.Line)
	}
	lines := strings.Split(e.Err.Error(), "\n")
	for i, l := range lines {
		lines[i] = prefix + ": " + l
	}
	return strings.Join(lines, "\n")
}

func (e *DocumentError) Unwrap() error { return e.Err }

// Decode reads YAML or JSON holding one or more documents separated by
// "---", each a Rollout or an AnalysisTemplate of fledge.dev/v1alpha1.
// It is strict: an unknown or duplicate field, a value of the wrong type,
// a wrong apiVersion or kind is an error naming the field path. Every
// document is decoded so that all mistakes are reported at once. Objects
// are returned as written: neither defaulted nor validated (see Load).
func Decode(data []byte) ([]Object, error) {
	docs := decodeDocuments(data)
	objs := make([]Object, 0, len(docs))
	var errs []error
	for _, d := range docs {
		if len(d.err) > 0 {
			errs = append(errs, d.wrap(d.err, len(docs) > 1))
			continue
		}
		objs = append(objs, d.obj)
	}
	if len(errs) > 0 {
		return nil, join(errs)
	}
	return objs, nil
}

// DecodeRollouts decodes like Decode and returns the Rollouts only,
// skipping AnalysisTemplates.
func DecodeRollouts(data []byte) ([]*Rollout, error) {
	objs, err := Decode(data)
	if err != nil {
		return nil, err
	}
	var rs []*Rollout
	for _, o := range objs {
		if r, ok := o.(*Rollout); ok {
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// Load is what the edges call on a user's file: it decodes, defaults and
// validates every document and returns the Rollouts, ready for the engine,
// or every mistake joined (one line each). AnalysisTemplate documents of
// the same input are validated and serve the Rollouts: a template a
// Rollout refers to and does not define inline is copied into its
// spec.analysisTemplates, so that one template can serve several Rollouts.
// An input without a Rollout is an error.
func Load(data []byte) ([]*Rollout, error) {
	docs := decodeDocuments(data)
	templates := loadTemplates(docs)
	rollouts := loadRollouts(docs, templates)
	var errs []error
	for _, d := range docs {
		if len(d.err) > 0 {
			errs = append(errs, d.wrap(d.err, len(docs) > 1))
		}
	}
	if len(errs) == 0 && len(rollouts) == 0 {
		errs = append(errs, errors.New("no Rollout found: the input holds no document of kind Rollout"))
	}
	if len(errs) > 0 {
		return nil, join(errs)
	}
	return rollouts, nil
}

// loadTemplates defaults and validates the AnalysisTemplate documents and
// returns their specs by name.
func loadTemplates(docs []*document) map[string]*AnalysisTemplateSpec {
	templates := map[string]*AnalysisTemplateSpec{}
	first := map[string]*document{}
	for _, d := range docs {
		t, ok := d.obj.(*AnalysisTemplate)
		if !ok {
			continue
		}
		t.Spec.Default()
		d.fail(t.Validate())
		if f, dup := first[t.Name]; dup && t.Name != "" {
			d.err = append(d.err, &FieldError{"metadata.name", fmt.Sprintf("duplicate AnalysisTemplate %q (also document %d)", t.Name, f.index)})
			continue
		}
		templates[t.Name], first[t.Name] = &t.Spec, d
	}
	return templates
}

// loadRollouts defaults and validates the Rollout documents, with the
// standalone templates, and returns them.
func loadRollouts(docs []*document, templates map[string]*AnalysisTemplateSpec) []*Rollout {
	var rollouts []*Rollout
	first := map[string]*document{}
	for _, d := range docs {
		r, ok := d.obj.(*Rollout)
		if !ok {
			continue
		}
		r.Default()
		d.fail(r.validate(templates))
		useTemplates(r, templates)
		if f, dup := first[r.Name]; dup && r.Name != "" {
			d.err = append(d.err, &FieldError{"metadata.name", fmt.Sprintf("duplicate Rollout %q (also document %d)", r.Name, f.index)})
		} else {
			first[r.Name] = d
		}
		rollouts = append(rollouts, r)
	}
	return rollouts
}

// join keeps a lone error as it is, so that errors.As finds the ErrorList
// of a single-document input without unwrapping.
func join(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// useTemplates copies into a Rollout the standalone templates it refers to
// and does not define inline (an inline template takes precedence).
func useTemplates(r *Rollout, templates map[string]*AnalysisTemplateSpec) {
	have := map[string]bool{}
	for _, t := range r.Spec.AnalysisTemplates {
		have[t.Name] = true
	}
	for _, name := range templateRefs(&r.Spec.Strategy) {
		t, ok := templates[name]
		if have[name] || !ok {
			continue
		}
		have[name] = true
		var spec AnalysisTemplateSpec
		// A deep copy, so that Rollouts sharing a template share no memory.
		if b, err := json.Marshal(t); err == nil && json.Unmarshal(b, &spec) == nil {
			r.Spec.AnalysisTemplates = append(r.Spec.AnalysisTemplates, NamedAnalysisTemplate{Name: name, AnalysisTemplateSpec: spec})
		}
	}
}

// templateRefs lists the template names a strategy refers to, in order.
func templateRefs(s *RolloutStrategy) []string {
	var as []*RolloutAnalysis
	if c := s.Canary; c != nil {
		for i := range c.Steps {
			if a := c.Steps[i].Analysis; a != nil {
				as = append(as, a)
			}
		}
		if c.Analysis != nil {
			as = append(as, &c.Analysis.RolloutAnalysis)
		}
	}
	if b := s.BlueGreen; b != nil {
		as = append(as, b.PrePromotionAnalysis, b.PostPromotionAnalysis)
	}
	var names []string
	for _, a := range as {
		if a == nil {
			continue
		}
		for _, t := range a.Templates {
			names = append(names, t.TemplateName)
		}
	}
	return names
}

// document is one document of the input, decoded or not.
// +kubebuilder:object:generate=false
type document struct {
	index, line int
	kind, name  string
	obj         Object // nil when it does not decode
	err         ErrorList
}

// fail adds the mistakes of a Validate.
func (d *document) fail(err error) {
	var l ErrorList
	switch {
	case err == nil:
	case errors.As(err, &l):
		d.err = append(d.err, l...)
	default:
		d.err = append(d.err, &FieldError{Reason: err.Error()})
	}
}

func (d *document) wrap(err error, multi bool) error {
	if !multi {
		return err
	}
	return &DocumentError{Index: d.index, Line: d.line, Kind: d.kind, Name: d.name, Err: err}
}

// decodeDocuments decodes every document that is not empty.
func decodeDocuments(data []byte) []*document {
	var docs []*document
	for _, raw := range splitDocuments(data) {
		js, err := yaml.YAMLToJSONStrict(raw.text)
		if err == nil && (len(bytes.TrimSpace(js)) == 0 || string(bytes.TrimSpace(js)) == "null") {
			continue // only comments or blank lines
		}
		d := &document{index: len(docs) + 1, line: raw.line}
		docs = append(docs, d)
		if err != nil {
			d.err = ErrorList{{Reason: yamlError(err, raw.line)}}
			continue
		}
		d.decode(js)
	}
	return docs
}

// decode checks the document's apiVersion and kind and decodes it strictly.
func (d *document) decode(js []byte) {
	var tree any
	_ = json.Unmarshal(js, &tree) // valid: YAMLToJSON wrote it
	head, ok := tree.(map[string]any)
	if !ok {
		d.err = ErrorList{{Reason: "a document must be an object with apiVersion, kind, metadata and spec, got " + show(tree)}}
		return
	}
	var l ErrorList
	apiVersion, _ := head["apiVersion"].(string)
	d.kind, _ = head["kind"].(string)
	if meta, ok := head["metadata"].(map[string]any); ok {
		d.name, _ = meta["name"].(string)
	}
	switch {
	case head["apiVersion"] == nil:
		l = append(l, &FieldError{"apiVersion", fmt.Sprintf("required: set it to %q", APIVersion)})
	case apiVersion != APIVersion:
		l = append(l, &FieldError{"apiVersion", fmt.Sprintf("must be %q, got %s", APIVersion, show(head["apiVersion"]))})
	}
	switch {
	case d.kind == KindRollout:
		d.obj = &Rollout{}
	case d.kind == KindTemplate:
		d.obj = &AnalysisTemplate{}
	case head["kind"] == nil:
		l = append(l, &FieldError{"kind", "required: Rollout or AnalysisTemplate"})
	default:
		l = append(l, &FieldError{"kind", fmt.Sprintf("must be Rollout or AnalysisTemplate, got %s", show(head["kind"]))})
		d.kind = ""
	}
	if len(l) > 0 {
		d.obj, d.err = nil, l
		return
	}
	if l := strictUnmarshal(js, d.obj); len(l) > 0 {
		d.obj, d.err = nil, l
	}
}

// strictUnmarshal decodes JSON into obj the way the Kubernetes API server
// does (case-sensitive, unknown and duplicate fields rejected) and turns
// its errors into field errors.
func strictUnmarshal(js []byte, obj any) ErrorList {
	strict, err := sigsjson.UnmarshalStrict(js, obj)
	if err != nil {
		return locate(js, obj, err)
	}
	var l ErrorList
	for _, e := range strict {
		var fe sigsjson.FieldError
		if errors.As(e, &fe) {
			// The message is `unknown field "spec.x"`; say it path first.
			reason := strings.TrimSuffix(e.Error(), " "+strconv.Quote(fe.FieldPath()))
			l = append(l, &FieldError{fe.FieldPath(), reason})
		} else {
			l = append(l, &FieldError{Reason: e.Error()})
		}
	}
	return l
}

// rawDocument is the text of one document and the line it starts on.
// +kubebuilder:object:generate=false
type rawDocument struct {
	text []byte
	line int
}

// splitDocuments cuts the input at lines that start with "---". The
// separator line stays in the next document, blanked, so that YAML line
// numbers count from the document's first line.
func splitDocuments(data []byte) []rawDocument {
	var docs []rawDocument
	cur := rawDocument{line: 1}
	for i, l := range bytes.SplitAfter(data, []byte("\n")) {
		t := bytes.TrimRight(l, "\r\n")
		if bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) || bytes.HasPrefix(t, []byte("---\t")) {
			docs = append(docs, cur)
			rest := append([]byte("   "), l[3:]...)
			cur = rawDocument{text: rest, line: i + 1}
			continue
		}
		cur.text = append(cur.text, l...)
	}
	return append(docs, cur)
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlError makes a YAML error one line, with line numbers counted from
// the start of the input rather than of the document.
func yamlError(err error, first int) string {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = yamlLine.ReplaceAllStringFunc(msg, func(s string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(s, "line "))
		return "line " + strconv.Itoa(n+first-1)
	})
	return strings.Join(strings.Fields(msg), " ")
}
