package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// The machine's side of a run: who used the 2 cores, and how many requests
// the API server served, while the Rollouts stepped. The reaction's p99 in
// a burst is the time to drain a queue of writes; these rows say whether
// the machine, the API server or the controller was the bottleneck.

// machineSample is one reading of the machine's counters.
type machineSample struct {
	at time.Time
	// busy and total are the machine's CPU ticks so far (/proc/stat: all
	// but idle and iowait; all).
	busy, total int64
	// cpu is each watched process's CPU time so far.
	cpu map[string]time.Duration
	// api is the API server's apiserver_request_total so far, split into
	// reads and writes; ok is false when not scraped at this sample.
	apiReads, apiWrites float64
	apiOK               bool
}

// machine samples the machine every second, and the API server's metrics
// every tenth (their text is megabytes: every fifth second cost 3% of the
// API server's CPU in a burst of 300), until stopped.
type machine struct {
	procs  map[string]int // name -> pid
	http   *http.Client
	apiURL string

	mu      sync.Mutex
	samples []machineSample
}

// watchMachine samples the control plane's processes (from the pid files
// hack/cluster writes beside the kubeconfig), the controller and the
// benchmark itself until ctx ends.
func watchMachine(ctx context.Context, cfg *rest.Config, kubeconfig string, controllerPID int) (*machine, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	m := &machine{procs: map[string]int{"fledge controller": controllerPID, "benchmark": os.Getpid()},
		http: hc, apiURL: strings.TrimSuffix(cfg.Host, "/") + "/metrics"}
	pids, _ := filepath.Glob(filepath.Join(filepath.Dir(kubeconfig), "pids", "*.pid"))
	for _, f := range pids {
		b, err := os.ReadFile(f)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			m.procs[strings.TrimSuffix(filepath.Base(f), ".pid")] = pid
		}
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for i := 0; ; i++ {
			m.mark(ctx, i%10 == 0)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return m, nil
}

// mark takes a sample now (with the API server's counters if api): the
// end of a window needs one at or after it.
func (m *machine) mark(ctx context.Context, api bool) {
	s := m.sample(ctx, api)
	m.mu.Lock()
	m.samples = append(m.samples, s)
	m.mu.Unlock()
}

func (m *machine) sample(ctx context.Context, api bool) machineSample {
	s := machineSample{at: time.Now(), cpu: map[string]time.Duration{}}
	s.busy, s.total, _ = machineTicks()
	for name, pid := range m.procs {
		if d, err := procCPU(pid); err == nil {
			s.cpu[name] = d
		}
	}
	if api {
		s.apiReads, s.apiWrites, s.apiOK = m.scrapeAPI(ctx)
	}
	return s
}

// scrapeAPI sums the API server's apiserver_request_total by kind of verb.
func (m *machine) scrapeAPI(ctx context.Context) (reads, writes float64, ok bool) {
	page, err := fetch(ctx, m.http, m.apiURL)
	if err != nil {
		return 0, 0, false
	}
	eachSample(page, func(name, labels string, v float64) {
		if name != "apiserver_request_total" {
			return
		}
		switch label(labels, "verb") {
		case "GET", "LIST", "WATCH", "WATCHLIST":
			reads += v
		default:
			writes += v
		}
	})
	return reads, writes, true
}

// machineTicks reads the first line of /proc/stat: the ticks spent busy
// (all but idle and iowait) and in all.
func machineTicks() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: %q", line)
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %q", line)
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total, nil
}

// procCPU is a process's CPU time so far, user and system (the kernel
// counts it in ticks of 1/100 s: USER_HZ, 100 on every Linux this runs on).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is the 3rd field of the line, utime the 14th.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// usage is what the machine did between two instants.
type usage struct {
	span         time.Duration
	busy         float64                  // share of the machine's CPU in use, 0..1
	cores        float64                  // the machine's cores (total ticks / span)
	cpu          map[string]time.Duration // by process
	apiSpan      time.Duration            // between the API server's scrapes that bracket the window
	apiReads     float64
	apiWrites    float64
	apiBracketed bool
}

// between is the usage from the last sample at or before from to the
// first at or after to (the window widened to whole samples).
func (m *machine) between(from, to time.Time) (usage, bool) {
	m.mu.Lock()
	ss := slices.Clone(m.samples)
	m.mu.Unlock()
	a, b, ok := bracket(ss, from, to, func(machineSample) bool { return true })
	if !ok {
		return usage{}, false
	}
	u := usage{span: b.at.Sub(a.at), cpu: map[string]time.Duration{}}
	if dt := b.total - a.total; dt > 0 {
		u.busy = float64(b.busy-a.busy) / float64(dt)
		u.cores = float64(dt) / 100 / u.span.Seconds()
	}
	for name, d := range b.cpu {
		if d0, ok := a.cpu[name]; ok {
			u.cpu[name] = d - d0
		}
	}
	if a, b, ok := bracket(ss, from, to, func(s machineSample) bool { return s.apiOK }); ok {
		u.apiSpan, u.apiReads, u.apiWrites, u.apiBracketed = b.at.Sub(a.at), b.apiReads-a.apiReads, b.apiWrites-a.apiWrites, true
	}
	return u, true
}

// bracket finds, among the samples that keep says, the last at or before
// from and the first at or after to.
func bracket(ss []machineSample, from, to time.Time, keep func(machineSample) bool) (a, b machineSample, ok bool) {
	var haveA, haveB bool
	for _, s := range ss {
		if !keep(s) {
			continue
		}
		// By time, not by position: the final mark may be appended
		// after a tick's sample taken before it.
		if !s.at.After(from) && (!haveA || s.at.After(a.at)) {
			a, haveA = s, true
		}
		if !s.at.Before(to) && (!haveB || s.at.Before(b.at)) {
			b, haveB = s, true
		}
	}
	return a, b, haveA && haveB && b.at.After(a.at)
}
