package dashboard

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// webDir is the front end's source, relative to this package.
const webDir = "../../web"

// The embedded assets are what web/build.sh (`make web`) makes from web/:
// src's files unchanged, and uPlot at the version the lockfile pins. A
// change to web/src without a rebuild fails here.
func TestAssetsMatchSources(t *testing.T) {
	src := os.DirFS(filepath.Join(webDir, "src"))
	names, err := fs.Glob(src, "*")
	if err != nil || len(names) == 0 {
		t.Fatalf("no sources in %s/src: %v", webDir, err)
	}
	for _, name := range names {
		want, _ := fs.ReadFile(src, name)
		got, err := fs.ReadFile(Assets(), name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("assets/%s differs from web/src/%s: run `make web`", name, name)
		}
	}
	built, _ := fs.Glob(Assets(), "*.*")
	for _, name := range built {
		if _, err := fs.Stat(src, name); err != nil {
			t.Errorf("assets/%s has no source in web/src: run `make web`", name)
		}
	}

	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(webDir, "package-lock.json"))
	if err != nil || json.Unmarshal(b, &lock) != nil {
		t.Fatalf("read web/package-lock.json: %v", err)
	}
	version := lock.Packages["node_modules/uplot"].Version
	js, err := fs.ReadFile(Assets(), "vendor/uPlot.iife.min.js")
	if err != nil || version == "" || !strings.Contains(string(js[:min(200, len(js))]), "(v"+version+")") {
		t.Errorf("vendor/uPlot.iife.min.js is not uPlot %q of the lockfile: run `make web`", version)
	}
	// With node_modules installed (`make web` did it), the copies are exact.
	for _, f := range []string{"uPlot.iife.min.js", "uPlot.min.css"} {
		want, err := os.ReadFile(filepath.Join(webDir, "node_modules/uplot/dist", f))
		if err != nil {
			continue
		}
		if got, _ := fs.ReadFile(Assets(), "vendor/"+f); !bytes.Equal(got, want) {
			t.Errorf("assets/vendor/%s differs from node_modules: run `make web`", f)
		}
	}
}

// Every file the page loads is embedded, so that a typo in index.html is
// caught without a browser.
func TestIndexReferencesEmbeddedFiles(t *testing.T) {
	page, err := fs.ReadFile(Assets(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte(csrfPlaceholder)) {
		t.Errorf("index.html lacks the CSRF placeholder %s", csrfPlaceholder)
	}
	rest := string(page)
	const prefix = "/dashboard/assets/"
	found := 0
	for {
		i := strings.Index(rest, prefix)
		if i < 0 {
			break
		}
		rest = rest[i+len(prefix):]
		name := rest[:strings.IndexByte(rest, '"')]
		if _, err := fs.Stat(Assets(), name); err != nil {
			t.Errorf("index.html loads %s%s, which is not embedded", prefix, name)
		}
		found++
	}
	if found < 4 {
		t.Errorf("index.html loads %d assets, want the script, the styles and uPlot", found)
	}
}
