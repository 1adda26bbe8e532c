package cluster

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// The kubectl plugin: the binary TestMain built, run under the name
// kubectl-fledge (a link to it), as kubectl runs it.

var (
	pluginOnce sync.Once
	pluginDir  string
)

// plugin is the path of kubectl-fledge, a link to the fledge binary.
func plugin(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		pluginDir = filepath.Join(filepath.Dir(binary), "plugins")
		if err := os.MkdirAll(pluginDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(binary, filepath.Join(pluginDir, "kubectl-fledge")); err != nil {
			t.Fatal(err)
		}
	})
	return filepath.Join(pluginDir, "kubectl-fledge")
}

// kubectlFledge runs `kubectl-fledge --kubeconfig K -n NS ARGS...` and
// returns its output and exit code.
func kubectlFledge(t *testing.T, ns string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugin(t), append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...)
	return runProc(t, cmd)
}

func runProc(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	t.Logf("%s: exit %d\n%s%s", strings.Join(cmd.Args[1:], " "), code, out.String(), errOut.String())
	return out.String(), errOut.String(), code
}

// mustRun runs kubectl-fledge and fails the test unless it succeeds and
// prints want.
func mustRun(t *testing.T, ns, want string, args ...string) string {
	t.Helper()
	out, errOut, code := kubectlFledge(t, ns, args...)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("kubectl fledge %s: exit %d, want %q in the output:\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

// TestKubectlGetStatus lists and shows a rollout, through the plugin and
// through kubectl itself when it is installed; a missing rollout is an
// error that names it.
func TestKubectlGetStatus(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 20
        - pause: {}
`)
	stable := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision

	out := mustRun(t, ns, "NAME", "get", "rollouts")
	if row := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1]); len(row) < 7 || row[0] != "web" || row[2] != "Healthy" || row[5] != stable {
		t.Fatalf("get rollouts row: %v", row)
	}
	out = mustRun(t, ns, "Healthy", "status", "web")
	for _, want := range []string{"Step:", "/2", "Revisions:   stable " + stable, "Conditions:", "Available     True", "InitialRevision"} {
		if !strings.Contains(out, want) {
			t.Errorf("status web: no %q in\n%s", want, out)
		}
	}

	_, errOut, code := kubectlFledge(t, ns, "status", "nothere")
	if code == 0 || !strings.Contains(errOut, "rollout.fledge.dev/nothere not found in namespace "+ns) {
		t.Fatalf("status of a missing rollout: exit %d, stderr %q", code, errOut)
	}

	// `fledge kube` is the same command.
	kube := exec.Command(binary, "kube", "--kubeconfig", kubeconfig, "-n", ns, "get", "rollouts")
	if out, _, code := runProc(t, kube); code != 0 || !strings.Contains(out, "web") {
		t.Fatalf("fledge kube get rollouts: exit %d\n%s", code, out)
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("no kubectl on PATH: `kubectl fledge` itself is not tried")
		return
	}
	cmd := exec.Command(kubectl, "fledge", "--kubeconfig", kubeconfig, "-n", ns, "get", "rollouts")
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(plugin(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, _, code := runProc(t, cmd); code != 0 || !strings.Contains(out, "web") {
		t.Fatalf("kubectl fledge get rollouts: exit %d\n%s", code, out)
	}
}

// TestKubectlCommands starts a release with set image, promotes it a step,
// aborts it, sees a command the rollout cannot take rejected with the
// controller's reason, retries and promotes it fully.
func TestKubectlCommands(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 20
        - pause: {}
        - setWeight: 50
        - pause: {}
`)
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision

	mustRun(t, ns, "image updated", "set", "image", "web", "web=hashicorp/http-echo:1.1")
	canary := waitStatus(t, ns, "web", "paused at 20%", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 20
	}).CanaryRevision
	if canary == first {
		t.Fatal("set image did not make a new revision")
	}

	mustRun(t, ns, "rollout.fledge.dev/web promoted", "promote", "web")
	waitStatus(t, ns, "web", "paused at 50%", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 50
	})

	mustRun(t, ns, "rollout.fledge.dev/web aborted", "abort", "web")
	if st := rolloutOf(t, ns, "web").Status; !st.Abort {
		t.Fatalf("after abort: %+v", st)
	}
	_, errOut, code := kubectlFledge(t, ns, "abort", "web")
	if code == 0 || !strings.Contains(errOut, "cannot abort web: the rollout of revision "+canary+" is aborted") {
		t.Fatalf("abort of an aborted rollout: exit %d, stderr %q", code, errOut)
	}

	mustRun(t, ns, "rollout.fledge.dev/web retried", "retry", "web")
	mustRun(t, ns, "fully promoted", "promote", "web", "--full")
	waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision == canary
	})
	_, errOut, code = kubectlFledge(t, ns, "promote", "web")
	if code == 0 || !strings.Contains(errOut, "cannot promote web: no rollout is in progress") {
		t.Fatalf("promote of a healthy rollout: exit %d, stderr %q", code, errOut)
	}
}

// TestKubectlStatusWatchUndo follows a release with status -w into a pipe:
// plain lines, until the rollout is Healthy on the new revision; then undo
// releases the first revision again.
func TestKubectlStatusWatchUndo(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 20
        - pause: {duration: 2s}
`)
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	setText(t, ns, "web", "v2")

	start := time.Now()
	out, errOut, code := kubectlFledge(t, ns, "status", "web", "-w")
	if code != 0 {
		t.Fatalf("status -w: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "\x1b") {
		t.Fatalf("status -w into a pipe wrote terminal escapes:\n%q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if len(lines) < 2 || !strings.Contains(out, "weight 20%") || !strings.Contains(last, "web Healthy") {
		t.Fatalf("status -w lines, want the 20%% step then Healthy last:\n%s", out)
	}
	st := rolloutOf(t, ns, "web").Status
	if st.Phase != v1alpha1.PhaseHealthy || st.CanaryRevision != "" || st.StableRevision == first {
		t.Fatalf("status -w returned after %s on %+v", time.Since(start), st)
	}
	second := st.StableRevision

	out = mustRun(t, ns, second, "history", "web")
	if !strings.Contains(out, first) {
		t.Fatalf("history lacks the first revision %s:\n%s", first, out)
	}
	mustRun(t, ns, "set back to revision "+first, "undo", "web")
	waitStatus(t, ns, "web", "undone to the first revision", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision == first
	})
	if _, errOut, code := kubectlFledge(t, ns, "undo", "web", "--to-revision", "0000000000"); code == 0 || !strings.Contains(errOut, "no such revision") {
		t.Fatalf("undo to an unknown revision: exit %d, stderr %q", code, errOut)
	}
}
