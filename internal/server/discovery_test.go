package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	tok, err := EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 64 || strings.Trim(tok, "0123456789abcdef") != "" {
		t.Errorf("token %q is not 32 bytes of hex", tok)
	}
	fi, _ := os.Stat(filepath.Join(dir, TokenFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token mode %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(dir)
	if di.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode %v, want 0700", di.Mode().Perm())
	}
	again, err := EnsureToken(dir)
	if err != nil || again != tok {
		t.Errorf("second EnsureToken = %q, %v; want the same token", again, err)
	}
	other, _ := EnsureToken(t.TempDir())
	if other == tok {
		t.Error("two state dirs got the same token")
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	_, err := Discover(dir)
	if !errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "fledge serve") {
		t.Errorf("no daemon.json: %v", err)
	}
	ctl := newFake("web")
	srv, _ := startServer(t, ctl, nil)
	tok, _ := EnsureToken(dir)
	if tok == testToken {
		t.Fatal("test setup: the state dir's token must differ from the server's")
	}
	if err := WriteInfo(dir, Info{Address: srv.Addr(), PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	c, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(context.Background()); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("a client with another daemon's token: %v", err)
	}
	c.Token = testToken
	if _, err := c.List(context.Background()); err != nil {
		t.Errorf("discovered client: %v", err)
	}

	// A daemon that died left its daemon.json behind.
	if err := WriteInfo(dir, Info{Address: srv.Addr(), PID: deadPID(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Discover(dir); !errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), "exited") {
		t.Errorf("stale daemon.json: %v", err)
	}
	// RemoveInfo leaves another daemon's file alone.
	if err := RemoveInfo(dir, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInfo(dir); err != nil {
		t.Errorf("RemoveInfo removed another pid's daemon.json: %v", err)
	}
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}
