package verify

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// root is the repository root, from this package's directory.
const root = "../.."

// TestGeneratedFilesAreFresh regenerates the CRDs and the deepcopy functions
// into a temporary directory and compares them with the committed ones.
func TestGeneratedFilesAreFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs controller-gen (compiled on first use)")
	}
	tmp := t.TempDir()
	crdDir, objDir := filepath.Join(tmp, "crd"), filepath.Join(tmp, "object")
	cmd := exec.Command(goCommand(t), "tool", "-modfile=hack/tools/go.mod", "controller-gen",
		"crd", "object", "paths=./api/...",
		"output:crd:dir="+crdDir, "output:object:dir="+objDir)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen: %v\n%s", err, out)
	}

	const fix = "run `make manifests generate` and commit the result"
	// The Helm chart ships copies of the CRDs (Helm installs crds/ itself);
	// `make manifests` writes both.
	for _, dir := range []string{"config/crd/bases", "charts/fledge/crds"} {
		sameDir(t, crdDir, dir, fix)
	}
	same(t, filepath.Join(objDir, "zz_generated.deepcopy.go"),
		filepath.Join(root, "api/v1alpha1/zz_generated.deepcopy.go"), fix)
}

// sameDir compares the YAML files of the committed directory dir (relative
// to the root) with the freshly generated ones: the same names, the same
// bytes.
func sameDir(t *testing.T, fresh, dir, fix string) {
	t.Helper()
	want := filesIn(t, fresh)
	have := filesIn(t, filepath.Join(root, dir))
	for _, name := range want {
		if !slices.Contains(have, name) {
			t.Errorf("%s/%s is missing: %s", dir, name, fix)
			continue
		}
		same(t, filepath.Join(fresh, name), filepath.Join(root, dir, name), fix)
	}
	for _, name := range have {
		if !slices.Contains(want, name) {
			t.Errorf("%s/%s matches no type any more: delete it (or %s)", dir, name, fix)
		}
	}
}

// same reports the first differing line of two files, so that the failure
// says what is stale without printing whole CRDs.
func same(t *testing.T, fresh, committed, fix string) {
	t.Helper()
	a, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(committed)
	if err != nil {
		t.Errorf("%s: %v: %s", committed, err, fix)
		return
	}
	if bytes.Equal(a, b) {
		return
	}
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			t.Errorf("%s is stale (%s); first difference at line %d:\n  generated: %q\n  committed: %q",
				strings.TrimPrefix(committed, root+"/"), fix, i+1, x, y)
			return
		}
	}
}

func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			names = append(names, e.Name())
		}
	}
	return names
}

// goCommand is the go command on PATH, or else the one of the toolchain
// that built this test.
func goCommand(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatal("no go command on PATH nor in GOROOT")
	}
	return p
}
