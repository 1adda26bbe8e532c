package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/router/service"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIsKubectlPlugin(t *testing.T) {
	for argv0, want := range map[string]bool{
		"kubectl-fledge": true, "/usr/local/bin/kubectl-fledge": true, `kubectl-fledge.exe`: true,
		"fledge": false, "./fledge": false, "kubectl-fledge-old": false, "kubectl": false,
	} {
		if got := IsKubectlPlugin(argv0); got != want {
			t.Errorf("IsKubectlPlugin(%q) = %v, want %v", argv0, got, want)
		}
	}
}

// TestKubeVerbsBothWays checks that `kubectl fledge` and `fledge kube`
// offer the same verbs and flags.
func TestKubeVerbsBothWays(t *testing.T) {
	want := []string{"abort", "get", "history", "pause", "promote", "resume", "retry", "set", "status", "undo"}
	plugin := NewKubectlPlugin(IOStreams{})
	var kube []string
	for _, c := range NewRoot(IOStreams{}).Commands() {
		if c.Name() != "kube" {
			continue
		}
		for _, sub := range c.Commands() {
			kube = append(kube, sub.Name())
		}
		for _, flag := range []string{"kubeconfig", "context", "namespace"} {
			if c.PersistentFlags().Lookup(flag) == nil || plugin.PersistentFlags().Lookup(flag) == nil {
				t.Errorf("--%s missing", flag)
			}
		}
	}
	var names []string
	for _, c := range plugin.Commands() {
		if c.Name() != "completion" && c.Name() != "help" {
			names = append(names, c.Name())
		}
	}
	if !slices.Equal(names, want) || !slices.Equal(kube, want) {
		t.Errorf("kubectl fledge verbs %v, fledge kube verbs %v, want %v", names, kube, want)
	}
}

func TestKubeNoKubeconfig(t *testing.T) {
	var out, errOut bytes.Buffer
	root := NewKubectlPlugin(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	missing := filepath.Join(t.TempDir(), "nothing")
	root.SetArgs([]string{"--kubeconfig", missing, "status", "web"})
	if code := Execute(context.Background(), root); code != 1 || !strings.Contains(errOut.String(), "find the cluster") || !strings.Contains(errOut.String(), missing) {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestParseImages(t *testing.T) {
	got, err := parseImages([]string{"web=nginx:1.2", "side=busybox@sha256:ab=c"})
	if err != nil || len(got) != 2 || got[1] != (containerImage{"side", "busybox@sha256:ab=c"}) {
		t.Fatalf("parseImages: %v, %v", got, err)
	}
	for arg, want := range map[string]string{"web": "want CONTAINER=IMAGE", "=img": "want CONTAINER=IMAGE", "web=": "want CONTAINER=IMAGE"} {
		if _, err := parseImages([]string{arg}); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), arg) {
			t.Errorf("parseImages(%q): %v", arg, err)
		}
	}
	if _, err := parseImages([]string{"web=a", "web=b"}); err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Errorf("a container named twice: %v", err)
	}
}

func TestApplyImages(t *testing.T) {
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1"}},
		Containers:     []corev1.Container{{Name: "web", Image: "echo:1"}, {Name: "side", Image: "proxy:1"}},
	}
	if changed, err := applyImages(&spec, []containerImage{{"web", "echo:2"}, {"init", "busybox:2"}}); !changed || err != nil {
		t.Fatalf("changed %v, err %v", changed, err)
	}
	if spec.Containers[0].Image != "echo:2" || spec.InitContainers[0].Image != "busybox:2" || spec.Containers[1].Image != "proxy:1" {
		t.Fatalf("images after: %+v", spec)
	}
	if changed, err := applyImages(&spec, []containerImage{{"web", "echo:2"}}); changed || err != nil {
		t.Fatalf("the same image again: changed %v, err %v", changed, err)
	}
	_, err := applyImages(&spec, []containerImage{{"api", "x"}})
	if err == nil || !strings.Contains(err.Error(), "container api") || !strings.Contains(err.Error(), "init, web, side") {
		t.Fatalf("unknown container: %v", err)
	}
}

func TestUndoTarget(t *testing.T) {
	now := time.Now()
	revs := []revision{{id: "c", created: now}, {id: "b", created: now.Add(-time.Minute)}, {id: "a", created: now.Add(-time.Hour)}}
	for name, tc := range map[string]struct {
		st            v1alpha1.RolloutStatus
		desired, to   string
		want, wantErr string
	}{
		"a release in progress goes back to stable": {st: v1alpha1.RolloutStatus{StableRevision: "b", CanaryRevision: "c"}, desired: "c", want: "b"},
		"an aborted release goes back to stable":    {st: v1alpha1.RolloutStatus{StableRevision: "b", CanaryRevision: "c", Abort: true}, desired: "c", want: "b"},
		"healthy goes back to the newest other":     {st: v1alpha1.RolloutStatus{StableRevision: "c"}, desired: "c", want: "b"},
		"after an undo, forth again":                {st: v1alpha1.RolloutStatus{StableRevision: "a"}, desired: "a", want: "c"},
		"to a named revision":                       {st: v1alpha1.RolloutStatus{StableRevision: "c"}, desired: "c", to: "a", want: "a"},
		"to an unknown revision":                    {st: v1alpha1.RolloutStatus{StableRevision: "c"}, desired: "c", to: "z", wantErr: "--to-revision z: no such revision (there are: c, b, a)"},
		"to the current revision":                   {st: v1alpha1.RolloutStatus{StableRevision: "c"}, desired: "c", to: "c", wantErr: "that revision already"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := undoTarget(tc.st, tc.desired, revs, tc.to)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := undoTarget(v1alpha1.RolloutStatus{StableRevision: "a"}, "a", revs[2:], ""); err == nil || !strings.Contains(err.Error(), "no earlier revision") {
		t.Fatalf("a single revision: %v", err)
	}
}

// TestRevisionTemplate checks that the template read back from a
// revision's Deployment is the user's: the same revision.
func TestRevisionTemplate(t *testing.T) {
	user := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "echo:1"}}},
	}
	rev := controller.Revision(&user)
	own := map[string]string{service.LabelRollout: "web", service.LabelRevision: rev}
	tpl := *user.DeepCopy()
	for k, v := range own {
		tpl.Labels[k] = v
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web-" + rev, Labels: own}, Spec: appsv1.DeploymentSpec{Template: tpl}}
	got := revisionTemplate(d)
	if r := controller.Revision(&got); r != rev {
		t.Fatalf("revision of the template read back: %s, want %s (labels %v)", r, rev, got.Labels)
	}
	if d.Spec.Template.Labels[service.LabelRevision] != rev {
		t.Fatal("revisionTemplate changed the Deployment")
	}
}

func TestApplied(t *testing.T) {
	paused := v1alpha1.RolloutStatus{CanaryRevision: "b", CurrentStepIndex: 1, PauseConditions: []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseCanaryStep}}}
	userPaused := paused
	userPaused.PauseConditions = append(slices.Clone(paused.PauseConditions), v1alpha1.PauseCondition{Reason: v1alpha1.PauseUser})
	next := v1alpha1.RolloutStatus{CanaryRevision: "b", CurrentStepIndex: 2}
	aborted := paused
	aborted.Abort = true
	aborted.Attempt = 1
	retried := next
	retried.Attempt = 2
	full := paused
	full.PromoteFull = true
	for name, tc := range map[string]struct {
		c             rollout.Command
		before, after v1alpha1.RolloutStatus
		want          bool
	}{
		"promote moves the step":       {rollout.CommandPromote, paused, next, true},
		"promote rejected":             {rollout.CommandPromote, v1alpha1.RolloutStatus{}, v1alpha1.RolloutStatus{}, false},
		"pause adds the user's pause":  {rollout.CommandPause, paused, userPaused, true},
		"pause when paused by user":    {rollout.CommandPause, userPaused, userPaused, false},
		"resume lifts the user's":      {rollout.CommandResume, userPaused, paused, true},
		"resume ends a step's pause":   {rollout.CommandResume, paused, next, true},
		"resume rejected":              {rollout.CommandResume, next, next, false},
		"abort":                        {rollout.CommandAbort, paused, aborted, true},
		"abort when aborted":           {rollout.CommandAbort, aborted, aborted, false},
		"retry":                        {rollout.CommandRetry, aborted, retried, true},
		"retry rejected":               {rollout.CommandRetry, next, next, false},
		"promote-full":                 {rollout.CommandPromoteFull, paused, full, true},
		"promote-full with no release": {rollout.CommandPromoteFull, v1alpha1.RolloutStatus{}, v1alpha1.RolloutStatus{}, false},
	} {
		if got := applied(tc.c, tc.before, tc.after); got != tc.want {
			t.Errorf("%s: applied = %v, want %v", name, got, tc.want)
		}
	}
}

func TestRejection(t *testing.T) {
	old := corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1"}, Reason: "CommandRejected", Message: "promote: no rollout is in progress", Count: 1}
	again := old
	again.Count = 2
	other := corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.2"}, Reason: "CommandRejected", Message: "abort: no rollout is in progress", Count: 1}
	if _, ok := rejection(rollout.CommandPromote, []corev1.Event{old}, []corev1.Event{old, other}); ok {
		t.Error("an old rejection, or another command's, taken for this one")
	}
	if r, ok := rejection(rollout.CommandPromote, []corev1.Event{old}, []corev1.Event{again}); !ok || r != "no rollout is in progress" {
		t.Errorf("a rejection recorded again: %q %v", r, ok)
	}
	if r, ok := rejection(rollout.CommandAbort, nil, []corev1.Event{old, other}); !ok || r != "no rollout is in progress" {
		t.Errorf("a new rejection: %q %v", r, ok)
	}
}

// A rejection that names its sender gives the reason without the name.
func TestRejectionOfANamedSender(t *testing.T) {
	e := corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.3", Annotations: map[string]string{controller.AnnotationActor: "kubectl-fledge:alice"}},
		Reason: "CommandRejected", Message: "retry: nothing to retry: the rollout is not aborted (by kubectl-fledge:alice)", Count: 1}
	if r, ok := rejection(rollout.CommandRetry, nil, []corev1.Event{e}); !ok || r != "nothing to retry: the rollout is not aborted" {
		t.Errorf("rejection %q %v", r, ok)
	}
}

// Events caused by a command name its sender; the others, the component
// that recorded them.
func TestKubeEventsActor(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
	got := kubeEvents([]corev1.Event{
		{Reason: "WeightChanged", Source: corev1.EventSource{Component: "fledge"}, LastTimestamp: at},
		{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{controller.AnnotationActor: "dashboard:alice"}},
			Reason: "Aborted", Message: "aborted by user (by dashboard:alice)", Source: corev1.EventSource{Component: "fledge"}, LastTimestamp: at},
	})
	if len(got) != 2 || got[0].Actor != "fledge" || got[1].Actor != "dashboard:alice" || got[1].Message != "aborted by user (by dashboard:alice)" {
		t.Errorf("events %+v: want fledge, then dashboard:alice with the message whole", got)
	}
}

func TestKubeSettled(t *testing.T) {
	for name, tc := range map[string]struct {
		st       v1alpha1.RolloutStatus
		desired  string
		done, ok bool
	}{
		"healthy on the template's revision": {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "a"}, "a", true, true},
		"template changed, not seen yet":     {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "a"}, "b", false, false},
		"workload unknown":                   {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "a"}, "", true, true},
		"releasing":                          {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseProgressing, StableRevision: "a", CanaryRevision: "b"}, "b", false, false},
		"degraded":                           {v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseDegraded, StableRevision: "a", CanaryRevision: "b", Abort: true}, "b", true, false},
		"not reconciled yet":                 {v1alpha1.RolloutStatus{}, "a", false, false},
	} {
		if done, ok := kubeSettled(tc.st, tc.desired); done != tc.done || ok != tc.ok {
			t.Errorf("%s: done %v ok %v, want %v %v", name, done, ok, tc.done, tc.ok)
		}
	}
}

func TestKubeEvents(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	var list []corev1.Event
	for i := 7; i >= 1; i-- {
		list = append(list, corev1.Event{Reason: "R" + string(rune('0'+i)), FirstTimestamp: at(0), LastTimestamp: at(time.Duration(i) * time.Second)})
	}
	list = append(list, corev1.Event{Reason: "Series", EventTime: metav1.NewMicroTime(t0), Series: &corev1.EventSeries{Count: 3, LastObservedTime: metav1.NewMicroTime(t0.Add(time.Hour))}})
	got := kubeEvents(list)
	var reasons []string
	for _, e := range got {
		reasons = append(reasons, e.Reason)
	}
	if want := []string{"R4", "R5", "R6", "R7", "Series"}; !slices.Equal(reasons, want) {
		t.Fatalf("events %v, want the last %d oldest first: %v", reasons, maxEvents, want)
	}
}

func TestRenderConditions(t *testing.T) {
	var b bytes.Buffer
	renderConditions(&b, []metav1.Condition{
		{Type: "Available", Status: metav1.ConditionTrue, Reason: "ReadyReplicas"},
		{Type: "Paused", Status: metav1.ConditionFalse, Reason: "Paused"},
	}, painter(false))
	want := "Conditions:\n  Available     True    ReadyReplicas\n  Paused        False   Paused\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	renderConditions(&b, nil, painter(false))
	if b.Len() != 0 {
		t.Fatalf("no conditions rendered as %q", b.String())
	}
}

// TestStatusViewJSON checks that -o json keeps the summary's fields at the
// top level and adds the conditions.
func TestStatusViewJSON(t *testing.T) {
	v := statusView{summary: summary{Name: "web", Phase: v1alpha1.PhaseHealthy}, Conditions: []metav1.Condition{{Type: "Available", Status: metav1.ConditionTrue}}}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil || doc["name"] != "web" || doc["phase"] != "Healthy" || doc["conditions"] == nil {
		t.Fatalf("status -o json: %s", b)
	}
}
