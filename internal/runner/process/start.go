package process

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one started process, the leader of its own process group.
type proc struct {
	pid   int
	begin time.Time
	done  chan struct{} // closed once the process is reaped
	err   error         // how it exited; valid after done
}

// procSpec is what one start of a replica needs.
type procSpec struct {
	argv []string
	dir  string
	env  []string
	log  string // file to append stdout and stderr to; "" discards them
}

// startProcess starts spec in a new process group and reaps it in the
// background. When the leader exits, the rest of its group is killed: like
// the end of a container, the end of the main process ends its children.
func startProcess(spec procSpec) (*proc, error) {
	path, err := resolveCommand(spec.argv[0], spec.dir)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, spec.argv[1:]...)
	cmd.Args[0] = spec.argv[0]
	cmd.Dir, cmd.Env = spec.dir, spec.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if spec.log != "" {
		if err := os.MkdirAll(filepath.Dir(spec.log), 0o700); err != nil {
			return nil, fmt.Errorf("replica log directory: %w", err)
		}
		f, err := os.OpenFile(spec.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open replica log: %w", err)
		}
		// The child inherits the descriptor; ours is not needed after Start.
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", spec.argv[0], err)
	}
	p := &proc{pid: cmd.Process.Pid, begin: time.Now(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		close(p.done)
	}()
	return p, nil
}

// signal sends sig to the process group unless the leader is already gone
// (its group id may then belong to someone else).
func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.pid, sig)
	}
}

// exited reports whether the process has been reaped.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// resolveCommand finds a program as ProcessTemplate documents: an absolute
// path as is, a path with a slash relative to dir, a bare name in dir first
// and then in PATH.
func resolveCommand(name, dir string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty command")
	case filepath.IsAbs(name):
		return name, nil
	case strings.ContainsRune(name, filepath.Separator):
		return filepath.Join(dir, name), nil
	}
	if p := filepath.Join(dir, name); isExecutable(p) {
		return p, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("command %q not found in %s or PATH: %w", name, dir, err)
	}
	return p, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// ports are the ports handed to the replicas of this daemon; a port the
// kernel offers again (it was closed at once) is not given twice.
var ports = struct {
	sync.Mutex
	used map[int]bool
}{used: map[int]bool{}}

// pickPort returns a free loopback port, prev if it is still free (so a
// restarted replica keeps its address), else a new one. It listens and
// closes, so another program may still take it before the replica binds it;
// the replica then fails, and its restart picks again.
func pickPort(prev int) (int, error) {
	ports.Lock()
	defer ports.Unlock()
	if prev > 0 {
		delete(ports.used, prev)
		if portFree(prev) {
			ports.used[prev] = true
			return prev, nil
		}
	}
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pick a loopback port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !ports.used[port] {
			ports.used[port] = true
			return port, nil
		}
	}
	return 0, errors.New("pick a loopback port: every port offered is in use by a replica")
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func releasePort(port int) {
	ports.Lock()
	defer ports.Unlock()
	delete(ports.used, port)
}
