package verify

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"fledge.dev/fledge/api/v1alpha1"
)

// crd is the part of a CustomResourceDefinition this test reads.
type crd struct {
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Kind     string `json:"kind"`
			ListKind string `json:"listKind"`
		} `json:"names"`
		Versions []struct {
			Name string `json:"name"`
		} `json:"versions"`
	} `json:"spec"`
}

// TestEveryCRDKindIsInTheScheme guards the clients: a kind served as a CRD
// but missing from v1alpha1.AddToScheme cannot be read by the controller
// (controller-runtime fails with "no kind is registered").
func TestEveryCRDKindIsInTheScheme(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config/crd/bases/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no CRDs in config/crd/bases: run make manifests")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c crd
		if err := yaml.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if c.Spec.Group != v1alpha1.Group {
			t.Errorf("%s: group %q, want %q", filepath.Base(f), c.Spec.Group, v1alpha1.Group)
		}
		for _, v := range c.Spec.Versions {
			if v.Name != v1alpha1.Version {
				continue
			}
			for _, kind := range []string{c.Spec.Names.Kind, c.Spec.Names.ListKind} {
				if !scheme.Recognizes(v1alpha1.GroupVersion.WithKind(kind)) {
					t.Errorf("%s: kind %s is not registered by v1alpha1.AddToScheme", filepath.Base(f), kind)
				}
			}
		}
	}
}
