package cluster

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestCommandActor: a command names who sent it, and the controller's
// Events of the decision that applied it say so. A promote from kubectl
// fledge is kubectl-fledge:USER, an abort from the dashboard's button
// dashboard:USER (USER as the API server knows the credentials), a retry
// annotated by hand with a sender's name that is not valid is unknown;
// the sender's name goes with the command; and the dashboard shows each
// beside its Event, the engine's own as fledge.
func TestCommandActor(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 20
        - pause: {}
        - setWeight: 50
        - pause: {}
`)
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	user, err := controller.WhoAmI(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "paused at 20%", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 20
	})

	byCLI := "kubectl-fledge:" + user
	mustRun(t, ns, "rollout.fledge.dev/web promoted", "promote", "web")
	promoted := eventBy(t, ns, byCLI)
	noCommandLeft(t, ns)

	d := startDashboard(t, ns)
	byDashboard := "dashboard:" + user
	if code, body := d.post(t, "/dashboard/api/rollouts/web/abort"); code != http.StatusOK {
		t.Fatalf("POST abort: %d %s", code, body)
	}
	if e := eventBy(t, ns, byDashboard); e.Reason != "Aborted" {
		t.Errorf("the dashboard's abort: Event %s %q, want Aborted", e.Reason, e.Message)
	}
	noCommandLeft(t, ns)

	ro := rolloutOf(t, ns, "web")
	base := ro.DeepCopy()
	ro.Annotations = map[string]string{controller.AnnotationCommand: "retry", controller.AnnotationCommandBy: "bob\n[info] alice retried"}
	if err := kube.Patch(ctx, ro, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	if e := eventBy(t, ns, controller.ActorUnknown); e.Reason != "Retried" {
		t.Errorf("the retry by hand: Event %s %q, want Retried", e.Reason, e.Message)
	}
	noCommandLeft(t, ns)

	want := map[string]string{promoted.Reason: byCLI, "Aborted": byDashboard, "Retried": controller.ActorUnknown}
	eventually(t, 30*time.Second, "the dashboard shows who caused each event", func() (bool, string) {
		var det struct {
			Markers []struct {
				Reason  string `json:"reason"`
				Message string `json:"message"`
				Who     string `json:"who"`
			} `json:"markers"`
		}
		if code := d.getJSON(t, "/dashboard/api/rollouts/web", &det); code != http.StatusOK {
			return false, fmt.Sprint(code)
		}
		found, engine := map[string]bool{}, false
		for _, m := range det.Markers {
			if strings.Contains(m.Message, "(by ") {
				return false, fmt.Sprintf("%s %q: the sender's name left in the message", m.Reason, m.Message)
			}
			if who, ok := want[m.Reason]; ok && m.Who == who {
				found[m.Reason] = true
			}
			engine = engine || (m.Reason == "RolloutStarted" && m.Who == "fledge")
		}
		return len(found) == len(want) && engine, fmt.Sprintf("%+v", det.Markers)
	})
}

// eventBy waits for an Event about the Rollout web that names actor, and
// checks that its message does too.
func eventBy(t *testing.T, ns, actor string) corev1.Event {
	t.Helper()
	var found corev1.Event
	eventually(t, 30*time.Second, "an Event by "+actor, func() (bool, string) {
		var list corev1.EventList
		if err := kube.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == v1alpha1.KindRollout && e.InvolvedObject.Name == "web" && e.Annotations[controller.AnnotationActor] == actor {
				found = e
				return true, ""
			}
			seen = append(seen, fmt.Sprintf("%s %q %v", e.Reason, e.Message, e.Annotations))
		}
		return false, strings.Join(seen, "; ")
	})
	t.Logf("Event %s %q, %s=%q", found.Reason, found.Message, controller.AnnotationActor, found.Annotations[controller.AnnotationActor])
	if !strings.HasSuffix(found.Message, "(by "+actor+")") {
		t.Errorf("Event %s %q: the message does not end with (by %s)", found.Reason, found.Message, actor)
	}
	return found
}

// noCommandLeft checks that the controller removed the command and its
// sender's name together.
func noCommandLeft(t *testing.T, ns string) {
	t.Helper()
	eventually(t, 30*time.Second, "the command and its sender removed", func() (bool, string) {
		a := rolloutOf(t, ns, "web").Annotations
		_, cmd := a[controller.AnnotationCommand]
		_, by := a[controller.AnnotationCommandBy]
		return !cmd && !by, fmt.Sprint(a)
	})
}
