package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const testToken = "s3cret-api-token"

// fakeControl stands in for the daemon in the tests of the HTTP layer
// (auth, CSRF): it records commands and, as the daemon does, commits a
// command's event before answering.
type fakeControl struct {
	mu       sync.Mutex
	ro       *v1alpha1.Rollout
	events   []store.Event
	commands []string
}

var errNotFound = errors.New("rollout not found")

func newFakeControl() *fakeControl {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "web"}}
	ro.Status.Phase = v1alpha1.PhaseProgressing
	return &fakeControl{ro: ro}
}

func (f *fakeControl) Get(_ context.Context, name string) (*v1alpha1.Rollout, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != f.ro.Name {
		return nil, fmt.Errorf("%w: %s", errNotFound, name)
	}
	b, _ := json.Marshal(f.ro)
	var out v1alpha1.Rollout
	return &out, json.Unmarshal(b, &out)
}

func (f *fakeControl) List(ctx context.Context) ([]*v1alpha1.Rollout, error) {
	ro, err := f.Get(ctx, "web")
	return []*v1alpha1.Rollout{ro}, err
}

func (f *fakeControl) Command(_ context.Context, name string, cmd rollout.Command) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, string(cmd)+" "+name)
	f.events = append(f.events, store.Event{Time: time.Now(), Reason: "Cmd", Message: string(cmd), Actor: "user"})
	return nil
}

func (f *fakeControl) Undo(ctx context.Context, name, revision string) error {
	return f.Command(ctx, name, "undo")
}

func (f *fakeControl) Runs(context.Context, string) ([]*v1alpha1.AnalysisRun, error) { return nil, nil }

func (f *fakeControl) Events(context.Context, string) ([]store.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.Event(nil), f.events...), nil
}

func (f *fakeControl) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

// testClock is a settable clock for expiry tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a dashboard on a real loopback server.
type harness struct {
	t     *testing.T
	d     *Dashboard
	ctl   *fakeControl
	clock *testClock
	srv   *httptest.Server
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctl := newFakeControl()
	d := New(Config{Token: testToken, Control: ctl, NotFound: func(err error) bool { return errors.Is(err, errNotFound) }})
	clock := &testClock{t: time.Now()}
	d.auth.now = clock.now
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return &harness{t: t, d: d, ctl: ctl, clock: clock, srv: srv}
}

// request sends one request without following redirects; hdr holds
// header pairs.
func (h *harness) request(method, path, cookie string, body io.Reader, hdr ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// mint gets a one-time login URL's path and query, as the CLI does.
func (h *harness) mint() string {
	h.t.Helper()
	resp, body := h.request("POST", "/dashboard/api/login-links", "", nil, "Authorization", "Bearer "+testToken)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("mint: %s %s", resp.Status, body)
	}
	var link LoginLink
	if err := json.Unmarshal([]byte(body), &link); err != nil {
		h.t.Fatal(err)
	}
	return strings.TrimPrefix(link.URL, h.srv.URL)
}

// login logs in through a one-time link and returns the session cookie
// and the page's CSRF token.
func (h *harness) login() (cookie, csrf string) {
	h.t.Helper()
	resp, body := h.request("GET", h.mint(), "", nil)
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login link: %s %s", resp.Status, body)
	}
	cookie = sessionCookie(h.t, resp).Value
	_, page := h.request("GET", "/dashboard/", cookie, nil)
	return cookie, csrfOf(h.t, page)
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", cookieName, resp.Header.Values("Set-Cookie"))
	return nil
}

// csrfOf reads the CSRF token the page carries in its meta tag.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	const marker = `<meta name="csrf-token" content="`
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("no csrf meta tag in the page:\n%s", page)
	}
	rest := page[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}
