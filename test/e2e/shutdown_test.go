package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Stopping the daemon (SIGTERM) answers every request its proxy accepted:
// the proxy stops accepting first, the requests in flight finish on
// replicas that still run, and only then are the replicas stopped. (Before,
// the replicas left first and the proxy answered 503 meanwhile.)
func TestDaemonStopFinishesRequestsInFlight(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	startStable(h, spec{version: "v1", strategy: canaryStrategy(listen, "setWeight: 100")})
	reps := h.replicas("web-1-")

	const slow = 4
	codes := make(chan string, slow)
	for range slow {
		go func() {
			c := &http.Client{Timeout: time.Minute}
			res, err := c.Get("http://" + listen + "/slow?ms=1500")
			if err != nil {
				codes <- err.Error()
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes <- res.Status
		}()
	}
	h.poll("the slow requests to reach the replicas", func() (bool, string) {
		n := 0
		for _, r := range reps {
			n += inflight(r.Port)
		}
		return n == slow, fmt.Sprintf("%d in flight", n)
	})
	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	// New requests meanwhile: refused, or served; never answered 503.
	answers := map[string]int{}
	for done := false; !done; {
		select {
		case err := <-stopped:
			stopped <- err
			done = true
		default:
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			res, err := c.Get("http://" + listen + "/")
			if err != nil {
				answers["no connection"]++
				time.Sleep(10 * time.Millisecond) // pacing the probes, not waiting for an event
				continue
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			answers[res.Status]++
		}
	}
	t.Logf("new requests during the shutdown: %v", answers)
	for status, n := range answers {
		if status != "no connection" && status != "200 OK" {
			t.Errorf("%d new requests during the shutdown were answered %q", n, status)
		}
	}
	for range slow {
		if got := <-codes; got != "200 OK" {
			t.Errorf("a request in flight at SIGTERM got %q, want 200 OK", got)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// The daemon is gone: the address refuses connections (no 503 answered).
	if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after the daemon stopped", listen)
	}
}

// inflight asks a sample-app replica how many requests it is serving.
func inflight(port int) int {
	c := &http.Client{Timeout: 2 * time.Second}
	res, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/version", port))
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	var v struct{ Inflight int }
	json.NewDecoder(res.Body).Decode(&v)
	return v.Inflight
}
