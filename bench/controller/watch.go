package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// The kinds the recorder watches: the Rollouts (the controller's status
// writes), the Deployments (the trigger on the user's; the readiness of the
// revisions' the controller waits for) and the HTTPRoutes (the weights it
// waits to read back).
var (
	gvrRollout    = schema.GroupVersionResource{Group: "fledge.dev", Version: "v1alpha1", Resource: "rollouts"}
	gvrDeployment = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrHTTPRoute  = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
)

const labelRollout = "fledge.dev/rollout" // on the controller's revision Deployments

// recorder timestamps, as its watches deliver them, every change the
// benchmark's rollouts go through, in one timeline per rollout.
type recorder struct {
	prefix string // namespaces of the run

	mu        sync.Mutex
	timelines map[string][]event                // rollout key -> events in arrival order
	seen      map[string]string                 // object -> fingerprint of its last version
	status    map[string]v1alpha1.RolloutStatus // rollout key -> last status
	baseline  map[string]string                 // rollout key -> stable revision before the trigger
	done      map[string]bool
	revisions map[string]*revisionTimes // revision Deployment key -> when created, when ready
}

// revisionTimes is the cluster's side of a revision: from its Deployment
// appearing to its replica being available.
type revisionTimes struct{ created, ready time.Time }

func newRecorder(prefix string) *recorder {
	return &recorder{prefix: prefix, timelines: map[string][]event{}, seen: map[string]string{},
		status: map[string]v1alpha1.RolloutStatus{}, done: map[string]bool{}, revisions: map[string]*revisionTimes{}}
}

// start runs the watches until ctx ends and waits for their first lists.
func (r *recorder) start(ctx context.Context, dyn dynamic.Interface) error {
	f := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	for gvr, on := range map[schema.GroupVersionResource]func(*unstructured.Unstructured){
		gvrRollout: r.onRollout, gvrDeployment: r.onDeployment, gvrHTTPRoute: r.onRoute,
	} {
		handle := func(obj any) {
			if u, ok := obj.(*unstructured.Unstructured); ok && strings.HasPrefix(u.GetNamespace(), r.prefix) {
				on(u)
			}
		}
		if _, err := f.ForResource(gvr).Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: handle, UpdateFunc: func(_, obj any) { handle(obj) },
		}); err != nil {
			return fmt.Errorf("watch %s: %w", gvr.Resource, err)
		}
	}
	f.Start(ctx.Done())
	for gvr, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("watch %s: no first list", gvr.Resource)
		}
	}
	return nil
}

// changed tells whether obj's fingerprint differs from the last one seen.
func (r *recorder) changed(obj string, v any) bool {
	b, _ := json.Marshal(v)
	if r.seen[obj] == string(b) {
		return false
	}
	r.seen[obj] = string(b)
	return true
}

// onRollout records a status write: a step when the phase, the step, the
// weight or the revisions changed; done when the new revision is stable.
func (r *recorder) onRollout(u *unstructured.Unstructured) {
	now := time.Now()
	var ro v1alpha1.Rollout
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ro); err != nil {
		return
	}
	key := u.GetNamespace() + "/" + u.GetName()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.changed("rollout "+key, ro.Status) {
		return // a metadata or spec change: not the controller's status write
	}
	prev := r.status[key]
	r.status[key] = ro.Status
	st := ro.Status
	e := event{at: now, kind: evWrite, what: fmt.Sprintf("%s step %d weight %d", st.Phase, st.CurrentStepIndex, st.CanaryWeight),
		step: st.Phase != prev.Phase || st.CurrentStepIndex != prev.CurrentStepIndex || st.CanaryWeight != prev.CanaryWeight ||
			st.CanaryRevision != prev.CanaryRevision || st.StableRevision != prev.StableRevision}
	if base, ok := r.baseline[key]; ok && !r.done[key] && st.Phase == v1alpha1.PhaseHealthy &&
		st.CanaryRevision == "" && st.StableRevision != "" && st.StableRevision != base {
		e.done, r.done[key] = true, true
	}
	r.timelines[key] = append(r.timelines[key], e)
}

// onDeployment records the trigger (the user's Deployment given the new
// image) and every status change of a revision's Deployment: an input the
// controller may be waiting for.
func (r *recorder) onDeployment(u *unstructured.Unstructured) {
	now := time.Now()
	key := u.GetNamespace() + "/" + u.GetName()
	r.mu.Lock()
	defer r.mu.Unlock()
	owner, isRevision := u.GetLabels()[labelRollout]
	if !isRevision {
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		if r.changed("workload "+key, containers) && strings.Contains(fmt.Sprint(containers), imageV2) {
			r.timelines[key] = append(r.timelines[key], event{at: now, kind: evTrigger, what: "image " + imageV2})
		}
		return
	}
	status, _, _ := unstructured.NestedMap(u.Object, "status")
	replicas, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
	if !r.changed("deployment "+key, []any{status, replicas, u.GetGeneration()}) {
		return
	}
	rk := u.GetNamespace() + "/" + owner
	r.timelines[rk] = append(r.timelines[rk], event{at: now, kind: evInput, what: "deployment " + u.GetName()})
	if _, ok := r.baseline[rk]; !ok {
		return // a revision of the setup, not of the canary
	}
	rt := r.revisions[key]
	if rt == nil {
		rt = &revisionTimes{created: now}
		r.revisions[key] = rt
	}
	avail, _, _ := unstructured.NestedInt64(u.Object, "status", "availableReplicas")
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if rt.ready.IsZero() && replicas > 0 && avail >= replicas && observed >= u.GetGeneration() {
		rt.ready = now
	}
}

// onRoute records a change of an HTTPRoute's rules: the weights the
// controller set, which it reads back before going on.
func (r *recorder) onRoute(u *unstructured.Unstructured) {
	now := time.Now()
	key := u.GetNamespace() + "/" + u.GetName() // the route is named as its rollout
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.changed("route "+key, rules) {
		r.timelines[key] = append(r.timelines[key], event{at: now, kind: evInput, what: "httproute"})
	}
}

// healthy counts the targets Healthy with a stable revision (the setup
// done), and remembers each one's stable revision as its baseline.
func (r *recorder) healthy(targets []target) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range targets {
		if st := r.status[t.key()]; st.Phase == v1alpha1.PhaseHealthy && st.StableRevision != "" && st.CanaryRevision == "" {
			n++
		}
	}
	return n
}

// markBaseline records each target's stable revision before the canary.
func (r *recorder) markBaseline(targets []target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.baseline = map[string]string{}
	for _, t := range targets {
		r.baseline[t.key()] = r.status[t.key()].StableRevision
	}
}

// completed counts the targets whose new revision is stable.
func (r *recorder) completed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.done)
}

// snapshot copies the timelines and revision times for the analysis.
func (r *recorder) snapshot() (map[string][]event, []revisionTimes) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tl := make(map[string][]event, len(r.timelines))
	for k, v := range r.timelines {
		tl[k] = append([]event(nil), v...)
	}
	var revs []revisionTimes
	for _, rt := range r.revisions {
		revs = append(revs, *rt)
	}
	return tl, revs
}
