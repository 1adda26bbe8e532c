package dashboard

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// LoginLink is the answer of POST /dashboard/api/login-links: a URL that
// logs one browser in, once.
type LoginLink struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// loginLink exchanges a one-time token (?token=) for a session and sends
// the browser on to the dashboard; without a token it shows the form.
func (d *Dashboard) loginLink(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	tok := r.URL.Query().Get("token")
	if tok == "" {
		if _, ok := d.auth.session(r); ok {
			http.Redirect(w, r, "/dashboard/", http.StatusSeeOther)
			return
		}
		writeLogin(w, http.StatusOK, "")
		return
	}
	if !d.auth.useLink(tok) {
		writeLogin(w, http.StatusUnauthorized, "This login link was already used or has expired: run `fledge dashboard --url` for a new one, or enter the daemon's token.")
		return
	}
	d.auth.login(w)
	http.Redirect(w, r, next(r), http.StatusSeeOther)
}

// next is where a login link sends the browser: ?next= if it is a page of
// the dashboard (never another site), else the list.
func next(r *http.Request) string {
	n := r.URL.Query().Get("next")
	if u, err := url.Parse(n); err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/dashboard/") && !strings.Contains(u.Path, "//") {
		return u.RequestURI()
	}
	return "/dashboard/"
}

// loginForm logs in with the API token typed into the form.
func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if !d.auth.validToken(r.PostFormValue("token")) {
		writeLogin(w, http.StatusUnauthorized, "Wrong token. It is in the daemon's state directory, in the file named token.")
		return
	}
	d.auth.login(w)
	http.Redirect(w, r, "/dashboard/", http.StatusSeeOther)
}

// logout ends the session.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	d.auth.logout(w, r)
	writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
}

// mintLink issues a one-time login link to a holder of the API token (the
// CLI's `fledge dashboard --url`).
func (d *Dashboard) mintLink(w http.ResponseWriter, r *http.Request) {
	if !d.auth.bearer(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fledge"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong token: send `Authorization: Bearer <token>` with the token from the daemon's state dir")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, d.NewLoginLink(r.Host))
}

// NewLoginLink issues a one-time login link to the dashboard served at
// host: for a process that serves the dashboard itself (`fledge dashboard
// --kubeconfig`) and so holds the token already.
func (d *Dashboard) NewLoginLink(host string) LoginLink {
	tok, exp := d.auth.newLink()
	u := url.URL{Scheme: "http", Host: host, Path: "/dashboard/login", RawQuery: url.Values{"token": {tok}}.Encode()}
	return LoginLink{URL: u.String(), Expires: exp}
}

// writeLogin answers with the login form (and why, if msg is set).
func writeLogin(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = loginTemplate.Execute(w, struct{ Message string }{msg}) // the browser went away: nothing to do
}

// loginTemplate is self-contained: without a session no asset is served.
var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fledge · log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2433;display:flex;justify-content:center;padding-top:12vh;margin:0}
form{background:#fff;border:1px solid #d8dce3;border-radius:8px;padding:28px 32px;width:380px}
h1{font-size:20px;margin:0 0 4px}p{color:#5a6275;margin:0 0 16px;font-size:14px}
input{width:100%;box-sizing:border-box;padding:8px;border:1px solid #c3c8d2;border-radius:4px;font:inherit}
button{margin-top:14px;padding:8px 18px;border:0;border-radius:4px;background:#2f5fd0;color:#fff;font:inherit;cursor:pointer}
.error{color:#b3261e;background:#fbeaea;padding:8px;border-radius:4px}code{font-size:13px}
</style></head><body>
<form id="login-form" method="post" action="/dashboard/login">
<h1>Fledge dashboard</h1>
<p>Run <code>fledge dashboard --url</code> for a one-time login link, or enter the daemon's API token (the file <code>token</code> in its state directory).</p>
{{if .Message}}<p class="error" id="login-error">{{.Message}}</p>{{end}}
<input type="password" name="token" placeholder="API token" autocomplete="off" autofocus required>
<button type="submit">Log in</button>
</form></body></html>
`))
