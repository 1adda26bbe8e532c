package process

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// crashDaemonEnv makes the test binary act as a daemon (runCrashDaemon)
// that the test SIGKILLs, leaving its replica behind.
const crashDaemonEnv = "PROCESS_TEST_CRASH_DAEMON"

// runCrashDaemon starts one replica with a pid file, prints its address and
// pid once it is ready, and waits to be killed.
func runCrashDaemon() {
	ready := make(chan string, 1)
	g := NewGroup(GroupConfig{
		Rollout: "web", Revision: "r1",
		Template: v1alpha1.ProcessTemplate{
			Command:        []string{os.Getenv("APP")},
			ReadinessProbe: httpProbe("/ready", 1),
		},
		Dir:              os.TempDir(),
		StateDir:         os.Getenv("STATE"),
		TerminationGrace: time.Second,
		Hooks: Hooks{Endpoints: func(_ string, addrs []string) {
			if len(addrs) == 1 {
				ready <- addrs[0]
			}
		}},
	})
	g.Scale(1)
	addr := <-ready
	fmt.Printf("%s %d\n", addr, g.Status().Items[0].PID)
	select {}
}

func TestReapOrphansKillsTheReplicasOfAKilledDaemon(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	daemon := exec.Command(os.Args[0], "-test.run=^$")
	daemon.Env = append(os.Environ(), crashDaemonEnv+"=1", "APP="+appBin, "STATE="+state)
	out, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	daemon.Stderr = os.Stderr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
	}()
	var addr string
	var pid int
	select {
	case line := <-lines:
		if _, err := fmt.Sscanf(line, "%s %d", &addr, &pid); err != nil {
			t.Fatalf("daemon said %q: %v", line, err)
		}
	case <-time.After(await):
		t.Fatal("daemon did not start its replica")
	}

	if err := daemon.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	daemon.Wait()
	if e := env(t, addr); e.PID != pid {
		t.Fatalf("orphan at %s is pid %d, want %d", addr, e.PID, pid)
	}

	if err := ReapOrphans(state); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("orphan %d alive after ReapOrphans", pid)
	}
	if left, _ := os.ReadDir(state); len(left) != 0 {
		t.Errorf("state dir keeps %v", left)
	}
}

func TestReapOrphansSparesOtherProcesses(t *testing.T) {
	t.Parallel()
	tests := map[string]func(rec *pidRecord){
		"other command line": func(rec *pidRecord) { rec.Cmdline = "/usr/bin/app\x00-flag\x00" },
		"other start time":   func(rec *pidRecord) { rec.StartTime-- },
		"no identity":        func(rec *pidRecord) { rec.Cmdline, rec.StartTime = "", 0 },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			state := t.TempDir()
			sleeper := exec.Command("sleep", "100")
			sleeper.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := sleeper.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
			// The record of a replica whose pid the sleeper now has.
			if err := writePidFile(state, "web-r1-0", sleeper.Process.Pid, 1234); err != nil {
				t.Fatal(err)
			}
			var rec pidRecord
			b, _ := os.ReadFile(pidPath(state, "web-r1-0"))
			if err := json.Unmarshal(b, &rec); err != nil || !strings.Contains(rec.Cmdline, "sleep") || rec.StartTime == 0 {
				t.Fatalf("pid file %s: %v", b, err)
			}
			if !rec.matches() {
				t.Fatal("the record does not match its own process")
			}
			change(&rec)
			b, _ = json.Marshal(rec)
			if err := os.WriteFile(pidPath(state, "web-r1-0"), b, 0o644); err != nil {
				t.Fatal(err)
			}

			if err := ReapOrphans(state); err != nil {
				t.Fatal(err)
			}
			if err := sleeper.Process.Signal(syscall.Signal(0)); err != nil {
				t.Errorf("unrelated process killed: %v", err)
			}
			if _, err := os.Stat(pidPath(state, "web-r1-0")); !os.IsNotExist(err) {
				t.Errorf("stale pid file kept: %v", err)
			}
		})
	}
}

func TestReapOrphansLeavesForeignFiles(t *testing.T) {
	state := t.TempDir()
	for name, content := range map[string]string{"junk.pid": "not json", "notes.txt": "{}"} {
		if err := os.WriteFile(state+"/"+name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := ReapOrphans(state); err == nil || !strings.Contains(err.Error(), "junk.pid") {
		t.Errorf("ReapOrphans = %v, want an error naming junk.pid", err)
	}
	if left, _ := os.ReadDir(state); len(left) != 2 {
		t.Errorf("state dir = %v, want both files kept", left)
	}
	if err := ReapOrphans(state + "/missing"); err != nil {
		t.Errorf("missing state dir: %v", err)
	}
}
