package sampleapp

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a log sink that the test reads while Main writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMainServesUntilSIGTERM runs the command's entry point as the CLI does,
// reads its address from its log, and stops it with a real SIGTERM.
func TestMainServesUntilSIGTERM(t *testing.T) {
	t.Setenv("GREETING", "howdy")
	t.Setenv("FLEDGE_SAMPLE_LATENCY", "GET /=1ms")
	var out, errOut lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- Main(context.Background(), []string{"--listen", "127.0.0.1:0", "--version", "v9"}, &out, &errOut)
	}()
	addrRE := regexp.MustCompile(`msg=listening version=v9 addr=(127\.0\.0\.1:\d+) errorRates="" latency="GET /=1ms"`)
	var addr string
	waitFor(t, "the listening line", func() bool {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	if code, h, body := do(t, http.DefaultClient, "GET", "http://"+addr+"/", ""); code != 200 || body != "howdy from v9\n" || h.Get("X-Version") != "v9" {
		t.Fatalf("GET / = %d %q (X-Version %q), want 200 \"howdy from v9\"", code, body, h.Get("X-Version"))
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Main after SIGTERM = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return within 10s of SIGTERM")
	}
	if !strings.Contains(out.String(), "msg=stopped") {
		t.Errorf("log lacks the stopped line:\n%s", out.String())
	}
	if errOut.String() != "" {
		t.Errorf("stderr = %q, want nothing", errOut.String())
	}
}

func TestMainRejectsBadFlags(t *testing.T) {
	var errOut lockedBuffer
	err := Main(context.Background(), []string{"--error-rate", "GET /=lots"}, &lockedBuffer{}, &errOut)
	if err == nil || !strings.Contains(err.Error(), `--error-rate (or $FLEDGE_SAMPLE_ERROR_RATE): route "GET /"`) {
		t.Fatalf("Main = %v, want the flag named", err)
	}
}

func TestMainHelpIsNotAnError(t *testing.T) {
	var errOut lockedBuffer
	if err := Main(context.Background(), []string{"-h"}, &lockedBuffer{}, &errOut); err != nil {
		t.Fatalf("Main(-h) = %v, want nil", err)
	}
	if !strings.Contains(errOut.String(), "Usage: fledge sample-app") {
		t.Errorf("usage not printed: %q", errOut.String())
	}
}
