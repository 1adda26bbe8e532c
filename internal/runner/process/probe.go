package process

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// probeKind names a probe; it is also the prefix of its messages.
type probeKind string

const (
	startupProbe   probeKind = "Startup"
	readinessProbe probeKind = "Readiness"
	livenessProbe  probeKind = "Liveness"
)

// probeResult is a change of a probe's result, reported to the supervisor.
type probeResult struct {
	kind probeKind
	ok   bool
	msg  string // why the last probe failed
}

// result is a probe's current verdict; unknown until thresholds decide.
type result int8

const (
	unknown result = iota
	success
	failure
)

// threshold turns single probe outcomes into a verdict as the kubelet does:
// the verdict changes only after successThreshold (or failureThreshold)
// identical outcomes in a row.
type threshold struct {
	successes, failures int32
	verdict             result
	last                result
	run                 int32
}

// newThreshold starts where Kubernetes starts each kind: readiness failed
// (a replica starts unready), liveness passed, startup undecided.
func newThreshold(kind probeKind, p *v1alpha1.Probe) *threshold {
	t := &threshold{successes: max(p.SuccessThreshold, 1), failures: max(p.FailureThreshold, 1)}
	switch kind {
	case readinessProbe:
		t.verdict = failure
	case livenessProbe:
		t.verdict = success
	}
	return t
}

// observe records one outcome and reports whether the verdict changed.
func (t *threshold) observe(ok bool) (verdict result, changed bool) {
	r := failure
	if ok {
		r = success
	}
	if r == t.last {
		t.run++
	} else {
		t.last, t.run = r, 1
	}
	if (r == failure && t.run < t.failures) || (r == success && t.run < t.successes) || r == t.verdict {
		return t.verdict, false
	}
	t.verdict = r
	return r, true
}

// checker runs one probe; nil means success.
type checker func(ctx context.Context) error

// prober runs one probe of one process until its context ends.
type prober struct {
	kind  probeKind
	spec  *v1alpha1.Probe
	check checker
	gate  <-chan struct{} // closed once the startup probe passed
	out   chan<- probeResult
}

// firstRetry is the delay after a failed readiness probe while the process
// has never been ready. A failure then changes nothing (the replica is
// unready anyway), so probing sooner than the period only makes readiness
// fast instead of costing a whole period to a process that needed a few
// milliseconds to listen. It doubles up to the period.
const firstRetry = 10 * time.Millisecond

func (p *prober) run(ctx context.Context, started time.Time) {
	if !sleepCtx(ctx, time.Until(started.Add(seconds(p.spec.InitialDelaySeconds)))) {
		return
	}
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-ctx.Done():
			return
		}
	}
	th := newThreshold(p.kind, p.spec)
	period := seconds(max(p.spec.PeriodSeconds, 1))
	retry, everOK := firstRetry, false
	for {
		err := p.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		everOK = everOK || err == nil
		if v, changed := th.observe(err == nil); changed {
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			select {
			case p.out <- probeResult{kind: p.kind, ok: v == success, msg: msg}:
			case <-ctx.Done():
				return
			}
			// Startup is done once decided; a failed liveness probe
			// holds until the restart, as in the kubelet.
			if p.kind == startupProbe || (p.kind == livenessProbe && v == failure) {
				return
			}
		}
		delay := period
		if p.kind == readinessProbe && !everOK {
			delay, retry = min(retry, period), retry*2
		}
		if !sleepCtx(ctx, delay) {
			return
		}
	}
}

func (p *prober) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, seconds(max(p.spec.TimeoutSeconds, 1)))
	defer cancel()
	return p.check(ctx)
}

// newChecker builds the check of a probe for a process listening on port,
// whose exec probes run with env in dir. A probe without a handler (which
// validation rejects) always fails, visibly, rather than passing unseen.
func newChecker(p *v1alpha1.Probe, port int, env []string, dir string) checker {
	switch {
	case p.HTTPGet != nil:
		return httpChecker(p.HTTPGet, port)
	case p.TCPSocket != nil:
		return tcpChecker(p.TCPSocket, port)
	case p.Exec != nil && len(p.Exec.Command) > 0:
		return execChecker(p.Exec.Command, env, dir)
	}
	return func(context.Context) error { return errors.New("probe has no handler (httpGet, tcpSocket or exec)") }
}

func probeAddr(host string, port int32, def int) string {
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = int32(def)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// httpChecker probes like the kubelet: no keep-alive, TLS unverified,
// redirects not followed (a 3xx is a success), status 200-399 passes.
func httpChecker(a *v1alpha1.HTTPGetAction, port int) checker {
	scheme := "http"
	if strings.EqualFold(a.Scheme, "HTTPS") {
		scheme = "https"
	}
	path := a.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := scheme + "://" + probeAddr(a.Host, a.Port, port) + path
	client := &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // as the kubelet: probes check liveness, not identity
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("HTTP probe %s: %w", url, err)
		}
		req.Header.Set("User-Agent", "fledge-probe/1")
		req.Header.Set("Accept", "*/*")
		for _, h := range a.HTTPHeaders {
			if strings.EqualFold(h.Name, "Host") {
				req.Host = h.Value
				continue
			}
			req.Header.Set(h.Name, h.Value)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("HTTP probe failed: %w", err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	}
}

func tcpChecker(a *v1alpha1.TCPSocketAction, port int) checker {
	addr := probeAddr(a.Host, a.Port, port)
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("TCP probe failed: %w", err)
		}
		return c.Close()
	}
}

// execChecker runs the command in its own process group with the replica's
// environment; on timeout the whole group is killed.
func execChecker(argv, env []string, dir string) checker {
	return func(ctx context.Context) error {
		path, err := resolveCommand(argv[0], dir)
		if err != nil {
			return fmt.Errorf("exec probe: %w", err)
		}
		cmd := exec.CommandContext(ctx, path, argv[1:]...)
		cmd.Args[0] = argv[0]
		cmd.Env, cmd.Dir = env, dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		var out bytes.Buffer
		cmd.Stdout = &capped{buf: &out, n: 1 << 10}
		cmd.Stderr = cmd.Stdout
		err = cmd.Run()
		if ctx.Err() != nil {
			return fmt.Errorf("exec probe %q timed out", argv[0])
		}
		if err != nil {
			return fmt.Errorf("exec probe %q failed: %w: %s", argv[0], err, strings.TrimSpace(out.String()))
		}
		return nil
	}
}

// capped keeps the first n bytes written and drops the rest.
type capped struct {
	buf *bytes.Buffer
	n   int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.n - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func seconds(n int32) time.Duration { return time.Duration(n) * time.Second }

// sleepCtx waits d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
