package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// controllerProc is the `fledge controller` under measure: the built
// binary, so that its memory is its own (/proc/PID/status).
type controllerProc struct {
	cmd     *exec.Cmd
	metrics string // http://host:port/metrics
	pprof   string // http://host:port/debug/pprof/
	out     string // where heap profiles go
	done    chan struct{}

	mu       sync.Mutex
	maxRSS   int64 // KiB, the largest VmRSS sampled
	profiled int64 // KiB, the VmRSS when heap-peak.pprof was taken
}

// startController runs binary against kubeconfig, logging to logPath, and
// waits until it answers /readyz. Leader election is off: one replica.
func startController(ctx context.Context, binary, kubeconfig, logPath string) (*controllerProc, error) {
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	probeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("controller log: %w", err)
	}
	cmd := exec.Command(binary, "controller", "--kubeconfig", kubeconfig, "--leader-elect=false",
		"--metrics-bind-address", metricsAddr, "--health-probe-bind-address", probeAddr,
		"--pprof-bind-address", pprofAddr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s controller: %w", binary, err)
	}
	p := &controllerProc{cmd: cmd, metrics: "http://" + metricsAddr + "/metrics",
		pprof: "http://" + pprofAddr + "/debug/pprof/", out: filepath.Dir(logPath), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	go p.sampleRSS()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + probeAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("the controller exited at start (log: %s)", logPath)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("the controller was not ready within 60s (log: %s)", logPath)
		}
	}
}

// stop ends the controller (SIGTERM, then SIGKILL after 10 s) and waits.
func (p *controllerProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// sampleRSS keeps the largest resident set seen, every 500 ms: VmHWM says
// the peak too, this is a cross-check and survives reading after exit.
func (p *controllerProc) sampleRSS() {
	for {
		select {
		case <-p.done:
			return
		case <-time.After(500 * time.Millisecond):
		}
		m, err := p.memory()
		if err != nil {
			continue
		}
		p.mu.Lock()
		p.maxRSS = max(p.maxRSS, m["VmRSS"])
		// A heap profile near the peak says what the memory is: taken again
		// whenever the resident set grew by 8 MiB since the last one.
		again := p.maxRSS >= p.profiled+8*1024
		if again {
			p.profiled = p.maxRSS
		}
		p.mu.Unlock()
		if again {
			_ = p.heapProfile("heap-peak.pprof")
		}
	}
}

// heapProfile saves the controller's heap profile (in-use and allocated
// bytes, `go tool pprof -sample_index=inuse_space`) under out.
func (p *controllerProc) heapProfile(name string) error {
	resp, err := http.Get(p.pprof + "heap")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%sheap: %s", p.pprof, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.out, name), b, 0o644)
}

// memory reads the Vm* lines of /proc/PID/status, in KiB.
func (p *controllerProc) memory() (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(k, "Vm") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err == nil {
			out[k] = n
		}
	}
	return out, sc.Err()
}

// cpu is the controller's CPU time so far, user and system.
func (p *controllerProc) cpu() (time.Duration, error) { return procCPU(p.cmd.Process.Pid) }

// sample is a reading of the controller's counters.
type sample struct {
	requests   map[string]float64 // rest_client_requests_total by method
	reconciles float64            // controller_runtime_reconcile_total
	// The Rollout controller's reconcile durations and the time its
	// requests waited in the work queue: where a reaction's time went.
	reconcileTime, queueTime histogram
}

func (s sample) total() float64 {
	t := 0.0
	for _, v := range s.requests {
		t += v
	}
	return t
}

// scrape reads the controller's Prometheus text metrics.
func (p *controllerProc) scrape() (sample, error) {
	s := sample{requests: map[string]float64{}, reconcileTime: histogram{}, queueTime: histogram{}}
	page, err := fetch(context.Background(), http.DefaultClient, p.metrics)
	if err != nil {
		return s, err
	}
	eachSample(page, func(name, labels string, v float64) {
		switch name {
		case "rest_client_requests_total":
			s.requests[label(labels, "method")] += v
		case "controller_runtime_reconcile_total":
			s.reconciles += v
		case "controller_runtime_reconcile_time_seconds_bucket":
			if label(labels, "controller") == "rollout" {
				s.reconcileTime.add(label(labels, "le"), v)
			}
		case "workqueue_queue_duration_seconds_bucket":
			if label(labels, "name") == "rollout" {
				s.queueTime.add(label(labels, "le"), v)
			}
		}
	})
	return s, nil
}

// fetch GETs a metrics page.
func fetch(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = errors.New(resp.Status)
	}
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return b, nil
}

// eachSample calls fn with each labelled sample of a Prometheus text page.
func eachSample(page []byte, fn func(name, labels string, v float64)) {
	for _, line := range strings.Split(string(page), "\n") {
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			fn(name, labels, v)
		}
	}
}

// label is the value of one label in a Prometheus label list.
func label(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// delta is what happened between two samples.
func delta(a, b sample) sample {
	d := sample{requests: map[string]float64{}, reconciles: b.reconciles - a.reconciles,
		reconcileTime: b.reconcileTime.since(a.reconcileTime), queueTime: b.queueTime.since(a.queueTime)}
	for m, v := range b.requests {
		d.requests[m] = v - a.requests[m]
	}
	return d
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
