package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Nothing of the dashboard answers without a session: pages show the
// login form with 401, the JSON API and the streams say 401, and a POST
// does nothing.
func TestRefusedWithoutSession(t *testing.T) {
	h := newHarness(t)
	tests := map[string]struct {
		method, path, cookie string
		loginPage            bool
	}{
		"list page":           {method: "GET", path: "/dashboard/", loginPage: true},
		"rollout page":        {method: "GET", path: "/dashboard/rollouts/web", loginPage: true},
		"assets":              {method: "GET", path: "/dashboard/assets/app.js", loginPage: true},
		"unknown page":        {method: "GET", path: "/dashboard/nothing-here", loginPage: true},
		"forged cookie":       {method: "GET", path: "/dashboard/", cookie: "not-a-session", loginPage: true},
		"list API":            {method: "GET", path: "/dashboard/api/rollouts"},
		"rollout API":         {method: "GET", path: "/dashboard/api/rollouts/web"},
		"rollout stream":      {method: "GET", path: "/dashboard/api/rollouts/web/stream"},
		"list stream":         {method: "GET", path: "/dashboard/api/stream"},
		"command":             {method: "POST", path: "/dashboard/api/rollouts/web/abort"},
		"command, API token":  {method: "POST", path: "/dashboard/api/rollouts/web/abort", cookie: testToken},
		"logout":              {method: "POST", path: "/dashboard/logout"},
		"undo, forged cookie": {method: "POST", path: "/dashboard/api/rollouts/web/undo", cookie: "x"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := h.request(tt.method, tt.path, tt.cookie, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("want 401, got %s: %s", resp.Status, body)
			}
			if got := strings.Contains(body, `id="login-form"`); got != tt.loginPage {
				t.Errorf("login form in the answer: %v, want %v:\n%s", got, tt.loginPage, body)
			}
		})
	}
	if cmds := h.ctl.Commands(); len(cmds) != 0 {
		t.Errorf("commands reached the daemon without a session: %v", cmds)
	}
}

// The root redirects to the dashboard, which then asks to log in.
func TestRootRedirects(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.request("GET", "/", "", nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/dashboard/" {
		t.Fatalf("GET /: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
}

// A one-time link logs in once: it sets an HttpOnly, SameSite=Strict
// cookie scoped to the dashboard and redirects; the same link used again
// is refused.
func TestLoginLinkWorksOnce(t *testing.T) {
	h := newHarness(t)
	link := h.mint()
	resp, body := h.request("GET", link, "", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/" {
		t.Fatalf("first use: %s to %q: %s", resp.Status, resp.Header.Get("Location"), body)
	}
	c := sessionCookie(t, resp)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != cookiePath || c.Value == "" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=%s", c, cookiePath)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the login answer may be cached: Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	page, body := h.request("GET", "/dashboard/", c.Value, nil)
	if page.StatusCode != http.StatusOK || strings.Contains(body, csrfPlaceholder) || csrfOf(t, body) == "" {
		t.Fatalf("with the cookie: %s, want the page with its CSRF token:\n%s", page.Status, body)
	}

	again, body := h.request("GET", link, "", nil)
	if again.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "already used or has expired") {
		t.Errorf("second use: want 401 and why, got %s:\n%s", again.Status, body)
	}
	for _, c := range again.Cookies() {
		if c.Name == cookieName && c.Value != "" {
			t.Errorf("second use set a session cookie")
		}
	}
}

func TestLoginLinkExpires(t *testing.T) {
	h := newHarness(t)
	link := h.mint()
	h.clock.advance(loginLinkTTL + time.Second)
	if resp, body := h.request("GET", link, "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired link: want 401, got %s: %s", resp.Status, body)
	}
}

// Only a holder of the API token gets a login link.
func TestMintNeedsAPIToken(t *testing.T) {
	h := newHarness(t)
	tests := map[string][]string{
		"no header":     nil,
		"wrong token":   {"Authorization", "Bearer nope"},
		"not a bearer":  {"Authorization", "Basic " + testToken},
		"empty bearer ": {"Authorization", "Bearer "},
	}
	for name, hdr := range tests {
		t.Run(name, func(t *testing.T) {
			resp, body := h.request("POST", "/dashboard/api/login-links", "", nil, hdr...)
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "token=") {
				t.Fatalf("want 401 and no link, got %s: %s", resp.Status, body)
			}
		})
	}
}

// The login form takes the API token; a cross-site form cannot log the
// browser in.
func TestLoginForm(t *testing.T) {
	h := newHarness(t)
	form := func(tok string, hdr ...string) (*http.Response, string) {
		body := strings.NewReader(url.Values{"token": {tok}}.Encode())
		return h.request("POST", "/dashboard/login", "", body, append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
	}
	if resp, body := form("wrong"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong token") {
		t.Errorf("wrong token: want 401 and the form, got %s: %s", resp.Status, body)
	}
	if resp, _ := form(testToken, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form: want 403, got %s", resp.Status)
	}
	if resp, _ := form(testToken, "Origin", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: want 403, got %s", resp.Status)
	}
	resp, body := form(testToken, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right token: want 303, got %s: %s", resp.Status, body)
	}
	if page, _ := h.request("GET", "/dashboard/", sessionCookie(t, resp).Value, nil); page.StatusCode != http.StatusOK {
		t.Errorf("logged in by the form: the page answers %s", page.Status)
	}
}

// A POST needs the session's CSRF token in its header and a same-origin
// request; the cookie alone (what a cross-site form would send, were it
// not SameSite=Strict) does nothing.
func TestCommandNeedsCSRF(t *testing.T) {
	h := newHarness(t)
	cookie, csrf := h.login()
	_, otherCSRF := h.login()
	tests := map[string]struct {
		hdr  []string
		want int
	}{
		"no token":                  {want: http.StatusForbidden},
		"wrong token":               {hdr: []string{csrfHeader, "0000"}, want: http.StatusForbidden},
		"another session's token":   {hdr: []string{csrfHeader, otherCSRF}, want: http.StatusForbidden},
		"token, cross-site request": {hdr: []string{csrfHeader, csrf, "Sec-Fetch-Site", "cross-site"}, want: http.StatusForbidden},
		"token, foreign origin":     {hdr: []string{csrfHeader, csrf, "Origin", "http://evil.example"}, want: http.StatusForbidden},
		"token, same origin":        {hdr: []string{csrfHeader, csrf, "Sec-Fetch-Site", "same-origin", "Origin", h.srv.URL}, want: http.StatusOK},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			before := len(h.ctl.Commands())
			resp, body := h.request("POST", "/dashboard/api/rollouts/web/abort", cookie, nil, tt.hdr...)
			if resp.StatusCode != tt.want {
				t.Fatalf("want %d, got %s: %s", tt.want, resp.Status, body)
			}
			if sent := len(h.ctl.Commands()) - before; (sent == 1) != (tt.want == http.StatusOK) {
				t.Errorf("commands sent: %d", sent)
			}
		})
	}
}

// A command sent from the dashboard is shown as the dashboard's; one the
// daemon got otherwise as the CLI's.
func TestCommandActor(t *testing.T) {
	h := newHarness(t)
	cookie, csrf := h.login()
	if resp, body := h.request("POST", "/dashboard/api/rollouts/web/pause", cookie, nil, csrfHeader, csrf); resp.StatusCode != http.StatusOK {
		t.Fatalf("pause: %s %s", resp.Status, body)
	}
	h.ctl.Command(t.Context(), "web", "resume") // as the CLI would, through the API
	det, err := h.d.detail(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, m := range det.Markers {
		who = append(who, m.Message+" by "+m.Who)
	}
	if strings.Join(who, ", ") != "pause by dashboard, resume by cli" {
		t.Errorf("markers: %v", who)
	}
}

func TestUnknownCommand(t *testing.T) {
	h := newHarness(t)
	cookie, csrf := h.login()
	if resp, _ := h.request("POST", "/dashboard/api/rollouts/web/explode", cookie, nil, csrfHeader, csrf); resp.StatusCode != http.StatusNotFound {
		t.Errorf("want 404, got %s", resp.Status)
	}
	if resp, _ := h.request("GET", "/dashboard/api/rollouts/nope", cookie, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing rollout: want 404, got %s", resp.Status)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	cookie, csrf := h.login()
	if resp, _ := h.request("POST", "/dashboard/logout", cookie, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without CSRF token: want 403, got %s", resp.Status)
	}
	if resp, _ := h.request("POST", "/dashboard/logout", cookie, nil, csrfHeader, csrf); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %s", resp.Status)
	}
	if resp, _ := h.request("GET", "/dashboard/", cookie, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout: want 401, got %s", resp.Status)
	}
}

func TestSessionExpires(t *testing.T) {
	h := newHarness(t)
	cookie, _ := h.login()
	h.clock.advance(defaultSessionTTL + time.Second)
	if resp, _ := h.request("GET", "/dashboard/api/rollouts", cookie, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired session: want 401, got %s", resp.Status)
	}
}

// A login link sends the browser on to a dashboard page, never elsewhere.
func TestLoginLinkNext(t *testing.T) {
	h := newHarness(t)
	tests := map[string]string{
		"/dashboard/rollouts/web": "/dashboard/rollouts/web",
		"https://evil.example/":   "/dashboard/",
		"//evil.example/x":        "/dashboard/",
		"/dashboard//evil":        "/dashboard/",
		"/api/v1/rollouts":        "/dashboard/",
		"":                        "/dashboard/",
	}
	for next, want := range tests {
		t.Run(next, func(t *testing.T) {
			resp, _ := h.request("GET", h.mint()+"&next="+url.QueryEscape(next), "", nil)
			if got := resp.Header.Get("Location"); got != want {
				t.Errorf("next %q: redirected to %q, want %q", next, got, want)
			}
		})
	}
}

// An empty API token lets nobody in, even with an empty token.
func TestEmptyTokenLetsNobodyIn(t *testing.T) {
	a := newAuth("", 0, time.Now)
	if a.validToken("") || a.validToken(" ") {
		t.Fatal("an empty token was accepted")
	}
}
