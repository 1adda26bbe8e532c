package v1alpha1

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// head is the start of a Rollout document, for cases to complete.
const head = "apiVersion: fledge.dev/v1alpha1\nkind: Rollout\nmetadata: {name: web}\n"

func TestDecodeRejects(t *testing.T) {
	tests := map[string]struct {
		in   string
		want []string // the lines of the error
	}{
		"unknown field at depth": {
			in:   head + "spec:\n  strategy:\n    canary:\n      stepz: []\n",
			want: []string{"spec.strategy.canary.stepz: unknown field"},
		},
		"unknown field in a list": {
			in:   head + "spec: {strategy: {canary: {steps: [{setWeight: 5}, {setWeight: 10, pauze: {}}]}}}\n",
			want: []string{"spec.strategy.canary.steps[1].pauze: unknown field"},
		},
		"unknown fields everywhere at once": {
			in: head + "spec:\n  replica: 2\n  template: {command: [a], enviroment: []}\n" +
				"  analysisTemplates: [{name: t, metrics: [{name: m, provider: {datadog: {}}}]}]\nstatus: {}\nextra: 1\n",
			want: []string{
				"extra: unknown field",
				"spec.analysisTemplates[0].metrics[0].provider.datadog: unknown field",
				"spec.replica: unknown field",
				"spec.template.enviroment: unknown field",
			},
		},
		"unknown field in metadata": {in: "apiVersion: fledge.dev/v1alpha1\nkind: Rollout\nmetadata: {nmae: web}\n", want: []string{"metadata.nmae: unknown field"}},
		"case matters":              {in: head + "spec: {Replicas: 2}\n", want: []string{"spec.Replicas: unknown field"}},
		"unknown field of a template": {
			in:   "apiVersion: fledge.dev/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec: {metrics: [{name: m, intervall: 5s}]}\n",
			want: []string{"spec.metrics[0].intervall: unknown field"},
		},
		"duplicate key": {
			in:   head + "spec:\n  replicas: 1\n  replicas: 2\n",
			want: []string{`yaml: unmarshal errors: line 6: key "replicas" already set in map`},
		},
		"duplicate key in JSON": {
			in:   `{"apiVersion": "fledge.dev/v1alpha1", "kind": "Rollout", "spec": {"replicas": 1, "replicas": 2}}`,
			want: []string{`yaml: unmarshal errors: line 1: key "replicas" already set in map`},
		},
		"YAML syntax": {in: head + "spec: {replicas: 1\n", want: []string{"yaml: line 4: did not find expected ',' or '}'"}},
		"wrong kind":  {in: "apiVersion: fledge.dev/v1alpha1\nkind: Deployment\n", want: []string{`kind: must be Rollout or AnalysisTemplate, got "Deployment"`}},
		"wrong apiVersion": {in: "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\n",
			want: []string{`apiVersion: must be "fledge.dev/v1alpha1", got "argoproj.io/v1alpha1"`}},
		"no type": {in: "metadata: {name: web}\n", want: []string{`apiVersion: required: set it to "fledge.dev/v1alpha1"`, "kind: required: Rollout or AnalysisTemplate"}},
		"kind not a string": {in: "apiVersion: fledge.dev/v1alpha1\nkind: [Rollout]\n",
			want: []string{"kind: must be Rollout or AnalysisTemplate, got a list"}},
		"not an object": {in: "- web\n", want: []string{"a document must be an object with apiVersion, kind, metadata and spec, got a list"}},
		"wrong types": {
			in: head + "spec:\n  replicas: two\n  template: {command: ./app, env: [{name: 1}]}\n" +
				"  strategy: {canary: {steps: [{setWeight: 50%}, {setWeight: 3000000000}], stickiness: [a]}}\n",
			want: []string{
				`spec.replicas: want an integer (int32), got "two"`,
				"spec.strategy.canary.steps[0].setWeight: want an integer (int32), got \"50%\"",
				"spec.strategy.canary.steps[1].setWeight: want an integer (int32), got 3000000000",
				"spec.strategy.canary.stickiness: want an object, got a list",
				`spec.template.command: want a list, got "./app"`,
				"spec.template.env[0].name: want a string, got 1",
			},
		},
		"bad duration has its path": {
			in:   head + "spec: {strategy: {canary: {steps: [{pause: {duration: soon}}]}}}\n",
			want: []string{`spec.strategy.canary.steps[0].pause.duration: duration "soon": want a duration such as "30s" or "1m30s"`},
		},
		"bad map value": {in: head + "spec: {strategy: {canary: {steps: [{setMirrorRoute: {name: m, match: [{headers: {X-A: abc}}]}}]}}}\n",
			want: []string{`spec.strategy.canary.steps[0].setMirrorRoute.match[0].headers[X-A]: want an object, got "abc"`}},
		"several documents": {
			in: head + "spec: {replicas: 1}\n---\n# the second\napiVersion: fledge.dev/v1alpha1\nkind: Rollout\nmetadata: {name: api}\nspec: {replicaz: 1}\n" +
				"---\nkind: Service\n---\nfoo: [\n",
			want: []string{
				`Rollout "api" (document 2, line 5): spec.replicaz: unknown field`,
				`document 3 (line 11): apiVersion: required: set it to "fledge.dev/v1alpha1"`,
				`document 3 (line 11): kind: must be Rollout or AnalysisTemplate, got "Service"`,
				"document 4 (line 13): yaml: line 14: did not find expected node content",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs, err := Decode([]byte(tc.in))
			if err == nil {
				t.Fatalf("accepted: %v", objs)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestDecodeErrorTypes checks that callers can take an error apart: the
// field errors of one document, the document of several.
func TestDecodeErrorTypes(t *testing.T) {
	_, err := Decode([]byte(head + "spec: {replicaz: 1}\n"))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Path != "spec.replicaz" || list[0].Reason != "unknown field" {
		t.Fatalf("one document: got %#v", err)
	}
	_, err = Decode([]byte(head + "---\n" + head + "spec: {replicaz: 1}\n"))
	var doc *DocumentError
	if !errors.As(err, &doc) || doc.Index != 2 || doc.Line != 4 || doc.Name != "web" || !errors.As(err, &list) {
		t.Fatalf("two documents: got %#v", err)
	}
}

func TestDecodeDocuments(t *testing.T) {
	example := string(readFile(t, "example.yaml"))
	blueGreen := string(readFile(t, "bluegreen.yaml"))
	tests := map[string]struct {
		in    string
		kinds string // kind/name of each object
	}{
		"one":                   {in: example, kinds: "Rollout/web"},
		"leading separator":     {in: "---\n" + example, kinds: "Rollout/web"},
		"empty and comment":     {in: "# rollouts\n---\n\n---\n" + example + "---\n# end\n", kinds: "Rollout/web"},
		"three":                 {in: example + "---\n" + blueGreen, kinds: "Rollout/web,Rollout/api,AnalysisTemplate/smoke"},
		"separator and comment": {in: example + "--- # the blue-green one\n" + blueGreen, kinds: "Rollout/web,Rollout/api,AnalysisTemplate/smoke"},
		"CRLF":                  {in: strings.ReplaceAll(example+"---\n"+blueGreen, "\n", "\r\n"), kinds: "Rollout/web,Rollout/api,AnalysisTemplate/smoke"},
		"JSON": {in: `{"apiVersion": "fledge.dev/v1alpha1", "kind": "Rollout", "metadata": {"name": "j"}, "spec": {"strategy": {}}}`,
			kinds: "Rollout/j"},
		"nothing": {in: "# nothing yet\n", kinds: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs, err := Decode([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
			}
			if strings.Join(got, ",") != tc.kinds {
				t.Fatalf("got %v, want %s", got, tc.kinds)
			}
		})
	}
}

// TestDecodeDoesNotDefault checks that Decode returns what was written.
func TestDecodeDoesNotDefault(t *testing.T) {
	rs, err := DecodeRollouts(readFile(t, "bluegreen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("got %d rollouts, want the 1 (the template is skipped)", len(rs))
	}
	s := rs[0].Spec
	if s.RevisionHistoryLimit != nil || s.TerminationGracePeriodSeconds != nil || len(s.AnalysisTemplates) != 1 {
		t.Fatalf("defaulted or resolved: %+v", s)
	}
}

func TestLoadRejects(t *testing.T) {
	template := "apiVersion: fledge.dev/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: smoke}\n" +
		"spec: {metrics: [{name: m, successCondition: result < 1, provider: {builtin: {errorRate: {}}}}]}\n"
	tests := map[string]struct {
		in   string
		want string
	}{
		"no rollout":     {in: template, want: "no Rollout found: the input holds no document of kind Rollout"},
		"empty input":    {in: "", want: "no Rollout found: the input holds no document of kind Rollout"},
		"decode failure": {in: head + "spec: {replicaz: 1}\n", want: "spec.replicaz: unknown field"},
		"same rollout twice": {in: string(readFile(t, "example.yaml")) + "---\n" + string(readFile(t, "example.yaml")),
			want: `Rollout "web" (document 2, line 38): metadata.name: duplicate Rollout "web" (also document 1)`},
		"same template twice": {in: template + "---\n" + template + "---\n" + string(readFile(t, "bluegreen.yaml")),
			want: `AnalysisTemplate "smoke" (document 2, line 5): metadata.name: duplicate AnalysisTemplate "smoke" (also document 1)` + "\n" +
				`AnalysisTemplate "smoke" (document 4, line 47): metadata.name: duplicate AnalysisTemplate "smoke" (also document 1)`},
		"invalid template": {in: strings.Replace(template, "result < 1", "result <", 1) + "---\n" + string(readFile(t, "bluegreen.yaml")),
			want: `AnalysisTemplate "smoke" (document 1, line 1): spec.metrics[0].successCondition: invalid CEL expression: 1:9: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}` + "\n" +
				`AnalysisTemplate "smoke" (document 3, line 42): metadata.name: duplicate AnalysisTemplate "smoke" (also document 1)`},
		"unknown standalone template": {in: strings.Replace(string(readFile(t, "bluegreen.yaml")), "templateName: smoke", "templateName: smok", 1),
			want: `Rollout "api" (document 1, line 1): spec.strategy.blueGreen.prePromotionAnalysis.templates[0].templateName: ` +
				`no analysis template "smok" in spec.analysisTemplates or the AnalysisTemplate documents (available: "latency", "smoke")`},
		"errors of every document": {in: head + "spec: {replicas: -1}\n---\n" + strings.Replace(head, "web", "api", 1) + "spec: {replicaz: 1}\n",
			want: `Rollout "web" (document 1, line 1): spec.replicas: must not be negative, got -1` + "\n" +
				`Rollout "web" (document 1, line 1): spec: must set template (local mode) or workloadRef (Kubernetes mode), got neither` + "\n" +
				`Rollout "web" (document 1, line 1): spec.strategy: must set exactly one of canary or blueGreen, got none` + "\n" +
				`Rollout "api" (document 2, line 5): spec.replicaz: unknown field`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := Load([]byte(tc.in))
			if err == nil {
				t.Fatalf("accepted: %v", rs)
			}
			if err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

// TestLoadSharesTemplates checks that two Rollouts may use one standalone
// template, that each gets its own copy, and that an inline template of
// the same name wins.
func TestLoadSharesTemplates(t *testing.T) {
	blueGreen := string(readFile(t, "bluegreen.yaml"))
	second := strings.Replace(strings.Replace(blueGreen, "name: api", "name: api2", 1), "909", "808", 2)
	second = second[:strings.Index(second, "---")]
	// The first Rollout also defines smoke inline: its own wins.
	first := strings.Replace(blueGreen, "  analysisTemplates:\n", "  analysisTemplates:\n"+
		"  - name: smoke\n    metrics: [{name: inline, successCondition: result < 1, provider: {builtin: {errorRate: {}}}}]\n", 1)
	rs, err := Load([]byte(first + "---\n" + second))
	if err != nil {
		t.Fatal(err)
	}
	smoke := func(r *Rollout) *NamedAnalysisTemplate {
		for i := range r.Spec.AnalysisTemplates {
			if t := &r.Spec.AnalysisTemplates[i]; t.Name == "smoke" {
				return t
			}
		}
		t.Fatalf("%s has no smoke template", r.Name)
		return nil
	}
	if got := smoke(rs[0]).Metrics[0].Name; got != "inline" {
		t.Errorf("api's smoke metric = %q, want its inline one", got)
	}
	if got := smoke(rs[1]).Metrics[0].Name; got != "errors" {
		t.Errorf("api2's smoke metric = %q, want the standalone one", got)
	}
	if got := len(rs[0].Spec.AnalysisTemplates); got != 2 {
		t.Errorf("api has %d templates, want 2", got)
	}
}

func TestDuration(t *testing.T) {
	tests := map[string]struct {
		in      string // the YAML value of pause.duration
		want    time.Duration
		wantErr string
	}{
		"seconds string":  {in: "30s", want: 30 * time.Second},
		"number":          {in: "30", want: 30 * time.Second},
		"quoted number":   {in: `"45"`, want: 45 * time.Second},
		"minute":          {in: "1m", want: time.Minute},
		"composite":       {in: "1m30s", want: 90 * time.Second},
		"sub-second":      {in: "250ms", want: 250 * time.Millisecond},
		"zero":            {in: "0", want: 0},
		"negative":        {in: "-5s", want: -5 * time.Second},
		"word":            {in: "soon", wantErr: `duration "soon": want a duration such as "30s" or "1m30s"`},
		"space":           {in: `"10 s"`, wantErr: `duration "10 s": want a duration such as "30s" or "1m30s"`},
		"quoted fraction": {in: `"1.5"`, wantErr: "duration 1.5: a number of seconds must be a whole number"},
		"no unit":         {in: `"1.5x"`, wantErr: `duration "1.5x": want a duration such as "30s" or "1m30s"`},
		"fraction":        {in: "1.5", wantErr: "duration 1.5: a number of seconds must be a whole number"},
		"bool":            {in: "true", wantErr: `duration: want a string such as "30s" or a number of seconds, got true`},
		"list":            {in: "[30s]", wantErr: `duration: want a string such as "30s" or a number of seconds, got ["30s"]`},
		"unit only":       {in: "s", wantErr: `duration "s": want a duration such as "30s" or "1m30s"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := DecodeRollouts([]byte(head + "spec: {strategy: {canary: {steps: [{pause: {duration: " + tc.in + "}}]}}}\n"))
			if tc.wantErr != "" {
				want := "spec.strategy.canary.steps[0].pause.duration: " + tc.wantErr
				if err == nil || err.Error() != want {
					t.Fatalf("got %v, want %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d := rs[0].Spec.Strategy.Canary.Steps[0].Pause.Duration
			if d.Duration != tc.want {
				t.Fatalf("got %v, want %v", d.Duration, tc.want)
			}
			// It writes back as a string that reads the same.
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var back Duration
			if err := json.Unmarshal(b, &back); err != nil || back != *d {
				t.Fatalf("%s read back as %v, %v", b, back, err)
			}
		})
	}
}

// BenchmarkLoad measures what a spec file costs to read: the daemon loads
// on every apply.
func BenchmarkLoad(b *testing.B) {
	for _, file := range []string{"example.yaml", "bluegreen.yaml", "twenty-mistakes.yaml"} {
		data := readFile(b, file)
		b.Run(file, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Load(data)
			}
		})
	}
}
