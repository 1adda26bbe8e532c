package cluster

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestLeaderElectionOneActs runs two controllers on one Lease (in the
// test's namespace, so that only these two compete for it): one holds the
// Lease and only it starts its reconciler workers and drives the rollout;
// the other waits. The leader is then killed (SIGKILL: the Lease is not
// released); once the Lease expires the other takes it over, starts its
// workers and the rollout goes on.
func TestLeaderElectionOneActs(t *testing.T) {
	ns := namespace(t)
	a := startControllerWith(t, kubeconfig, ns)
	b := startControllerWith(t, kubeconfig, ns)
	var leader, standby *proc
	eventually(t, 30*time.Second, "one controller acquires the Lease", func() (bool, string) {
		la, lb := a.leads(), b.leads()
		switch {
		case la && lb:
			t.Fatalf("both controllers acquired the Lease:\n%s\n---\n%s", a.logText(), b.logText())
		case la:
			leader, standby = a, b
		case lb:
			leader, standby = b, a
		}
		return leader != nil, "neither log says it acquired the Lease"
	})
	first := lease(t, ns)
	if first.Spec.HolderIdentity == nil || *first.Spec.HolderIdentity == "" {
		t.Fatalf("the Lease has no holder while %s leads", leader.log)
	}

	setup(t, ns, `
        - setWeight: 20
        - pause: {}
`)
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "paused at 20%", pausedAt(20))
	if !strings.Contains(leader.logText(), "Starting workers") {
		t.Fatalf("the leader started no reconciler worker:\n%s", leader.logText())
	}
	if s := standby.logText(); strings.Contains(s, "Starting workers") || standby.leads() {
		t.Fatalf("the standby controller started reconciling while the leader holds the Lease:\n%s", s)
	}
	if h := lease(t, ns).Spec.HolderIdentity; *h != *first.Spec.HolderIdentity {
		t.Fatalf("the Lease moved from %s to %s with both controllers up", *first.Spec.HolderIdentity, *h)
	}

	leader.stop(syscall.SIGKILL)
	eventually(t, 40*time.Second, "the standby takes the Lease over", func() (bool, string) {
		l := lease(t, ns)
		h := ""
		if l.Spec.HolderIdentity != nil {
			h = *l.Spec.HolderIdentity
		}
		return standby.leads() && h != *first.Spec.HolderIdentity && h != "",
			fmt.Sprintf("holder %q (was %q)", h, *first.Spec.HolderIdentity)
	})
	if l := lease(t, ns); l.Spec.LeaseTransitions == nil || first.Spec.LeaseTransitions == nil || *l.Spec.LeaseTransitions != *first.Spec.LeaseTransitions+1 {
		t.Fatalf("lease transitions %v after the takeover, %v before: want one more", l.Spec.LeaseTransitions, first.Spec.LeaseTransitions)
	}
	t.Logf("Lease holder %s, then %s after the leader was killed", *first.Spec.HolderIdentity, *lease(t, ns).Spec.HolderIdentity)
	command(t, ns, "web", "promote")
	waitStatus(t, ns, "web", "promoted by the new leader", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.CurrentStepIndex == 2
	})
	if !strings.Contains(standby.logText(), "Starting workers") {
		t.Fatalf("the new leader started no reconciler worker:\n%s", standby.logText())
	}
}

// leads tells whether the controller's log says it acquired its Lease.
func (p *proc) leads() bool { return strings.Contains(p.logText(), "Successfully acquired lease") }

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// lease is the Lease the test controllers elect their leader on.
func lease(t *testing.T, ns string) *coordinationv1.Lease {
	t.Helper()
	var l coordinationv1.Lease
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: "fledge-test"}, &l); err != nil {
		t.Fatal(err)
	}
	return &l
}
