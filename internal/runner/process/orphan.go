package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pidRecord is what a pid file holds: enough to find a replica's process
// group after the daemon died, and to tell it from a later process that
// was given the same pid.
type pidRecord struct {
	PID     int    `json:"pid"`
	Port    int    `json:"port"`
	Replica string `json:"replica"`
	// Cmdline is /proc/<pid>/cmdline as read just after the start.
	Cmdline string `json:"cmdline"`
	// StartTime is field 22 of /proc/<pid>/stat (clock ticks after boot).
	StartTime uint64 `json:"startTime"`
}

const pidSuffix = ".pid"

// reapGrace is how long ReapOrphans waits after SIGTERM before SIGKILL.
var reapGrace = 3 * time.Second

func pidPath(dir, replica string) string { return filepath.Join(dir, replica+pidSuffix) }

// writePidFile records a started process. Without /proc the identity
// fields stay empty and ReapOrphans will leave the process alone.
func writePidFile(dir, replica string, pid, port int) error {
	rec := pidRecord{PID: pid, Port: port, Replica: replica, Cmdline: readCmdline(pid)}
	rec.StartTime, _ = procStartTime(pid)
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("pid file of %s: %w", replica, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pid directory: %w", err)
	}
	tmp := pidPath(dir, replica) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("pid file of %s: %w", replica, err)
	}
	if err := os.Rename(tmp, pidPath(dir, replica)); err != nil {
		return fmt.Errorf("pid file of %s: %w", replica, err)
	}
	return nil
}

// readCmdline reads /proc/<pid>/cmdline of a process just started. The
// kernel lets the parent run on while execve is still setting up the new
// image, when cmdline reads empty; it is set within microseconds.
func readCmdline(pid int) string {
	for range 500 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) > 0 {
			return string(b)
		}
		time.Sleep(time.Millisecond)
	}
	return ""
}

// ReapOrphans kills the replica processes a previous daemon left running:
// every process group recorded in stateDir whose leader still exists and is
// still the process recorded (same command line and start time, so a
// recycled pid is never killed) gets SIGTERM, then SIGKILL after a short
// grace. The pid files are removed. A missing stateDir is not an error.
func ReapOrphans(stateDir string) error {
	entries, err := os.ReadDir(stateDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reap orphans in %s: %w", stateDir, err)
	}
	var errs []error
	var victims []int
	var files []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), pidSuffix) {
			continue
		}
		path := filepath.Join(stateDir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("reap orphan %s: %w", path, err))
			continue
		}
		var rec pidRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			errs = append(errs, fmt.Errorf("reap orphan %s: not a pid file: %w", path, err))
			continue
		}
		files = append(files, path)
		if rec.PID > 1 && rec.matches() {
			_ = syscall.Kill(-rec.PID, syscall.SIGTERM)
			victims = append(victims, rec.PID)
		}
	}
	if len(victims) > 0 && !waitGone(victims, reapGrace) {
		for _, pid := range victims {
			if alive(pid) {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
		if !waitGone(victims, reapGrace) {
			errs = append(errs, fmt.Errorf("reap orphans in %s: processes %v survive SIGKILL", stateDir, victims))
		}
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("reap orphans: %w", err))
		}
	}
	return errors.Join(errs...)
}

// matches reports whether the live process with the recorded pid is the
// one recorded.
func (r pidRecord) matches() bool {
	if r.Cmdline == "" || !alive(r.PID) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", r.PID))
	if err != nil || !bytes.Equal(b, []byte(r.Cmdline)) {
		return false
	}
	if r.StartTime != 0 {
		st, err := procStartTime(r.PID)
		return err == nil && st == r.StartTime
	}
	return true
}

// waitGone polls until none of pids is alive or d passed. The processes are
// not our children, so there is nothing to wait on but /proc.
func waitGone(pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		gone := true
		for _, pid := range pids {
			gone = gone && !alive(pid)
		}
		if gone {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie (an orphan killed in
// a container whose init does not reap stays a zombie, and is dead).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return false
	}
	state, _, err := procStat(pid)
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	return state != "Z" && state != "X"
}

// procStartTime returns field 22 of /proc/<pid>/stat.
func procStartTime(pid int) (uint64, error) {
	_, start, err := procStat(pid)
	return start, err
}

// procStat returns the state (field 3) and start time (field 22) of pid.
func procStat(pid int) (string, uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return f[0], start, nil
}
