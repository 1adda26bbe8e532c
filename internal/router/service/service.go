package service

import (
	"context"
	"fmt"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels Fledge puts on the pods of each revision; the Services select by them.
const (
	LabelRollout  = "fledge.dev/rollout"
	LabelRevision = "fledge.dev/revision"
)

// StableName and CanaryName are the Services the routers send traffic to.
func StableName(ro *v1alpha1.Rollout) string { return ro.Name + "-stable" }
func CanaryName(ro *v1alpha1.Rollout) string { return ro.Name + "-canary" }

// Canary is what a router sends to <rollout>-canary, beside the revisions
// the Services select: a share of the traffic, the requests of header
// routes, and copies of the requests of mirror routes.
type Canary struct {
	Weight  int32
	Headers []v1alpha1.SetHeaderRoute
	Mirrors []v1alpha1.SetMirrorRoute
}

// Weights is the router-specific half of a Kubernetes router: what it
// sends to <rollout>-canary. The revisions behind the two Services are this
// package's half. ObservedWeights must read back exactly what SetWeights
// applied (routes in the order given), since the engine compares them.
type Weights interface {
	SetWeights(ctx context.Context, c Canary) error
	ObservedWeights(ctx context.Context) (Canary, error)
}

// Route applies t through w: when the canary Service must select another
// revision while it takes traffic, its traffic (and any copy of it) is
// withdrawn first, so that no request reaches a revision the engine did
// not weigh; then both Services are pointed at their revisions, then the
// weights and routes are set.
func Route(ctx context.Context, c client.Client, ro *v1alpha1.Rollout, w Weights, t rollout.Traffic) error {
	canary := t.Canary
	if canary == "" {
		canary = t.Preview
	}
	_, current, err := Revisions(ctx, c, ro)
	if err != nil {
		return err
	}
	if canary != "" && canary != current {
		if err := w.SetWeights(ctx, Canary{}); err != nil {
			return fmt.Errorf("withdraw traffic from canary revision %s: %w", current, err)
		}
	}
	if err := Select(ctx, c, ro, StableName(ro), t.Stable); err != nil {
		return err
	}
	if err := Select(ctx, c, ro, CanaryName(ro), canary); err != nil {
		return err
	}
	return w.SetWeights(ctx, Canary{Weight: t.CanaryWeight, Headers: t.HeaderRoutes, Mirrors: t.MirrorRoutes})
}

// Observe reads back the traffic: the revisions the Services select and
// what w sends to the canary.
func Observe(ctx context.Context, c client.Client, ro *v1alpha1.Rollout, w Weights) (rollout.Traffic, error) {
	stable, canary, err := Revisions(ctx, c, ro)
	if err != nil {
		return rollout.Traffic{}, err
	}
	cw, err := w.ObservedWeights(ctx)
	if err != nil {
		return rollout.Traffic{}, err
	}
	t := rollout.Traffic{Stable: stable, Canary: canary, CanaryWeight: cw.Weight, HeaderRoutes: cw.Headers, MirrorRoutes: cw.Mirrors}
	if ro.Spec.Strategy.BlueGreen != nil {
		t.Preview = canary // the canary Service is blue-green's preview; a canary's takes only its weight
	}
	return t, nil
}

// Revisions returns the revisions the stable and canary Services select
// (empty when a Service is missing or selects none).
func Revisions(ctx context.Context, c client.Client, ro *v1alpha1.Rollout) (stable, canary string, err error) {
	if stable, err = selected(ctx, c, ro.Namespace, StableName(ro)); err != nil {
		return "", "", err
	}
	canary, err = selected(ctx, c, ro.Namespace, CanaryName(ro))
	return stable, canary, err
}

func selected(ctx context.Context, c client.Client, ns, name string) (string, error) {
	var svc corev1.Service
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &svc); err != nil {
		return "", client.IgnoreNotFound(fmt.Errorf("read Service %s/%s: %w", ns, name, err))
	}
	return svc.Spec.Selector[LabelRevision], nil
}

// Select points a Service at the pods of a revision (nothing to do for an
// empty revision). The Service's other selector keys, the user's, stay.
func Select(ctx context.Context, c client.Client, ro *v1alpha1.Rollout, name, rev string) error {
	if rev == "" {
		return nil
	}
	var svc corev1.Service
	if err := c.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: name}, &svc); err != nil {
		return fmt.Errorf("read Service %s/%s: %w", ro.Namespace, name, err)
	}
	if svc.Spec.Selector[LabelRevision] == rev && svc.Spec.Selector[LabelRollout] == ro.Name {
		return nil
	}
	base := svc.DeepCopy()
	if svc.Spec.Selector == nil {
		svc.Spec.Selector = map[string]string{}
	}
	svc.Spec.Selector[LabelRollout], svc.Spec.Selector[LabelRevision] = ro.Name, rev
	if err := c.Patch(ctx, &svc, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("point Service %s/%s at revision %s: %w", ro.Namespace, name, rev, err)
	}
	return nil
}
