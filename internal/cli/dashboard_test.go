package cli

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fledge.dev/fledge/internal/dashboard"
	"fledge.dev/fledge/internal/server"
)

// dashboardDaemon is fakeDaemon with the dashboard mounted, as `fledge
// serve` mounts it.
func dashboardDaemon(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	tok, err := server.EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctl := newFake()
	ctl.add(web())
	notFound := func(err error) bool { return errors.Is(err, errNotFound) }
	dash := dashboard.New(dashboard.Config{Token: tok, Control: ctl, NotFound: notFound})
	srv := server.New(server.Config{Addr: "127.0.0.1:0", Token: tok, Control: ctl, NotFound: notFound, Dashboard: dash})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	<-srv.Ready()
	t.Cleanup(func() { cancel(); <-done })
	if err := server.WriteInfo(dir, server.Info{Address: srv.Addr(), PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// `fledge dashboard --url` prints a link that logs a browser in once.
func TestDashboardURL(t *testing.T) {
	dir := dashboardDaemon(t)
	out, errOut, code := fledge(t, dir, "dashboard", "--url")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	link := strings.TrimSpace(out)
	if !strings.Contains(link, "/dashboard/login?token=") || strings.Count(out, "\n") != 1 {
		t.Fatalf("want only the login URL, got %q", out)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("first use: %s, cookies %v", resp.Status, resp.Cookies())
	}
	page, err := http.NewRequest("GET", strings.Split(link, "/login")[0]+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	page.AddCookie(resp.Cookies()[0])
	if r, err := noRedirect.Do(page); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("the dashboard with the cookie: %v %v", r.Status, err)
	}
	again, err := noRedirect.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusUnauthorized {
		t.Errorf("second use: %s, want 401", again.Status)
	}
}

func TestDashboardPrintsAddress(t *testing.T) {
	dir := dashboardDaemon(t)
	out, errOut, code := fledge(t, dir, "dashboard")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	info, _ := server.ReadInfo(dir)
	if !strings.Contains(out, "Dashboard: http://"+info.Address+"/dashboard/\n") || !strings.Contains(out, "/dashboard/login?token=") {
		t.Errorf("output:\n%s", out)
	}
}

// A daemon that serves no dashboard is said to, not reported as a failure
// of the token.
func TestDashboardNotServed(t *testing.T) {
	_, dir := fakeDaemon(t)
	_, errOut, code := fledge(t, dir, "dashboard", "--url")
	if code == 0 || !strings.Contains(errOut, "serves no dashboard") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestDashboardWithoutDaemon(t *testing.T) {
	_, errOut, code := fledge(t, t.TempDir(), "dashboard")
	if code == 0 || !strings.Contains(errOut, "no fledge daemon is running") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
