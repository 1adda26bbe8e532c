// Package promtest runs a real Prometheus for tests, as net/http/httptest
// runs a real HTTP server: the binary of the Debian package "prometheus"
// on a free loopback port, with its data in a temporary directory,
// scraping the given targets' /metrics every second.
//
// A missing binary fails the test, unless SkipEnv is set to 1, which skips
// it; BinaryEnv names another binary than the one on the PATH.
//
// Prometheus 2.x hands new targets to its scrapers at most every 5 seconds,
// so the first data arrives about 5 s after Start: use WaitFor, not a sleep.
package promtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The environment variables the package reads.
const (
	SkipEnv   = "FLEDGE_SKIP_PROMETHEUS"
	BinaryEnv = "FLEDGE_PROMETHEUS"
)

// Server is a running Prometheus.
type Server struct {
	// URL is its base URL, http://127.0.0.1:port.
	URL string
	// Dir holds its configuration and data.
	Dir string

	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex // guards log, which the process writes
	log  bytes.Buffer
}

// Binary finds the prometheus binary, or ends the test (see the package
// doc).
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := os.Getenv(BinaryEnv), error(nil)
	if bin == "" {
		bin, err = exec.LookPath("prometheus")
	} else if _, err = os.Stat(bin); err == nil {
		bin, err = filepath.Abs(bin)
	}
	if err == nil {
		return bin
	}
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("no prometheus binary (%v) and %s=1", err, SkipEnv)
	}
	t.Fatalf("no prometheus binary (%v): install the Debian package (apt-get install prometheus), or set %s=1 to skip these tests", err, SkipEnv)
	return ""
}

// Start starts a Prometheus scraping the host:port targets and waits until
// it answers; the test's cleanup stops it.
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	s := Launch(t, t.TempDir(), targets...)
	t.Cleanup(s.Stop)
	return s
}

// Launch starts a Prometheus keeping its data in dir and waits until it
// answers; the caller stops it (for a server shared by several tests).
func Launch(t testing.TB, dir string, targets ...string) *Server {
	t.Helper()
	bin := Binary(t)
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = fmt.Sprintf("%q", tg)
	}
	config := fmt.Sprintf(`global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}
scrape_configs:
- job_name: fledge
  static_configs: [{targets: [%s]}]
`, strings.Join(quoted, ", "))
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: "http://" + addr, Dir: dir, done: make(chan struct{})}
	s.cmd = exec.Command(bin,
		"--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	// Its own group, killed with the test binary if that dies first.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if !s.waitReady() {
		s.Stop()
		t.Fatalf("prometheus not ready within 30s:\n%s", s.Log())
	}
	return s
}

// Write collects the server's log.
func (s *Server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

// Log is the end of the server's log, for failure messages.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.log.String()
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return b
}

// Stop kills the server and waits for it to exit; stopping twice is fine.
func (s *Server) Stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// waitReady polls /-/ready; false when the server exited or took too long.
func (s *Server) waitReady() bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return false
		default:
		}
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// WaitFor polls an instant query until it returns at least n series (at
// most 30 s, then fails the test), and returns when it did.
func (s *Server) WaitFor(t testing.TB, query string, n int) time.Time {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.PostForm(s.URL+"/api/v1/query", url.Values{"query": {query}})
		if err == nil {
			var r struct {
				Data struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err == nil && len(r.Data.Result) >= n {
				return time.Now()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("prometheus has no %d series for %s within 30s:\n%s", n, query, s.Log())
	return time.Time{}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
