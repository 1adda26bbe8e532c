package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fledgeBin is the binary under test, built once by TestMain.
var fledgeBin string

// waitTimeout bounds every wait on a condition: generous, so that a loaded
// two-core machine makes a test slower rather than failing it.
const waitTimeout = 60 * time.Second

func TestMain(m *testing.M) { os.Exit(buildAndRun(m)) }

func buildAndRun(m *testing.M) int {
	// The module root is two levels up from this file (from the working
	// directory, which go test sets to the package's, when built with
	// -trimpath).
	_, file, _, _ := runtime.Caller(0)
	if !filepath.IsAbs(file) {
		file, _ = filepath.Abs("helpers_test.go")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	tmp, err := os.MkdirTemp("", "fledge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	fledgeBin = filepath.Join(tmp, "fledge")
	build := exec.Command(goTool, "build", "-o", fledgeBin, "./cmd/fledge")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build fledge: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// harness is one test's Fledge: a state dir, the spec files it writes and
// the daemon subprocess it runs.
type harness struct {
	t      *testing.T
	dir    string // spec files
	state  string // --state-dir
	daemon *daemon
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	base := t.TempDir()
	h := &harness{t: t, dir: filepath.Join(base, "specs"), state: filepath.Join(base, "state")}
	if err := os.MkdirAll(h.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.cleanup)
	return h
}

// daemon is a `fledge run` or `fledge serve` subprocess.
type daemon struct {
	cmd  *exec.Cmd
	log  string // its standard error: the daemon's log
	done chan struct{}
	err  error // once done is closed
}

// start runs the daemon (`run -f FILE` or `serve`) on the harness's state
// dir and waits until its API answers for it.
func (h *harness) start(args ...string) *daemon {
	h.t.Helper()
	n := 0
	for {
		if _, err := os.Stat(filepath.Join(h.dir, fmt.Sprintf("daemon-%d.log", n))); err != nil {
			break
		}
		n++
	}
	logPath := filepath.Join(h.dir, fmt.Sprintf("daemon-%d.log", n))
	logf, err := os.Create(logPath)
	if err != nil {
		h.t.Fatal(err)
	}
	args = append(args, "--state-dir", h.state, "--admin-addr", "127.0.0.1:0", "--log-level", "debug")
	cmd := exec.Command(fledgeBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("start fledge %v: %v", args, err)
	}
	d := &daemon{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	h.daemon = d
	h.poll("the daemon to answer", func() (bool, string) {
		select {
		case <-d.done:
			h.t.Fatalf("fledge %v exited: %v\n%s", args, d.err, tail(d.log))
		default:
		}
		var info struct{ PID int }
		b, err := os.ReadFile(filepath.Join(h.state, "daemon.json"))
		if err == nil && json.Unmarshal(b, &info) == nil && info.PID == cmd.Process.Pid {
			return true, ""
		}
		return false, fmt.Sprintf("daemon.json: %s %v", b, err)
	})
	return d
}

// kill sends SIGKILL to the daemon and waits for it to be gone.
func (h *harness) kill() {
	h.t.Helper()
	d := h.daemon
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		h.t.Fatalf("kill the daemon: %v", err)
	}
	<-d.done
}

// stop ends the daemon with SIGTERM (replicas get their grace period).
func (h *harness) stop() error {
	d := h.daemon
	if d == nil {
		return nil
	}
	select {
	case <-d.done:
		return nil
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(waitTimeout):
		_ = d.cmd.Process.Kill()
		<-d.done
		return errors.New("the daemon did not stop within its deadline after SIGTERM")
	}
}

// cleanup stops the daemon and checks that it left no replica running;
// one it left is killed (by its recorded pid) and reported.
func (h *harness) cleanup() {
	if err := h.stop(); err != nil {
		h.t.Error(err)
	}
	for name, r := range h.replicas("") {
		if r.alive() {
			h.t.Errorf("replica %s (pid %d) still runs after the daemon stopped", name, r.PID)
			_ = syscall.Kill(-r.PID, syscall.SIGKILL)
		}
	}
	if h.t.Failed() && h.daemon != nil {
		h.t.Logf("daemon log (last lines):\n%s", tail(h.daemon.log))
	}
}

// fledge runs the CLI against the harness's daemon.
func (h *harness) fledge(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fledgeBin, append(args, "--state-dir", h.state)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// must runs the CLI and fails the test if it fails.
func (h *harness) must(args ...string) string {
	h.t.Helper()
	out, errOut, err := h.fledge(args...)
	if err != nil {
		h.t.Fatalf("fledge %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// status is what `fledge status NAME -o json` prints, the fields the tests read.
type status struct {
	Phase            string `json:"phase"`
	Message          string `json:"message"`
	CurrentStepIndex int32  `json:"currentStepIndex"`
	Steps            int    `json:"steps"`
	CanaryWeight     int32  `json:"canaryWeight"`
	StableRevision   string `json:"stableRevision"`
	CanaryRevision   string `json:"canaryRevision"`
	DesiredRevision  string `json:"desiredRevision"`
	Abort            bool   `json:"abort"`
	PauseConditions  []struct {
		Reason string `json:"reason"`
	} `json:"pauseConditions"`
	Replicas struct {
		Desired, Running, Ready, Updated, UpdatedReady int32
	} `json:"replicas"`
	AnalysisRuns []struct {
		Name, Phase string
	} `json:"analysisRuns"`
}

// run returns the phase of the analysis run whose name holds part.
func (s status) run(part string) string {
	for _, r := range s.AnalysisRuns {
		if strings.Contains(r.Name, part) {
			return r.Phase
		}
	}
	return "none"
}

func (s status) pausedFor(reason string) bool {
	for _, c := range s.PauseConditions {
		if c.Reason == reason {
			return true
		}
	}
	return false
}

func (h *harness) status(name string) (status, string, error) {
	out, errOut, err := h.fledge("status", name, "-o", "json")
	if err != nil {
		return status{}, out + errOut, fmt.Errorf("fledge status: %w: %s", err, errOut)
	}
	var s status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return status{}, out, fmt.Errorf("fledge status -o json: %w", err)
	}
	return s, out, nil
}

// waitFor polls the rollout's status until cond holds and returns it.
func (h *harness) waitFor(name, what string, cond func(status) bool) status {
	h.t.Helper()
	var s status
	h.poll(what, func() (bool, string) {
		var raw string
		var err error
		s, raw, err = h.status(name)
		if err != nil {
			return false, err.Error()
		}
		return cond(s), raw
	})
	return s
}

// poll calls check until it says done, or fails the test with its last
// word at the deadline.
func (h *harness) poll(what string, check func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		done, last := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %s waiting for %s; last seen:\n%s", waitTimeout, what, last)
		}
		time.Sleep(200 * time.Millisecond) // the polling period, not a synchronisation
	}
}

// writeSpec writes a spec file and returns its path.
func (h *harness) writeSpec(file, content string) string {
	h.t.Helper()
	path := filepath.Join(h.dir, file)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// replica is a replica's pid file, as the daemon wrote it.
type replica struct {
	PID       int    `json:"pid"`
	Port      int    `json:"port"`
	StartTime uint64 `json:"startTime"`
}

// replicas lists the replicas recorded in the state dir whose name
// (ROLLOUT-REVISION-N) starts with prefix.
func (h *harness) replicas(prefix string) map[string]replica {
	out := map[string]replica{}
	files, _ := filepath.Glob(filepath.Join(h.state, "pids", prefix+"*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		var r replica
		if err != nil || json.Unmarshal(b, &r) != nil || r.PID <= 1 {
			continue // being written or removed
		}
		out[strings.TrimSuffix(filepath.Base(f), ".pid")] = r
	}
	return out
}

// alive says whether the recorded process still runs: same pid and start
// time (not a recycled pid), not a zombie.
func (r replica) alive() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.PID))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	return r.StartTime == 0 || f[19] == fmt.Sprint(r.StartTime)
}

// waitGone waits until none of the replicas runs.
func (h *harness) waitGone(what string, rs map[string]replica) {
	h.t.Helper()
	h.poll(what, func() (bool, string) {
		var left []string
		for name, r := range rs {
			if r.alive() {
				left = append(left, fmt.Sprintf("%s (pid %d)", name, r.PID))
			}
		}
		return len(left) == 0, "still running: " + strings.Join(left, ", ")
	})
}

// tail returns the last lines of a file.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}
