package dashboard

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
)

// Assets are the built front end: web/src's files as they are, and uPlot
// from npm under vendor/, copied by web/build.sh (`make web`). They are
// committed, so that `go build` needs no npm; a test checks they match
// their sources.
//
//go:embed assets
var assetFS embed.FS

// Assets is the embedded front end, rooted at its directory.
func Assets() fs.FS {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err) // the directory is embedded: cannot happen
	}
	return sub
}

// csrfPlaceholder in index.html is replaced by the session's CSRF token,
// which the page's script sends back on every POST.
const csrfPlaceholder = "__CSRF_TOKEN__"

// assetServer serves /dashboard/assets/...; the files change only with the
// binary, so the browser revalidates rather than caches blindly.
func assetServer() http.Handler {
	fsrv := http.StripPrefix("/dashboard/assets/", http.FileServerFS(Assets()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}

// index serves the single page; its script draws the list or a rollout
// from the address.
func (d *Dashboard) index(w http.ResponseWriter, r *http.Request, s *session) {
	page, err := fs.ReadFile(Assets(), "index.html")
	if err != nil {
		http.Error(w, "dashboard assets missing: "+err.Error(), http.StatusInternalServerError)
		return
	}
	page = bytes.ReplaceAll(page, []byte(csrfPlaceholder), []byte(s.csrf))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}
