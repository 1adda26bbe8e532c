package gate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
)

// loop is a decision loop as the runner runs it, with the Poller as its
// only edge: gather the gates, decide, apply (the router and the replicas
// follow at once), hand the wanted gates to the Poller.
type loop struct {
	ro      *v1alpha1.Rollout
	poller  *Poller
	traffic rollout.Traffic
	last    rollout.Decision
}

func newLoop(t *testing.T, hooks ...v1alpha1.Webhook) *loop {
	w := int32(10)
	w2 := int32(50)
	n := int32(1)
	ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Replicas: &n, Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
		Steps: []v1alpha1.CanaryStep{{SetWeight: &w}, {SetWeight: &w2}}, Webhooks: hooks}}}}
	ro.Name = "web"
	ro.Default()
	ro.Status = v1alpha1.RolloutStatus{StableRevision: "1", CanaryRevision: "2", CurrentStepIndex: 1, CanaryWeight: 10, Attempt: 1}
	p := NewPoller(context.Background(), Config{Caller: fast, Interval: 10 * time.Millisecond})
	t.Cleanup(p.Stop)
	return &loop{ro: ro, poller: p, traffic: rollout.Traffic{Stable: "1", Canary: "2", CanaryWeight: 10, Preview: "2"}}
}

// step makes one decision and applies it.
func (l *loop) step() rollout.Decision {
	in := rollout.Input{Rollout: l.ro, DesiredRevision: "2", Now: time.Now(), Traffic: l.traffic,
		Replicas: map[string]rollout.ReplicaObservation{"1": {Replicas: 1, Ready: 1}, "2": {Replicas: 1, Ready: 1}},
		Gates:    l.poller.Observations()}
	d := rollout.Decide(in)
	l.ro.Status, l.traffic, l.last = d.Status, d.Traffic, d
	st := d.Status
	l.poller.Want(d.Gates, l.ro.Spec.Strategy.Canary.Webhooks, Payload{Name: l.ro.Name, Phase: string(st.Phase),
		Revision: Revisions{Stable: st.StableRevision, Canary: st.CanaryRevision}, Weight: st.CanaryWeight})
	return d
}

// until decides until cond holds, or fails after a deadline.
func (l *loop) until(t *testing.T, what string, cond func(rollout.Decision) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d := l.step(); !cond(d); d = l.step() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached; last status %q weight %d", what, d.Status.Message, d.Status.CanaryWeight)
		}
		time.Sleep(time.Millisecond) // a tick of the loop, not a synchronisation
	}
}

// TestHeldGateHolds: the weight does not rise while the receiver answers
// 500 or 403, however often it is asked, and rises once it answers 200.
func TestHeldGateHolds(t *testing.T) {
	var code atomic.Int32
	code.Store(500)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := calls.Add(1)
		if n == 4 {
			code.Store(403)
		}
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	l := newLoop(t, hook(v1alpha1.WebhookConfirmTrafficIncrease, srv.URL))
	held := func(d rollout.Decision) bool { return strings.Contains(d.Status.Message, "answered 403") }
	l.until(t, "held by a 403", func(d rollout.Decision) bool {
		if d.Status.CanaryWeight != 10 {
			t.Fatalf("weight rose to %d while the gate answered %d", d.Status.CanaryWeight, code.Load())
		}
		return held(d) && calls.Load() >= 9 // several polls of 3 attempts each
	})
	if !strings.Contains(l.last.Status.Message, "weight increase to 50% held by webhook gate confirm-traffic-increase") {
		t.Fatalf("status %q does not say which gate holds", l.last.Status.Message)
	}
	code.Store(200)
	l.until(t, "weight rises once the gate opens", func(d rollout.Decision) bool { return d.Status.CanaryWeight == 50 })
}

// TestSlowReceiverDoesNotBlock: while the receiver has not answered, the
// loop goes on deciding (the gate holds, "not answered yet"), and it
// decides as soon as the answer comes.
func TestSlowReceiverDoesNotBlock(t *testing.T) {
	got, release := make(chan struct{}, 10), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got <- struct{}{}
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer srv.Close()
	l := newLoop(t, hook(v1alpha1.WebhookConfirmPromotion, srv.URL))
	l.ro.Status.CurrentStepIndex, l.ro.Status.CanaryWeight, l.traffic.CanaryWeight = 2, 50, 50
	l.step()
	<-got // the receiver holds the call
	for range 100 {
		d := l.step() // would hang here if a decision waited on the receiver
		if d.Status.CanaryWeight != 50 || !strings.Contains(d.Status.Message, "confirm-promotion: not answered yet") {
			t.Fatalf("decided %d%% %q while the receiver was silent", d.Status.CanaryWeight, d.Status.Message)
		}
	}
	close(release)
	l.until(t, "promoted once the receiver answers", func(d rollout.Decision) bool { return d.Status.StableRevision == "2" })
}

// TestPreRolloutFailureAborts: a pre-rollout webhook that fails through its
// retries aborts the rollout before the canary gets traffic.
func TestPreRolloutFailureAborts(t *testing.T) {
	r := newReceiver(t, 500)
	l := newLoop(t, hook(v1alpha1.WebhookPreRollout, r.URL))
	l.ro.Status.CurrentStepIndex, l.ro.Status.CanaryWeight, l.traffic.CanaryWeight = 0, 0, 0
	l.until(t, "aborted", func(d rollout.Decision) bool {
		if d.Status.CanaryWeight != 0 {
			t.Fatalf("canary got %d%% before pre-rollout passed", d.Status.CanaryWeight)
		}
		return d.Status.Abort
	})
	if r.calls.Load() < 3 || !strings.Contains(l.last.Status.Message, "answered 500 after 3 attempts") {
		t.Fatalf("calls %d, status %q", r.calls.Load(), l.last.Status.Message)
	}
}
