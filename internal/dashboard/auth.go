package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Names the browser sees.
const (
	// cookieName holds the session id; HttpOnly, so no script reads it.
	cookieName = "fledge_session"
	// csrfHeader must carry the session's CSRF token on every POST.
	csrfHeader = "X-CSRF-Token"
	// cookiePath scopes the cookie to the dashboard: the API keeps its bearer token.
	cookiePath = "/dashboard/"
)

// Lifetimes.
const (
	defaultSessionTTL = 12 * time.Hour
	// loginLinkTTL bounds how long a one-time login link printed by
	// `fledge dashboard --url` can be used: long enough to paste it.
	loginLinkTTL = 2 * time.Minute
)

// session is one logged-in browser.
type session struct {
	key     [sha256.Size]byte // digest of the cookie's id
	csrf    string
	expires time.Time
}

// auth keeps sessions and one-time login links in memory: a daemon restart
// logs everyone out, which is fine for a tool on this machine. Only
// digests of secrets are kept, so a map lookup leaks nothing by timing.
type auth struct {
	token [sha256.Size]byte // digest of the API token
	empty bool              // no API token: nobody can log in
	ttl   time.Duration
	now   func() time.Time

	mu       sync.Mutex
	sessions map[[sha256.Size]byte]*session
	links    map[[sha256.Size]byte]time.Time // one-time login token -> expiry
}

func newAuth(token string, ttl time.Duration, now func() time.Time) *auth {
	if ttl <= 0 {
		ttl = defaultSessionTTL
	}
	return &auth{
		token: sha256.Sum256([]byte(token)), empty: token == "", ttl: ttl, now: now,
		sessions: map[[sha256.Size]byte]*session{},
		links:    map[[sha256.Size]byte]time.Time{},
	}
}

// validToken compares a presented API token in constant time (of digests:
// neither content nor length leaks).
func (a *auth) validToken(given string) bool {
	sum := sha256.Sum256([]byte(strings.TrimSpace(given)))
	return !a.empty && subtle.ConstantTimeCompare(sum[:], a.token[:]) == 1
}

// bearer tells whether a request carries the API token as the API wants it.
func (a *auth) bearer(r *http.Request) bool {
	given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && a.validToken(given)
}

// newLink issues a one-time login token.
func (a *auth) newLink() (string, time.Time) {
	tok := randomHex()
	exp := a.now().Add(loginLinkTTL)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.links[sha256.Sum256([]byte(tok))] = exp
	return tok, exp
}

// useLink consumes a one-time login token: the first use of an unexpired
// one succeeds, any other use fails.
func (a *auth) useLink(tok string) bool {
	key := sha256.Sum256([]byte(tok))
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.links[key]
	delete(a.links, key)
	return ok && a.now().Before(exp)
}

// login starts a session and sets its cookie.
func (a *auth) login(w http.ResponseWriter) {
	id := randomHex()
	s := &session{key: sha256.Sum256([]byte(id)), csrf: randomHex(), expires: a.now().Add(a.ttl)}
	a.mu.Lock()
	a.sessions[s.key] = s
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: cookiePath,
		MaxAge: int(a.ttl / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// session returns the request's live session, if any.
func (a *auth) session(r *http.Request) (*session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, false
	}
	key := sha256.Sum256([]byte(c.Value))
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[key]
	if !ok {
		return nil, false
	}
	if !a.now().Before(s.expires) {
		delete(a.sessions, key)
		return nil, false
	}
	return s, true
}

// logout ends the request's session and clears its cookie.
func (a *auth) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		a.mu.Lock()
		delete(a.sessions, sha256.Sum256([]byte(c.Value)))
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: cookiePath, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// alive tells whether a session has not been logged out or expired, for
// streams that outlive the request that checked it.
func (a *auth) alive(s *session) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[s.key] == s && a.now().Before(s.expires)
}

// gc forgets expired sessions and login links.
func (a *auth) gc() {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, s := range a.sessions {
		if !now.Before(s.expires) {
			delete(a.sessions, k)
		}
	}
	for k, exp := range a.links {
		if !now.Before(exp) {
			delete(a.links, k)
		}
	}
}

// checkCSRF tells whether a state-changing request comes from the
// dashboard's own page: the session's CSRF token in a header that a
// cross-site form cannot set. (The SameSite=Strict cookie and the
// cross-origin check in front of every POST are the other two locks.)
func checkCSRF(s *session, r *http.Request) bool {
	given := r.Header.Get(csrfHeader)
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(s.csrf)) == 1
}

func randomHex() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}
