package job

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis"
	"fledge.dev/fledge/internal/analysis/provider"
)

var env = provider.Env{Rollout: "web", CanaryRevision: "2", StableRevision: "1"}

// metric is a defaulted job metric (successCondition "result == 0").
func metric(j v1alpha1.JobMetric) v1alpha1.Metric {
	spec := v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{{Name: "smoke", Provider: v1alpha1.MetricProvider{Job: &j}}}}
	spec.Default()
	return spec.Metrics[0]
}

func measure(t *testing.T, ctx context.Context, j v1alpha1.JobMetric) (provider.Result, error, v1alpha1.Measurement) {
	t.Helper()
	p, err := provider.New(ID, provider.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	m := metric(j)
	res, err := p.Measure(ctx, m, env)
	return res, err, analysis.Judge(m, res, err, time.Now(), time.Now())
}

func sh(script string) []string { return []string{"sh", "-c", script} }

func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho checked in \"$(pwd)\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		job       v1alpha1.JobMetric
		want      float64
		phase     v1alpha1.AnalysisPhase
		wantInMsg string
	}{
		"exit 0":  {job: v1alpha1.JobMetric{Command: sh("exit 0")}, want: 0, phase: v1alpha1.AnalysisSuccessful, wantInMsg: "exit status 0 after"},
		"exit 3":  {job: v1alpha1.JobMetric{Command: sh("exit 3")}, want: 3, phase: v1alpha1.AnalysisFailed, wantInMsg: "exit status 3 after"},
		"no args": {job: v1alpha1.JobMetric{Command: []string{"true"}}, want: 0, phase: v1alpha1.AnalysisSuccessful, wantInMsg: "; no output"},
		"output, both streams": {job: v1alpha1.JobMetric{Command: sh("echo 12 passed; echo 1 failed >&2; exit 1")}, want: 1, phase: v1alpha1.AnalysisFailed,
			wantInMsg: "output: 12 passed | 1 failed"},
		"environment": {job: v1alpha1.JobMetric{
			Command: sh(`test "$FLEDGE_ROLLOUT/$FLEDGE_CANARY_REVISION/$FLEDGE_STABLE_REVISION/$TARGET" = "web/2/1/canary" && test -n "$PATH"`),
			Env:     []v1alpha1.EnvVar{{Name: "TARGET", Value: "canary"}}}, want: 0, phase: v1alpha1.AnalysisSuccessful},
		"the metric's env wins": {job: v1alpha1.JobMetric{Command: sh(`exit "$FLEDGE_ROLLOUT"`), Env: []v1alpha1.EnvVar{{Name: "FLEDGE_ROLLOUT", Value: "7"}}},
			want: 7, phase: v1alpha1.AnalysisFailed},
		"a working directory": {job: v1alpha1.JobMetric{Command: []string{"./check.sh"}, WorkingDir: dir}, want: 0, phase: v1alpha1.AnalysisSuccessful,
			wantInMsg: "output: checked in " + dir},
		"killed by a signal": {job: v1alpha1.JobMetric{Command: sh("kill -KILL $$")}, want: 137, phase: v1alpha1.AnalysisFailed, wantInMsg: "killed by signal killed (status 137)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err, ms := measure(t, context.Background(), tc.job)
			if err != nil {
				t.Fatal(err)
			}
			if res.NoData || res.Value != tc.want {
				t.Fatalf("Measure = %+v, want %v", res, tc.want)
			}
			if ms.Phase != tc.phase || !strings.Contains(ms.Message, tc.wantInMsg) {
				t.Errorf("judged %s %q, want %s with %q", ms.Phase, ms.Message, tc.phase, tc.wantInMsg)
			}
		})
	}
}

// TestConditions checks that a metric may judge the status itself.
func TestConditions(t *testing.T) {
	j := v1alpha1.JobMetric{Command: sh("exit 3")}
	m := metric(j)
	m.SuccessCondition, m.FailureCondition = "", "result != 0 && result != 3" // 3: "flaky, ignore"
	p, _ := New(provider.Deps{})
	res, err := p.Measure(context.Background(), m, env)
	if ms := analysis.Judge(m, res, err, time.Now(), time.Now()); ms.Phase != v1alpha1.AnalysisSuccessful {
		t.Errorf("judged %s %q", ms.Phase, ms.Message)
	}
}

func TestOutputTail(t *testing.T) {
	res, err, _ := measure(t, context.Background(), v1alpha1.JobMetric{Command: []string{"seq", "1", "20000"}})
	if err != nil {
		t.Fatal(err)
	}
	// seq 1 20000 writes 108894 bytes.
	if !strings.Contains(res.Message, "output (the end of 108894 bytes): ...") || !strings.HasSuffix(res.Message, "19999 | 20000") {
		t.Errorf("message %q", res.Message)
	}
	if len(res.Message) > OutputTail+200 {
		t.Errorf("message of %d bytes", len(res.Message))
	}
}

// TestTimeout checks that a command outliving timeoutSeconds fails, and
// that its whole process group is gone afterwards.
func TestTimeout(t *testing.T) {
	tests := map[string]struct {
		script string
	}{
		"a command and its child":  {script: `sleep 60 & echo $! > "$PIDS"; echo started; sleep 60`},
		"one that ignores SIGTERM": {script: `trap '' TERM; sleep 60 & echo $! > "$PIDS"; echo started; wait`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pids := filepath.Join(t.TempDir(), "pids")
			start := time.Now()
			res, err, ms := measure(t, context.Background(), v1alpha1.JobMetric{
				Command: sh(tc.script), TimeoutSeconds: 1, Env: []v1alpha1.EnvVar{{Name: "PIDS", Value: pids}}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Value != float64(TimeoutStatus) || ms.Phase != v1alpha1.AnalysisFailed ||
				!strings.Contains(ms.Message, "timed out after 1s: killed its process group (status 124); output: started") {
				t.Errorf("Measure = %+v, judged %s", res, ms.Phase)
			}
			if took := time.Since(start); took > 1*time.Second+KillGrace+5*time.Second {
				t.Errorf("took %v", took)
			}
			assertGone(t, pids)
		})
	}
}

// TestLeftovers checks that a command exiting with children still running
// in its group ends the measurement at once, and the children are killed.
func TestLeftovers(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	start := time.Now()
	res, err, _ := measure(t, context.Background(), v1alpha1.JobMetric{
		Command: sh(`sleep 60 & echo $! > "$PIDS"; echo done`), Env: []v1alpha1.EnvVar{{Name: "PIDS", Value: pids}}})
	if err != nil || res.Value != 0.0 || !strings.Contains(res.Message, "output: done") {
		t.Fatalf("Measure = %+v, %v", res, err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("took %v: waited for the child", took)
	}
	assertGone(t, pids)
}

// TestMeasurementLimit checks that a command killed because the
// measurement's own limit ended is an error, not a failed test.
func TestMeasurementLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err, ms := measure(t, ctx, v1alpha1.JobMetric{Command: sh("echo waiting; sleep 60"), TimeoutSeconds: 120})
	if err == nil || !strings.Contains(err.Error(), "the measurement ended first (context deadline exceeded); output: waiting") {
		t.Fatalf("Measure = %+v, %v; want an error", res, err)
	}
	if ms.Phase != v1alpha1.AnalysisError {
		t.Errorf("judged %s, want Error", ms.Phase)
	}
}

func TestErrors(t *testing.T) {
	tests := map[string]struct {
		job  v1alpha1.JobMetric
		want string
	}{
		"no such program": {job: v1alpha1.JobMetric{Command: []string{"/nonexistent/smoke"}}, want: `job "/nonexistent/smoke": cannot start: fork/exec /nonexistent/smoke: no such file or directory`},
		"not in PATH":     {job: v1alpha1.JobMetric{Command: []string{"fledge-no-such-command"}}, want: `executable file not found in $PATH`},
		"no directory":    {job: v1alpha1.JobMetric{Command: []string{"true"}, WorkingDir: "/nonexistent"}, want: "cannot start"},
		"no command":      {job: v1alpha1.JobMetric{}, want: `metric "smoke" has no provider.job.command`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err, ms := measure(t, context.Background(), tc.job)
			if err == nil || !strings.Contains(err.Error(), tc.want) || ms.Phase != v1alpha1.AnalysisError {
				t.Errorf("Measure error %v (judged %s), want Error containing %q", err, ms.Phase, tc.want)
			}
		})
	}
}

// assertGone waits until the process whose pid the command wrote has
// exited (a zombie waiting for init counts as exited).
func assertGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the command did not record its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return // gone
		}
		// The state follows the command name in parentheses.
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
