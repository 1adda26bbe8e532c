package demo

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoFast plays the fast demo with real replicas and checks what it
// exists to show: the bad version is rolled back by analysis on its own, the
// good one promoted, and the good one costs users no error.
func TestDemoFast(t *testing.T) {
	if testing.Short() {
		t.Skip("plays the whole demo")
	}
	exe := filepath.Join(t.TempDir(), "fledge")
	build := exec.Command("go", "build", "-o", exe, "fledge.dev/fledge/cmd/fledge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build fledge: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress strings.Builder
	report, err := Run(ctx, Options{Fast: true, Exe: exe, Progress: &progress})
	if err != nil {
		t.Fatalf("demo: %v\nprogress:\n%s", err, progress.String())
	}
	if len(report.Releases) != 2 {
		t.Fatalf("want 2 releases, got %+v", report.Releases)
	}
	v2, v3 := report.Releases[0], report.Releases[1]
	if v2.Version != "v2" || v2.Outcome != "aborted" {
		t.Errorf("v2: want aborted, got %+v", v2)
	}
	if v2.CanaryErrors == 0 || v2.CanaryRequests == 0 {
		t.Errorf("v2: the canary should have served and failed requests before the abort: %+v", v2)
	}
	if !strings.Contains(v2.Message, "analysis") {
		t.Errorf("v2: the abort should name the analysis, got %q", v2.Message)
	}
	if v3.Version != "v3" || v3.Outcome != "promoted" {
		t.Errorf("v3: want promoted, got %+v", v3)
	}
	if v3.UserVisibleErrors != 0 || v3.CanaryErrors != 0 {
		t.Errorf("v3 is a good version: want no errors, got %+v", v3)
	}
	if v3.UserRequests == 0 || v3.CanaryRequests == 0 {
		t.Errorf("v3: want traffic on both versions, got %+v", v3)
	}
	if t.Failed() {
		t.Logf("progress:\n%s", progress.String())
	}
}
