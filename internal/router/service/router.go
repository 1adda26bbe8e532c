package service

import (
	"context"
	"fmt"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/router"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func init() { router.Register("service", New) }

// Router is the blue-green switch without a traffic router: the active
// Service selects one revision's pods at a time, all or nothing.
type Router struct {
	c      client.Client
	ro     *v1alpha1.Rollout
	active string
}

var _ router.Router = (*Router)(nil)

// New builds the switch for the rollout's trafficRouting.service.
func New(cfg router.Config) (router.Router, error) {
	if cfg.Kube == nil {
		return nil, fmt.Errorf("the service router needs a Kubernetes client (Kubernetes mode)")
	}
	r := &Router{c: cfg.Kube, ro: cfg.Rollout, active: StableName(cfg.Rollout)}
	if bg := cfg.Rollout.Spec.Strategy.BlueGreen; bg != nil && bg.TrafficRouting != nil && bg.TrafficRouting.Service != nil {
		if a := bg.TrafficRouting.Service.ActiveService; a != "" {
			r.active = a
		}
	}
	return r, nil
}

// SetTraffic points the active Service at the canary once it takes 100%,
// at stable otherwise; the canary Service always shows the preview.
func (r *Router) SetTraffic(ctx context.Context, t rollout.Traffic) error {
	if t.CanaryWeight != 0 && t.CanaryWeight != 100 {
		return fmt.Errorf("the service router switches all traffic at once: cannot send %d%% to the canary", t.CanaryWeight)
	}
	preview := t.Preview
	if preview == "" {
		preview = t.Canary
	}
	if err := Select(ctx, r.c, r.ro, CanaryName(r.ro), preview); err != nil {
		return err
	}
	active := t.Stable
	if t.CanaryWeight == 100 && t.Canary != "" {
		active = t.Canary
	}
	if r.active != StableName(r.ro) {
		if err := Select(ctx, r.c, r.ro, StableName(r.ro), t.Stable); err != nil {
			return err
		}
	}
	return Select(ctx, r.c, r.ro, r.active, active)
}

// Observed reads the revision the active Service selects: one other than
// the stable revision takes everything.
func (r *Router) Observed(ctx context.Context) (rollout.Traffic, error) {
	active, err := selected(ctx, r.c, r.ro.Namespace, r.active)
	if err != nil {
		return rollout.Traffic{}, err
	}
	preview, err := selected(ctx, r.c, r.ro.Namespace, CanaryName(r.ro))
	if err != nil {
		return rollout.Traffic{}, err
	}
	if stable := r.ro.Status.StableRevision; active != "" && stable != "" && active != stable {
		return rollout.Traffic{Stable: stable, Canary: active, CanaryWeight: 100, Preview: preview}, nil
	}
	return rollout.Traffic{Stable: active, Canary: preview, Preview: preview}, nil
}
