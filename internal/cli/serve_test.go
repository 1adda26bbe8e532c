package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/internal/server"
)

// daemonProc is `fledge serve` running in-process.
type daemonProc struct {
	cancel context.CancelFunc
	done   chan int
	code   *int // once stopped
	mu     sync.Mutex
	errOut bytes.Buffer
}

func (d *daemonProc) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.errOut.Write(p)
}

func (d *daemonProc) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.errOut.String()
}

// stop interrupts the daemon as SIGINT would and returns its exit code.
func (d *daemonProc) stop(t *testing.T) int {
	t.Helper()
	if d.code != nil {
		return *d.code
	}
	d.cancel()
	select {
	case code := <-d.done:
		d.code = &code
		return code
	case <-time.After(time.Minute):
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Fatalf("serve did not stop within a minute:\n%s", d.logs())
		return -1
	}
}

// serve starts `fledge serve` on a free loopback port and waits until it
// has written daemon.json.
func serve(t *testing.T, stateDir string) *daemonProc {
	return startDaemon(t, stateDir, "serve", "--admin-addr", "127.0.0.1:0")
}

// startDaemon runs `fledge ARGS` in-process until it has written daemon.json.
func startDaemon(t *testing.T, stateDir string, args ...string) *daemonProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemonProc{cancel: cancel, done: make(chan int, 1)}
	root := NewRoot(IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: d})
	root.SetArgs(append([]string{"--state-dir", stateDir, "--log-level", "debug"}, args...))
	go func() { d.done <- Execute(ctx, root) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := server.ReadInfo(stateDir); err == nil {
			break
		}
		select {
		case code := <-d.done:
			t.Fatalf("serve exited %d before listening:\n%s", code, d.logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no daemon.json within 30s:\n%s", d.logs())
		}
	}
	t.Cleanup(func() { d.stop(t) })
	return d
}

// freePort returns a loopback port free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s; last: %s", what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The real daemon behind the real API: serve, apply, status, history,
// metrics, a second daemon refused, a clean stop, and a restart that
// resumes what the state dir holds.
func TestServeApplyStatusRestart(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	stateDir := filepath.Join(t.TempDir(), "state")
	d := serve(t, stateDir)

	for path, want := range map[string]os.FileMode{stateDir: 0o700, filepath.Join(stateDir, "token"): 0o600, filepath.Join(stateDir, "state.db"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
		}
	}

	_, errOut, code := fledge(t, stateDir, "serve", "--admin-addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "state dir in use by another fledge daemon") {
		t.Errorf("a second daemon on the state dir: exit %d, %q", code, errOut)
	}

	spec := writeFile(t, "web.yaml", fmt.Sprintf(`apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 2
  terminationGracePeriodSeconds: 5
  template: {command: [%q, "600"]}
  strategy:
    canary:
      trafficRouting: {proxy: {listen: "127.0.0.1:%d"}}
      steps: [{setWeight: 50}, {pause: {}}]
`, sleep, freePort(t)))
	out, errOut, code := fledge(t, stateDir, "apply", "-f", spec)
	if code != 0 || out != "rollout.fledge.dev/web created\n" {
		t.Fatalf("apply: exit %d, %q %q\n%s", code, out, errOut, d.logs())
	}
	var st summary
	eventually(t, "web Healthy at revision 1", func() (bool, string) {
		out, errOut, _ := fledge(t, stateDir, "status", "web", "-o", "json")
		st = summary{}
		json.Unmarshal([]byte(out), &st)
		return st.Phase == "Healthy" && st.StableRevision == "1" && st.Replicas.Ready == 2, out + errOut
	})
	out, _, code = fledge(t, stateDir, "history", "web")
	if code != 0 || !strings.Contains(strings.Join(strings.Fields(out), " "), sleep+" 600 stable") {
		t.Errorf("history: exit %d\n%s", code, out)
	}
	out, _, _ = fledge(t, stateDir, "get", "ro")
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "web canary Healthy 2/2 0% 1 -") {
		t.Errorf("get ro:\n%s", out)
	}

	info, _ := server.ReadInfo(stateDir)
	resp, err := http.Get("http://" + info.Address + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `fledge_rollout_phase{rollout="web",phase="Healthy"} 1`+"\n") {
		t.Errorf("/metrics:\n%s", body)
	}

	if code := d.stop(t); code != 0 {
		t.Errorf("serve exited %d after an interrupt:\n%s", code, d.logs())
	}
	if _, err := os.Stat(filepath.Join(stateDir, "daemon.json")); !os.IsNotExist(err) {
		t.Errorf("daemon.json left behind after a clean exit: %v", err)
	}
	_, errOut, _ = fledge(t, stateDir, "status", "web")
	if !strings.Contains(errOut, "no fledge daemon is running") {
		t.Errorf("status with the daemon stopped: %q", errOut)
	}

	serve(t, stateDir)
	eventually(t, "web resumed Healthy", func() (bool, string) {
		out, errOut, _ := fledge(t, stateDir, "status", "web", "-o", "json")
		st = summary{}
		json.Unmarshal([]byte(out), &st)
		return st.Phase == "Healthy" && st.StableRevision == "1" && st.Replicas.Ready == 2, out + errOut
	})
}

func TestServeRefusesNonLoopback(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	_, errOut, code := fledge(t, stateDir, "serve", "--admin-addr", "0.0.0.0:9470")
	if code == 0 || !strings.Contains(errOut, "loopback only") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

func sleepSpec(t *testing.T, listen string) string {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	return writeFile(t, "web.yaml", fmt.Sprintf(`apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  template: {command: [%q, "600"]}
  strategy:
    canary:
      trafficRouting: {proxy: {listen: %q}}
      steps: [{setWeight: 50}]
`, sleep, listen))
}

func TestRunAppliesFile(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	spec := sleepSpec(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	d := startDaemon(t, stateDir, "run", "-f", spec, "--admin-addr", "127.0.0.1:0")
	eventually(t, "web Healthy", func() (bool, string) {
		out, errOut, _ := fledge(t, stateDir, "get", "ro")
		return strings.Contains(out, "Healthy"), out + errOut
	})
	if code := d.stop(t); code != 0 {
		t.Errorf("run exited %d:\n%s", code, d.logs())
	}
}

// A file the daemon itself refuses (its address is taken) stops `run`
// with the reason.
func TestRunFailsWhenApplyFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	spec := sleepSpec(t, busy.Addr().String())
	_, errOut, code := fledge(t, filepath.Join(t.TempDir(), "state"), "run", "-f", spec, "--admin-addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "address in use") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestServeFailsOnBusyAdminAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	stateDir := filepath.Join(t.TempDir(), "state")
	_, errOut, code := fledge(t, stateDir, "serve", "--admin-addr", busy.Addr().String())
	if code == 0 || !strings.Contains(errOut, "error: admin API: listen on "+busy.Addr().String()) {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
	if _, err := server.ReadInfo(stateDir); err == nil {
		t.Error("daemon.json written by a daemon that did not start")
	}
}
