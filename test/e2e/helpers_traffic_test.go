package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// freeAddr returns a loopback address nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		// The kernel may offer a port it just gave and got back: two
		// addresses of one test (listen and preview) must differ.
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
}

// handedOut are the addresses freeAddr gave in this test binary.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// listening tells whether something accepts connections on addr. (It
// dials rather than binds: a bind would race the daemon's own.)
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// spec is a Rollout of the sample app, in YAML as a user writes it.
type spec struct {
	name    string // default "web"
	version string
	args    []string // more sample-app flags
	// extra holds spec-level lines, e.g. "progressDeadlineSeconds: 5".
	extra []string
	// strategy is the YAML under spec.strategy, indented by 4.
	strategy string
	// analysis adds the success-rate template (measured every second).
	analysis bool
}

func (s spec) yaml() string {
	name := s.name
	if name == "" {
		name = "web"
	}
	command, _ := json.Marshal(append([]string{fledgeBin, "sample-app", "--version", s.version}, s.args...))
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: %s
spec:
  replicas: 2
  terminationGracePeriodSeconds: 5
`, name)
	for _, l := range s.extra {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	fmt.Fprintf(&b, `  template:
    command: %s
    readinessProbe: {httpGet: {path: /healthz}, periodSeconds: 1, failureThreshold: 2}
  strategy:
%s`, command, s.strategy)
	if s.analysis {
		b.WriteString(`  analysisTemplates:
  - name: success-rate
    metrics:
    - name: success-rate
      interval: 1s
      inconclusiveLimit: 3
      successCondition: "result >= 0.95"
      provider: {builtin: {successRate: {}}}
`)
	}
	return b.String()
}

// client keeps connections alive, like a browser or a service's client.
var client = &http.Client{
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	Timeout:   10 * time.Second,
	// No cookie jar: no stickiness, every request is routed by weight.
}

// send makes one request and returns the version that answered (the
// X-Version header); a non-200 answer is an error.
func send(ctx context.Context, method, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return "", err
	}
	if method == http.MethodPost {
		req.Body = io.NopCloser(strings.NewReader("user=alice&password=secret"))
		req.ContentLength = 26
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	v := resp.Header.Get("X-Version")
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("%s %s: %s (X-Version %q)", method, url, resp.Status, v)
	}
	return v, nil
}

// versions sends n sequential GET / to addr and counts the answers by
// version; a failed request fails the test.
func versions(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for range n {
		v, err := send(context.Background(), http.MethodGet, "http://"+addr+"/")
		if err != nil {
			t.Fatalf("GET / via %s: %v", addr, err)
		}
		counts[v]++
	}
	return counts
}

// checkSplit asserts an exact split: over n requests the canary answered
// round(n*weight/100) of them, give or take one, and stable the rest.
func checkSplit(t *testing.T, counts map[string]int, n int, weight int32, stable, canary string) {
	t.Helper()
	want := int(math.Round(float64(n) * float64(weight) / 100))
	got := counts[canary]
	if got < want-1 || got > want+1 || counts[stable]+got != n {
		t.Errorf("at weight %d%%, %d requests went %v; want %s: %d±1, %s: the rest", weight, n, counts, canary, want, stable)
	}
}

// load is a user population: workers sending requests in a loop, each at
// most one every pace, until stopped.
type load struct {
	gate   sync.RWMutex // held by hold(): no request in flight
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	requests int
	errors   int
	firstErr []string
	versions map[string]int
}

// startLoad runs workers that cycle through routes ("GET /", "POST
// /login") against addr. It stops with the test at the latest.
func startLoad(t *testing.T, addr string, workers int, pace time.Duration, routes ...string) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, versions: map[string]int{}}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				method, path, _ := strings.Cut(routes[i%len(routes)], " ")
				l.gate.RLock()
				v, err := send(ctx, method, "http://"+addr+path)
				l.gate.RUnlock()
				if ctx.Err() != nil {
					return // stopped mid-request: not the service's failure
				}
				l.record(v, err)
				select {
				case <-ctx.Done():
				case <-time.After(pace):
				}
			}
		}()
	}
	t.Cleanup(l.stop)
	return l
}

func (l *load) record(v string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	l.versions[v]++
	if err != nil {
		l.errors++
		if len(l.firstErr) < 5 {
			l.firstErr = append(l.firstErr, err.Error())
		}
	}
}

// hold waits for the requests in flight and keeps new ones back until
// release, so that a measurement of the split sees only its own requests.
func (l *load) hold()    { l.gate.Lock() }
func (l *load) release() { l.gate.Unlock() }

// stop ends the load; it can be called more than once.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// result is what the users saw so far.
func (l *load) result() (requests, errors int, versions map[string]int, firstErrs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	vs := map[string]int{}
	for k, v := range l.versions {
		vs[k] = v
	}
	return l.requests, l.errors, vs, append([]string(nil), l.firstErr...)
}
