package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner/store"
	"fledge.dev/fledge/internal/server"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// fakeDaemon serves the real API over a fake control on loopback and
// writes the state dir files a real daemon writes, so that commands find
// it the way they find a real one.
func fakeDaemon(t *testing.T) (*fakeControl, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	tok, err := server.EnsureToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctl := newFake()
	srv := server.New(server.Config{Addr: "127.0.0.1:0", Token: tok, Control: ctl, NotFound: func(err error) bool { return errors.Is(err, errNotFound) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	if err := server.WriteInfo(dir, server.Info{Address: srv.Addr(), PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	return ctl, dir
}

// fledge runs the command line in-process and returns its output and exit code.
func fledge(t *testing.T, stateDir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRoot(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	root.SetArgs(append([]string{"--state-dir", stateDir}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = Execute(ctx, root)
	return out.String(), errOut.String(), code
}

var now = time.Now()

func ago(d time.Duration) *metav1.Time {
	t := metav1.NewTime(now.Add(-d))
	return &t
}

// web is a canary rollout at step 3 of 7 (a 30s pause, 12s in).
func web() *v1alpha1.Rollout {
	w := func(n int32) *int32 { return &n }
	return &v1alpha1.Rollout{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.KindRollout},
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: *ago(time.Hour), Annotations: map[string]string{"fledge.dev/revision": "2"}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: w(2),
			Template: &v1alpha1.ProcessTemplate{Command: []string{"./app", "v2"}},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetWeight: w(5)},
				{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "success-rate"}}}},
				{SetWeight: w(50)},
				{Pause: &v1alpha1.RolloutPause{Duration: v1alpha1.Seconds(30)}},
				{SetWeight: w(80)},
				{Pause: &v1alpha1.RolloutPause{}},
				{SetWeight: w(100)},
			}}},
		},
		Status: v1alpha1.RolloutStatus{
			Phase: v1alpha1.PhasePaused, Message: "pausing 30s at step 4", StableRevision: "1", CanaryRevision: "2",
			CurrentStepIndex: 3, CanaryWeight: 50, StepStartedAt: ago(12 * time.Second),
			Replicas: 4, ReadyReplicas: 4, UpdatedReplicas: 2, UpdatedReadyReplicas: 2,
			PauseConditions:       []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseCanaryStep, StartTime: *ago(12 * time.Second)}},
			StepAnalysisRun:       &v1alpha1.RunRef{Name: "web-2-step-1", Phase: v1alpha1.AnalysisSuccessful},
			BackgroundAnalysisRun: &v1alpha1.RunRef{Name: "web-2-background", Phase: v1alpha1.AnalysisRunning},
		},
	}
}

func run(name string, phase v1alpha1.AnalysisPhase) *v1alpha1.AnalysisRun {
	return &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: v1alpha1.AnalysisRunStatus{Phase: phase, StartedAt: ago(time.Minute)}}
}

const validSpec = `apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  template:
    command: ["./app", "v2"]
  strategy:
    canary:
      trafficRouting:
        proxy: {listen: "127.0.0.1:8080"}
      steps:
      - setWeight: 20
      - pause: {}
`

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every verb reaches the daemon with its arguments and says what it did.
func TestEveryVerbReachesControl(t *testing.T) {
	ctl, dir := fakeDaemon(t)
	ro := web()
	ro.Status.Abort = true
	ctl.add(ro)
	spec := writeFile(t, "web.yaml", validSpec)
	cases := []struct {
		args []string
		call string
		out  string
	}{
		{[]string{"promote", "web"}, "promote web", "rollout.fledge.dev/web promoted\n"},
		{[]string{"promote", "web", "--full"}, "promote-full web", "rollout.fledge.dev/web fully promoted (remaining steps and analyses skipped)\n"},
		{[]string{"abort", "web"}, "abort web", "rollout.fledge.dev/web aborted\n"},
		{[]string{"retry", "web"}, "retry web", "rollout.fledge.dev/web retried\n"},
		{[]string{"pause", "web"}, "pause web", "rollout.fledge.dev/web paused\n"},
		{[]string{"resume", "web"}, "resume web", "rollout.fledge.dev/web resumed\n"},
		{[]string{"undo", "web"}, `undo web to=""`, "rollout.fledge.dev/web rolled back to revision 1\n"},
		{[]string{"undo", "web", "--to-revision", "3"}, `undo web to="3"`, "rollout.fledge.dev/web rolled back to revision 3\n"},
		{[]string{"history", "web"}, "history web", ""},
		{[]string{"apply", "-f", spec}, "apply web dir=" + filepath.Dir(spec), "rollout.fledge.dev/web configured\n"},
		{[]string{"delete", "web"}, "delete web", "rollout.fledge.dev/web deleted\n"},
		{[]string{"apply", "-f", spec}, "apply web dir=" + filepath.Dir(spec), "rollout.fledge.dev/web created\n"},
	}
	for _, c := range cases {
		before := len(ctl.Calls())
		out, errOut, code := fledge(t, dir, c.args...)
		if code != 0 {
			t.Errorf("fledge %s: exit %d: %s", strings.Join(c.args, " "), code, errOut)
			continue
		}
		calls := ctl.Calls()[before:]
		if !slices.Contains(calls, c.call) {
			t.Errorf("fledge %s: calls %q, want %q", strings.Join(c.args, " "), calls, c.call)
		}
		if c.out != "" && out != c.out {
			t.Errorf("fledge %s printed %q, want %q", strings.Join(c.args, " "), out, c.out)
		}
	}
}

func TestCommandErrorsExitNonZero(t *testing.T) {
	ctl, dir := fakeDaemon(t)
	ctl.add(web())
	cases := map[string]struct {
		args []string
		want string
	}{
		"refused":   {[]string{"retry", "web"}, "error: cannot retry web: nothing to retry: the rollout is not aborted\n"},
		"not found": {[]string{"status", "nope"}, "error: rollout \"nope\" not found\n"},
		"promote":   {[]string{"promote", "nope"}, "error: cannot promote nope: rollout \"nope\" not found\n"},
		"history":   {[]string{"history", "nope"}, "error: rollout \"nope\" not found\n"},
		"delete":    {[]string{"delete", "nope"}, "error: cannot delete nope: rollout \"nope\" not found\n"},
		"no name":   {[]string{"abort"}, "error: accepts 1 arg(s), received 0\n"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := fledge(t, dir, c.args...)
			if code == 0 || errOut != c.want || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want non-zero and %q", code, out, errOut, c.want)
			}
		})
	}
}

func TestApplyInvalidSendsNothing(t *testing.T) {
	ctl, dir := fakeDaemon(t)
	bad := strings.Join([]string{
		"apiVersion: fledge.dev/v1alpha1", "kind: Rollout", "metadata: {name: Web_Shop}", "spec:",
		"  replicas: -1", "  template: {command: []}", "  strategy: {canary: {steps: [{setWeight: 150}]}}", "",
	}, "\n")
	file := writeFile(t, "bad.yaml", bad)
	_, want := v1alpha1.Load([]byte(bad))
	msgs := strings.Split(want.Error(), "\n")
	if len(msgs) < 3 {
		t.Fatalf("test setup: want several mistakes, Load gave %q", msgs)
	}
	for _, stateDir := range map[string]string{"daemon running": dir, "no daemon": t.TempDir()} {
		out, errOut, code := fledge(t, stateDir, "apply", "-f", file)
		if code == 0 || out != "" {
			t.Errorf("exit %d, stdout %q", code, out)
		}
		for _, m := range msgs {
			if !strings.Contains(errOut, m) {
				t.Errorf("stderr lacks %q:\n%s", m, errOut)
			}
		}
	}
	if calls := ctl.Calls(); len(calls) != 0 {
		t.Errorf("an invalid file reached the daemon: %v", calls)
	}
}

func TestRunInvalidStartsNothing(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	file := writeFile(t, "bad.yaml", "apiVersion: fledge.dev/v1alpha1\nkind: Rollout\nmetadata: {name: web}\nspec: {replicas: -1}\n")
	_, errOut, code := fledge(t, stateDir, "run", "-f", file, "--admin-addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "spec.replicas") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("run with an invalid file touched the state dir: %v", err)
	}
}

func TestNoDaemon(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := fledge(t, dir, "status", "web")
	want := "error: no fledge daemon is running for state dir " + dir + ": start one with `fledge serve` or `fledge run -f FILE`\n"
	if code == 0 || errOut != want {
		t.Errorf("exit %d, stderr %q, want %q", code, errOut, want)
	}
}

func TestWrongToken(t *testing.T) {
	ctl, dir := fakeDaemon(t)
	ctl.add(web())
	if err := os.WriteFile(filepath.Join(dir, server.TokenFile), []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := fledge(t, dir, "promote", "web")
	if code == 0 || !strings.Contains(errOut, "missing or wrong token") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if calls := ctl.Calls(); len(calls) != 0 {
		t.Errorf("a wrong token reached the daemon: %v", calls)
	}
}

func TestStatusJSON(t *testing.T) {
	ctl, dir := fakeDaemon(t)
	ctl.add(web())
	ctl.runs["web"] = []*v1alpha1.AnalysisRun{run("web-2-step-1", v1alpha1.AnalysisSuccessful), run("web-2-background", v1alpha1.AnalysisRunning)}
	out, errOut, code := fledge(t, dir, "status", "web", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	want := map[string]any{
		"name": "web", "phase": "Paused", "currentStepIndex": 3.0, "steps": 7.0, "canaryWeight": 50.0,
		"stableRevision": "1", "canaryRevision": "2", "message": "pausing 30s at step 4", "abort": false, "strategy": "canary",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if pcs, ok := got["pauseConditions"].([]any); !ok || len(pcs) != 1 {
		t.Errorf("pauseConditions = %v", got["pauseConditions"])
	}
	runs, _ := got["analysisRuns"].([]any)
	if len(runs) != 2 || runs[0].(map[string]any)["phase"] == nil {
		t.Errorf("analysisRuns = %v", got["analysisRuns"])
	}

	out, _, code = fledge(t, dir, "status", "web", "-o", "yaml")
	var fromYAML summary
	if err := yaml.Unmarshal([]byte(out), &fromYAML); code != 0 || err != nil || fromYAML.Phase != "Paused" || fromYAML.CanaryWeight != 50 {
		t.Errorf("-o yaml: exit %d, %v:\n%s", code, err, out)
	}
}

func TestStatusHuman(t *testing.T) {
	ctl, dir := fakeDaemon(t)
	ctl.add(web())
	ctl.runs["web"] = []*v1alpha1.AnalysisRun{run("web-2-background", v1alpha1.AnalysisRunning)}
	ctl.events["web"] = []store.Event{{Time: now.Add(-20 * time.Second), Type: "Normal", Reason: "WeightChanged", Message: "canary weight 5% -> 50%"}}
	out, errOut, code := fledge(t, dir, "status", "web")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Phase:       Paused\n", // no color: not a terminal
		"Weight:      50% canary, 50% stable",
		"Revisions:   stable 1, canary 2",
		"2 desired, 4 running, 4 ready (new revision: 2, 2 ready)",
		"web-2-background", "background", "Running",
		"WeightChanged", "canary weight 5% -> 50%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	// The start time travels with second precision: 17 or 18 seconds left.
	if !regexp.MustCompile(`Step: +\[■■■□□□□\] 3/7  pause: 30s \(1[78]s left\)\n`).MatchString(out) {
		t.Errorf("status lacks the step line:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("color codes written to a non-terminal:\n%q", out)
	}
}

func TestStatusWatch(t *testing.T) {
	cases := map[string]struct {
		final v1alpha1.RolloutStatus
		code  int
	}{
		"healthy":  {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "2", CurrentStepIndex: 7, CanaryWeight: 0}, 0},
		"degraded": {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseDegraded, StableRevision: "1", CanaryRevision: "2", Abort: true, Message: "analysis failed"}, 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ctl, dir := fakeDaemon(t)
			ro := web()
			ctl.add(ro)
			// Healthy at the old revision first: the daemon has not yet
			// seen the apply; that must not end the watch.
			stale := v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "1"}
			ctl.scripts["web"] = []v1alpha1.RolloutStatus{stale, ro.Status, ro.Status, c.final}
			out, errOut, code := fledge(t, dir, "status", "web", "--watch")
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 {
				t.Errorf("want a line per change (3), got:\n%s", out)
			}
			if !strings.Contains(lines[len(lines)-1], string(c.final.Phase)) {
				t.Errorf("last line %q", lines[len(lines)-1])
			}
			if c.code != 0 && !strings.Contains(errOut, "Degraded: analysis failed") {
				t.Errorf("stderr %q", errOut)
			}
		})
	}
}

func TestHistoryTable(t *testing.T) {
	ctl, dir := fakeDaemon(t)
	ctl.add(web())
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.Local)
	ctl.history["web"] = []store.Revision{
		{ID: "1", CreatedAt: t0, Template: v1alpha1.ProcessTemplate{Command: []string{"./app", "v1"}}},
		{ID: "2", CreatedAt: t0.Add(time.Hour), Template: v1alpha1.ProcessTemplate{Command: []string{"./app", "v2"}}},
		{ID: "3", CreatedAt: t0.Add(2 * time.Hour), Template: v1alpha1.ProcessTemplate{Command: []string{"./app", strings.Repeat("x", 80)}}},
	}
	out, errOut, code := fledge(t, dir, "history", "web")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, strings.Join(strings.Fields(l), " "))
	}
	want := []string{
		"REVISION CREATED COMMAND STATUS",
		"1 2025-03-04 05:06:07 ./app v1 stable",
		"2 2025-03-04 06:06:07 ./app v2 canary",
		"3 2025-03-04 07:06:07 ./app " + strings.Repeat("x", 53) + "… -",
	}
	if !slices.Equal(rows, want) {
		t.Errorf("history:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}
