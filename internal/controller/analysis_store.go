package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/run"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// saveTimeout bounds the writes of one save.
const saveTimeout = 10 * time.Second

// runStore persists the runs of one Rollout as AnalysisRun objects in its
// namespace, owned by it (so that they go with it): the object is created
// with the run's spec the first time, its status replaced at every save.
// It implements run.Store; the manager orders its saves.
type runStore struct {
	a     *Analyses
	owner *v1alpha1.Rollout // name, namespace, uid

	mu    sync.Mutex
	saved map[string]saved // by run name: what the cluster has
}

var _ run.Store = (*runStore)(nil)

// saved is what was last written of a run.
type saved struct {
	spec  string // JSON
	phase v1alpha1.AnalysisPhase
	obj   *v1alpha1.AnalysisRun // name, namespace, uid: what events refer to
}

func newRunStore(a *Analyses, ro *v1alpha1.Rollout) *runStore {
	owner := &v1alpha1.Rollout{}
	owner.Name, owner.Namespace, owner.UID = ro.Name, ro.Namespace, ro.UID
	owner.APIVersion, owner.Kind = v1alpha1.APIVersion, v1alpha1.KindRollout
	return &runStore{a: a, owner: owner, saved: map[string]saved{}}
}

// known records a run restored from the cluster.
func (s *runStore) known(r *v1alpha1.AnalysisRun) {
	spec, _ := json.Marshal(r.Spec)
	s.mu.Lock()
	s.saved[r.Name] = saved{spec: string(spec), phase: r.Status.Phase, obj: r}
	s.mu.Unlock()
}

// SaveRun writes a run: creates its object the first time, patches its
// spec when it changed (a run terminated), and replaces its status.
func (s *runStore) SaveRun(_ string, r *v1alpha1.AnalysisRun) error {
	ctx, cancel := context.WithTimeout(s.a.context(), saveTimeout)
	defer cancel()
	spec, err := json.Marshal(r.Spec)
	if err != nil {
		return fmt.Errorf("analysis run %s: %w", r.Name, err)
	}
	s.mu.Lock()
	last, ok := s.saved[r.Name]
	s.mu.Unlock()
	obj := last.obj
	switch {
	case !ok:
		if obj, err = s.create(ctx, r); err != nil {
			return err
		}
	case last.spec != string(spec):
		if err := s.patch(ctx, obj, "/spec", r.Spec); err != nil {
			return err
		}
	}
	if err := s.patch(ctx, obj, "/status", r.Status); err != nil {
		return err
	}
	s.mu.Lock()
	s.saved[r.Name] = saved{spec: string(spec), phase: r.Status.Phase, obj: obj}
	s.mu.Unlock()
	if r.Status.Phase.Completed() && !last.phase.Completed() {
		s.verdict(obj, r)
	}
	return nil
}

// create makes the run's object; one already there (a save that timed out
// after the server created it) is taken as it is.
func (s *runStore) create(ctx context.Context, r *v1alpha1.AnalysisRun) (*v1alpha1.AnalysisRun, error) {
	obj := &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: s.owner.Namespace, Labels: r.Labels, Annotations: r.Annotations},
		Spec:       r.Spec,
	}
	if err := controllerutil.SetControllerReference(s.owner, obj, s.a.kube.Scheme()); err != nil {
		return nil, err
	}
	err := s.a.kube.Create(ctx, obj)
	if apierrors.IsAlreadyExists(err) {
		err = s.a.reader.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	}
	if err != nil {
		return nil, fmt.Errorf("create AnalysisRun %s/%s: %w", s.owner.Namespace, r.Name, err)
	}
	return obj, nil
}

// patch replaces one part of the object (a JSON patch "add" replaces what
// is there), so that nothing of an older status lingers.
func (s *runStore) patch(ctx context.Context, obj *v1alpha1.AnalysisRun, path string, v any) error {
	p, err := json.Marshal([]map[string]any{{"op": "add", "path": path, "value": v}})
	if err != nil {
		return err
	}
	target := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: obj.Name, Namespace: obj.Namespace}}
	patch := client.RawPatch(types.JSONPatchType, p)
	if path == "/status" {
		err = s.a.kube.Status().Patch(ctx, target, patch)
	} else {
		err = s.a.kube.Patch(ctx, target, patch)
	}
	if err != nil {
		return fmt.Errorf("write the %s of AnalysisRun %s/%s: %w", path[1:], obj.Namespace, obj.Name, err)
	}
	return nil
}

// verdict records an event on the run when it is decided, naming each
// metric's verdict and last value.
func (s *runStore) verdict(obj *v1alpha1.AnalysisRun, r *v1alpha1.AnalysisRun) {
	typ := "Normal"
	if r.Status.Phase != v1alpha1.AnalysisSuccessful {
		typ = "Warning"
	}
	s.a.events.Eventf(obj, typ, "Analysis"+string(r.Status.Phase), "%s", verdictMessage(r))
}

// verdictMessage says what each metric measured: its phase and last value.
func verdictMessage(r *v1alpha1.AnalysisRun) string {
	var parts []string
	for _, m := range r.Status.MetricResults {
		part := fmt.Sprintf("metric %q %s", m.Name, strings.ToLower(string(m.Phase)))
		if n := len(m.Measurements); n > 0 && m.Measurements[n-1].Value != "" {
			part += ", last value " + m.Measurements[n-1].Value
		}
		if m.Message != "" {
			part += ": " + m.Message
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("analysis run %s %s: %s", r.Name, r.Status.Phase, r.Status.Message)
	}
	return fmt.Sprintf("analysis run %s %s: %s", r.Name, r.Status.Phase, strings.Join(parts, "; "))
}

// prune deletes the AnalysisRuns of the runs the manager no longer
// remembers (it keeps the last run.KeepUnlisted runs no longer listed), so
// that a Rollout's history of runs stays bounded.
func (s *runStore) prune(ctx context.Context, remembered []*v1alpha1.AnalysisRun) error {
	keep := map[string]bool{}
	for _, r := range remembered {
		keep[r.Name] = true
	}
	s.mu.Lock()
	var gone []*v1alpha1.AnalysisRun
	for name, sv := range s.saved {
		if !keep[name] && sv.obj != nil {
			gone = append(gone, sv.obj)
		}
	}
	s.mu.Unlock()
	for _, obj := range gone {
		uid := obj.UID
		err := s.a.kube.Delete(ctx, obj, client.Preconditions{UID: &uid})
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete AnalysisRun %s/%s, beyond the %d runs kept: %w", obj.Namespace, obj.Name, run.KeepUnlisted, err)
		}
		s.mu.Lock()
		delete(s.saved, obj.Name)
		s.mu.Unlock()
	}
	return nil
}
