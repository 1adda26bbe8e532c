package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// A blue-green release: the new version is served on the preview address
// while the active one still serves the old; promote switches every
// request at once; undo switches back at once to the old version's
// replicas, still running within scaleDownDelaySeconds.
func TestBlueGreenPromotedAndUndone(t *testing.T) {
	h := newHarness(t)
	listen, preview := freeAddr(t), freeAddr(t)
	strategy := fmt.Sprintf(`    blueGreen:
      trafficRouting: {proxy: {listen: %q, previewListen: %q}}
      autoPromotionEnabled: false
      scaleDownDelaySeconds: 300
`, listen, preview)
	startStable(h, spec{version: "v1", strategy: strategy})
	blue := h.replicas("web-1-")

	h.must("apply", "-f", h.writeSpec("v2.yaml", spec{version: "v2", strategy: strategy}.yaml()))
	s := h.waitFor("web", "revision 2 on preview, awaiting promotion", func(s status) bool {
		return s.pausedFor("AwaitingPromotion") && s.Replicas.UpdatedReady == 2
	})
	if s.Phase != "Paused" || s.CanaryRevision != "2" || s.StableRevision != "1" || s.CanaryWeight != 0 {
		t.Fatalf("awaiting promotion: phase %s, canary %q, stable %q, weight %d; want Paused, 2, 1, 0",
			s.Phase, s.CanaryRevision, s.StableRevision, s.CanaryWeight)
	}
	if c := versions(t, preview, 50); c["v2"] != 50 {
		t.Errorf("the preview address sent 50 requests to %v, want all to v2", c)
	}
	if c := versions(t, listen, 50); c["v1"] != 50 {
		t.Errorf("the active address sent 50 requests to %v, want all to v1", c)
	}

	seq := watchSwitch(t, listen)
	h.must("promote", "web")
	s = h.waitFor("web", "revision 2 promoted", func(s status) bool {
		return s.Phase == "Healthy" && s.StableRevision == "2" && s.CanaryRevision == ""
	})
	seq.switchedOnce("v1", "v2")
	if c := versions(t, listen, 50); c["v2"] != 50 {
		t.Errorf("after the switch, 50 requests went %v, want all to v2", c)
	}
	for name, r := range blue {
		if !r.alive() {
			t.Errorf("replica %s of revision 1 (pid %d) stopped within scaleDownDelaySeconds: an undo would be cold", name, r.PID)
		}
	}

	seq = watchSwitch(t, listen)
	if out := h.must("undo", "web"); !strings.Contains(out, "rolled back to revision 1") {
		t.Errorf("fledge undo web said %q, want it rolled back to revision 1", out)
	}
	h.waitFor("web", "revision 1 stable again", func(s status) bool {
		return s.Phase == "Healthy" && s.StableRevision == "1" && s.CanaryRevision == "" && s.DesiredRevision == "1"
	})
	seq.switchedOnce("v2", "v1")
	if c := versions(t, listen, 50); c["v1"] != 50 {
		t.Errorf("after the undo, 50 requests went %v, want all to v1", c)
	}
	// The same processes serve: the undo used the warm replicas.
	if now := h.replicas("web-1-"); len(now) != len(blue) {
		t.Errorf("revision 1 runs %v after the undo, want the warm replicas %v", now, blue)
	}
	for name, r := range blue {
		if !r.alive() {
			t.Errorf("warm replica %s of revision 1 (pid %d) was replaced by the undo", name, r.PID)
		}
	}
}

// switchSeq records the versions that answered a client sending request
// after request while a switch happens.
type switchSeq struct {
	t      *testing.T
	cancel context.CancelFunc
	wg     sync.WaitGroup
	seen   []string
	errs   []string
}

func watchSwitch(t *testing.T, addr string) *switchSeq {
	ctx, cancel := context.WithCancel(context.Background())
	s := &switchSeq{t: t, cancel: cancel}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for ctx.Err() == nil {
			v, err := send(ctx, http.MethodGet, "http://"+addr+"/")
			switch {
			case ctx.Err() != nil:
			case err != nil:
				s.errs = append(s.errs, err.Error())
			default:
				s.seen = append(s.seen, v)
			}
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *switchSeq) stop() { s.cancel(); s.wg.Wait() }

// switchedOnce stops the recording and asserts one switch from from to to:
// no failed request, and once to answered, from never again.
func (s *switchSeq) switchedOnce(from, to string) {
	s.t.Helper()
	s.stop()
	if len(s.errs) > 0 {
		s.t.Errorf("%d requests failed during the switch from %s to %s, e.g. %s", len(s.errs), from, to, s.errs[0])
	}
	first := -1
	for i, v := range s.seen {
		switch {
		case v == to && first < 0:
			first = i
		case v == from && first >= 0:
			s.t.Errorf("request %d went to %s after request %d went to %s: the switch was not one step", i, from, first, to)
			return
		case v != from && v != to:
			s.t.Errorf("request %d went to %q during a switch from %s to %s", i, v, from, to)
			return
		}
	}
	if first < 0 {
		s.t.Errorf("none of %d requests during the switch went to %s", len(s.seen), to)
	}
}
