package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// gateReceiver is a real webhook receiver on loopback: it answers
// confirm-promotion with the code set, and records every call's type.
type gateReceiver struct {
	*httptest.Server
	promote atomic.Int32 // the answer to confirm-promotion
	mu      sync.Mutex
	calls   []string // "type weight"
}

func newGateReceiver(t *testing.T) *gateReceiver {
	g := &gateReceiver{}
	g.promote.Store(http.StatusForbidden)
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Type   string
			Weight int32
		}
		json.NewDecoder(r.Body).Decode(&p)
		g.mu.Lock()
		g.calls = append(g.calls, fmt.Sprintf("%s %d", p.Type, p.Weight))
		g.mu.Unlock()
		if p.Type == "confirm-promotion" {
			w.WriteHeader(int(g.promote.Load()))
		}
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *gateReceiver) called(call string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.calls {
		if c == call {
			return true
		}
	}
	return false
}

// TestWebhookGatesHoldThePromotion: the controller calls the Rollout's
// webhook gates as the local daemon does. A confirm-promotion gate that
// answers 403 holds the canary at its last weight; once it answers 200 the
// rollout is promoted, and post-rollout is called.
func TestWebhookGatesHoldThePromotion(t *testing.T) {
	ns := namespace(t)
	startController(t)
	recv := newGateReceiver(t)
	setup(t, ns, `
        - setWeight: 50
      webhooks:
      - {name: approve, type: confirm-promotion, url: "`+recv.URL+`/approve", timeout: 2s}
      - {name: announce, type: post-rollout, url: "`+recv.URL+`/done"}
`)
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	setText(t, ns, "web", "v2")
	// Wait for the receiver's answer in the status, not only the hold: a
	// gate not yet asked holds too, before any call was made.
	waitStatus(t, ns, "web", "the promotion held by the gate's 403", func(st *v1alpha1.RolloutStatus) bool {
		return st.CanaryWeight == 50 &&
			strings.Contains(st.Message, "held by webhook gate confirm-promotion: webhook approve answered 403")
	})
	if s, c := weights(t, ns, "web"); s != 50 || c != 50 {
		t.Fatalf("HTTPRoute while the gate holds: stable %d canary %d, want 50/50", s, c)
	}
	if !recv.called("confirm-promotion 50") {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		t.Fatalf("the receiver was not asked to confirm the promotion at 50%%: %v", recv.calls)
	}
	recv.promote.Store(http.StatusOK)
	waitStatus(t, ns, "web", "promoted once the gate opens", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision != first
	})
	eventually(t, 20*time.Second, "post-rollout called", func() (bool, string) {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for _, c := range recv.calls {
			if strings.HasPrefix(c, "post-rollout") {
				return true, ""
			}
		}
		return false, fmt.Sprint(recv.calls)
	})
}
