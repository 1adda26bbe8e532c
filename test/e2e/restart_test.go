package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// The daemon killed with SIGKILL at a pause (weight 30%) and started again
// with `fledge serve` on the same state dir resumes where it was: same
// step, same weight in the status and in the traffic the proxy splits. The
// replicas the killed daemon left behind are stopped, not leaked, and the
// release can be promoted to the end.
func TestKilledDaemonResumes(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	strategy := canaryStrategy(listen, "setWeight: 30", "pause: {}", "setWeight: 100")
	startStable(h, spec{version: "v1", strategy: strategy})
	h.must("apply", "-f", h.writeSpec("v2.yaml", spec{version: "v2", strategy: strategy}.yaml()))
	before := h.waitFor("web", "the pause at 30%", func(s status) bool {
		return s.Phase == "Paused" && s.CurrentStepIndex == 1 && s.CanaryWeight == 30 && s.Replicas.Ready == s.Replicas.Running
	})
	checkSplit(t, versions(t, listen, 100), 100, 30, "v1", "v2")
	orphans := h.replicas("web-")
	if len(orphans) != int(before.Replicas.Running) || len(orphans) < 3 {
		t.Fatalf("the state dir records replicas %v, want the %d running (2 stable and a canary)", orphans, before.Replicas.Running)
	}

	h.kill()
	for name, r := range orphans {
		if !r.alive() {
			t.Logf("replica %s (pid %d) died with the daemon", name, r.PID)
		}
	}
	h.start("serve")
	after := h.waitFor("web", "the resumed rollout with every replica ready", func(s status) bool {
		return s.Replicas.Running == before.Replicas.Running && s.Replicas.Ready == s.Replicas.Running
	})
	if after.Phase != "Paused" || after.CurrentStepIndex != 1 || after.CanaryWeight != 30 ||
		after.StableRevision != "1" || after.CanaryRevision != "2" {
		t.Fatalf("resumed at phase %s, step %d, weight %d, stable %q, canary %q; want Paused, 1, 30, 1, 2",
			after.Phase, after.CurrentStepIndex, after.CanaryWeight, after.StableRevision, after.CanaryRevision)
	}

	h.waitGone("the killed daemon's replicas to be stopped", orphans)
	fresh := map[int]bool{}
	for _, r := range h.replicas("web-") {
		fresh[r.Port] = true
	}
	for name, r := range orphans {
		if fresh[r.Port] {
			continue // the port was given to a new replica
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.Port), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d of the killed daemon's replica %s still accepts connections", r.Port, name)
		}
	}
	checkSplit(t, versions(t, listen, 100), 100, 30, "v1", "v2")

	h.must("promote", "web")
	h.waitFor("web", "revision 2 promoted after the restart", func(s status) bool {
		return s.Phase == "Healthy" && s.StableRevision == "2" && s.CanaryRevision == ""
	})
	if c := versions(t, listen, 50); c["v2"] != 50 {
		t.Errorf("after the promotion, 50 requests went %v, want all to v2", c)
	}
}

// A new listen address applied mid-release moves the proxy, not the
// release: the new address splits at once as the step says, the old one
// closes, and the rollout stays at its step and weight, on the same
// revisions.
func TestListenChangeKeepsTheRelease(t *testing.T) {
	h := newHarness(t)
	listen, moved := freeAddr(t), freeAddr(t)
	steps := []string{"setWeight: 30", "pause: {}", "setWeight: 100"}
	startStable(h, spec{version: "v1", strategy: canaryStrategy(listen, steps...)})
	h.must("apply", "-f", h.writeSpec("v2.yaml", spec{version: "v2", strategy: canaryStrategy(listen, steps...)}.yaml()))
	h.waitFor("web", "the pause at 30%", func(s status) bool {
		return s.Phase == "Paused" && s.CurrentStepIndex == 1 && s.CanaryWeight == 30 && s.Replicas.Ready == s.Replicas.Running
	})

	first := firstAnswers(t, moved, 50)
	h.must("apply", "-f", h.writeSpec("v2-moved.yaml", spec{version: "v2", strategy: canaryStrategy(moved, steps...)}.yaml()))
	for i, err := range <-first {
		if err != nil {
			t.Errorf("request %d to the new proxy failed: %v", i, err)
		}
	}
	checkSplit(t, versions(t, moved, 100), 100, 30, "v1", "v2")
	h.poll("the old address to close", func() (bool, string) { return !listening(listen), "" })
	s, _, err := h.status("web")
	if err != nil {
		t.Fatal(err)
	}
	if s.Phase != "Paused" || s.CurrentStepIndex != 1 || s.CanaryWeight != 30 || s.StableRevision != "1" || s.CanaryRevision != "2" {
		t.Errorf("after the move: phase %s, step %d, weight %d, stable %q, canary %q; want Paused, 1, 30, 1, 2",
			s.Phase, s.CurrentStepIndex, s.CanaryWeight, s.StableRevision, s.CanaryRevision)
	}
}

// firstAnswers sends GET / to addr, again and again, until it answers,
// then n more times, and hands over what the n+1 first answers were: the
// very first requests a new proxy serves.
func firstAnswers(t *testing.T, addr string, n int) <-chan []error {
	out := make(chan []error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	go func() {
		var errs []error
		for ctx.Err() == nil && len(errs) <= n {
			_, err := send(ctx, http.MethodGet, "http://"+addr+"/")
			// Until the first HTTP answer, a transport error means the proxy
			// is not listening yet: refused, or (with many test binaries
			// at once) the port briefly held by another program, which
			// resets the connection.
			var ue *url.Error
			if len(errs) == 0 && errors.As(err, &ue) {
				continue
			}
			errs = append(errs, err)
		}
		if len(errs) <= n {
			errs = append(errs, fmt.Errorf("no answer from %s within %s", addr, waitTimeout))
		}
		out <- errs
	}()
	return out
}
