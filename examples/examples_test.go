// Package examples holds ready-made Rollout specs (examples/local: the
// local mode, with the built-in sample app; examples/kubernetes: the
// controller's, with ready-made AnalysisTemplates in kubernetes/analysis).
// Its test loads every one of them the way `fledge run` and `fledge apply`
// do, so that an example that drifts from the API fails here rather than
// in a user's hands.
package examples

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

// strategies says which strategy a file must use, by a word in its name.
var strategies = map[string]struct {
	word  string
	check func(v1alpha1.RolloutStrategy) bool
}{
	"canary":     {word: "canary", check: func(s v1alpha1.RolloutStrategy) bool { return s.Canary != nil && s.BlueGreen == nil }},
	"blue-green": {word: "bluegreen", check: func(s v1alpha1.RolloutStrategy) bool { return s.BlueGreen != nil && s.Canary == nil }},
}

// specFiles lists the YAML files under dir.
func specFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// load reads and loads one file as the CLI does (decode, default, validate).
func load(t *testing.T, path string) []*v1alpha1.Rollout {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := v1alpha1.Load(data)
	if err != nil {
		t.Fatalf("%s does not load:\n%v", path, err)
	}
	return rs
}

// TestLocalExamplesLoad loads every spec under local/ and checks that each
// Rollout in it uses the strategy its file name says.
func TestLocalExamplesLoad(t *testing.T) {
	files := specFiles(t, "local")
	if len(files) == 0 {
		t.Fatal("no YAML file under examples/local")
	}
	covered := map[string]bool{}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			base := strings.ToLower(filepath.Base(path))
			var kinds []string
			for name, s := range strategies {
				if strings.Contains(base, s.word) {
					kinds = append(kinds, name)
				}
			}
			if len(kinds) != 1 {
				t.Fatalf("%s: the file name must say its strategy: contain \"canary\" or \"bluegreen\", and not both", path)
			}
			kind := kinds[0]
			covered[kind] = true
			for _, r := range load(t, path) {
				if !strategies[kind].check(r.Spec.Strategy) {
					t.Errorf("%s: rollout %q is not a %s rollout, as its file name says", path, r.Name, kind)
				}
			}
		})
	}
	for name := range strategies {
		if !covered[name] {
			t.Errorf("no %s example under examples/local", name)
		}
	}
}

// TestLocalExamplesRunTogether checks what examples/local/README.md
// promises: every example runs with the fledge binary alone (the built-in
// sample app), and they can all be applied to one daemon (distinct rollout
// names and proxy addresses).
func TestLocalExamplesRunTogether(t *testing.T) {
	names := map[string]string{}
	addrs := map[string]string{}
	for _, path := range specFiles(t, "local") {
		for _, r := range load(t, path) {
			if r.Spec.Template == nil {
				t.Errorf("%s: rollout %q has no template: local examples run processes", path, r.Name)
				continue
			}
			if cmd := r.Spec.Template.Command; len(cmd) < 2 || cmd[0] != "fledge" || cmd[1] != "sample-app" {
				t.Errorf("%s: rollout %q runs %q, want the built-in sample app (fledge sample-app ...)", path, r.Name, cmd)
			}
			if other, dup := names[r.Name]; dup {
				t.Errorf("%s: rollout name %q is also used by %s", path, r.Name, other)
			}
			names[r.Name] = path
			for _, a := range listens(r) {
				if other, dup := addrs[a]; dup {
					t.Errorf("%s: rollout %q listens on %s, as %s does", path, r.Name, a, other)
				}
				addrs[a] = path + " (" + r.Name + ")"
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no rollout under examples/local")
	}
}

// listens lists the proxy addresses of a rollout.
func listens(r *v1alpha1.Rollout) []string {
	var tr *v1alpha1.TrafficRouting
	switch s := r.Spec.Strategy; {
	case s.Canary != nil:
		tr = s.Canary.TrafficRouting
	case s.BlueGreen != nil:
		tr = s.BlueGreen.TrafficRouting
	}
	if tr == nil || tr.Proxy == nil {
		return nil
	}
	return slices.DeleteFunc([]string{tr.Proxy.Listen, tr.Proxy.PreviewListen}, func(a string) bool { return a == "" })
}

// TestKubernetesAnalysisTemplates checks the ready-made templates of
// kubernetes/analysis: each AnalysisTemplate decodes and validates, and
// measures only with the providers the controller has (prometheus and web:
// the builtin provider and the judges read the local proxy's counters);
// the folder's Rollout loads with them, its references and arguments
// resolved.
func TestKubernetesAnalysisTemplates(t *testing.T) {
	files := specFiles(t, filepath.Join("kubernetes", "analysis"))
	var docs [][]byte
	templates := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, data)
		objs, err := v1alpha1.Decode(data)
		if err != nil {
			t.Fatalf("%s does not decode:\n%v", path, err)
		}
		for _, o := range objs {
			tpl, ok := o.(*v1alpha1.AnalysisTemplate)
			if !ok {
				continue
			}
			templates++
			tpl.Spec.Default()
			if err := tpl.Validate(); err != nil {
				t.Errorf("%s: AnalysisTemplate %q is not valid:\n%v", path, tpl.Name, err)
			}
			if tpl.Spec.Judge != nil && tpl.Spec.Judge.Prometheus == nil {
				t.Errorf("%s: AnalysisTemplate %q has a judge on the embedded proxy's counters, which the controller cannot evaluate (set judge.prometheus)", path, tpl.Name)
			}
			for _, m := range tpl.Spec.Metrics {
				if m.Provider.Prometheus == nil && m.Provider.Web == nil {
					t.Errorf("%s: AnalysisTemplate %q: metric %q measures with a provider the controller does not have (want prometheus or web)", path, tpl.Name, m.Name)
				}
			}
		}
	}
	if templates == 0 {
		t.Fatal("no AnalysisTemplate under examples/kubernetes/analysis")
	}
	rs, err := v1alpha1.Load(bytes.Join(docs, []byte("\n---\n")))
	if err != nil {
		t.Fatalf("examples/kubernetes/analysis does not load:\n%v", err)
	}
	for _, r := range rs {
		if r.Spec.WorkloadRef == nil {
			t.Errorf("rollout %q has no workloadRef: the Kubernetes examples drive Deployments", r.Name)
		}
	}
}
