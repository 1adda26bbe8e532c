// Package router defines how the rollout engine's desired traffic reaches a
// real traffic router, and the registry of routers. Each router lives in its
// own package (proxy/ for the embedded proxy) and registers itself under the
// name of its field in spec.strategy.*.trafficRouting.
package router

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Router enforces a traffic split and reports what it applied.
type Router interface {
	// SetTraffic applies the desired split; it returns once the router
	// enforces it (or an error saying why not).
	SetTraffic(ctx context.Context, t rollout.Traffic) error
	// Observed reads back what the router enforces now.
	Observed(ctx context.Context) (rollout.Traffic, error)
}

// Config is what a router is built from.
type Config struct {
	// Rollout is the defaulted rollout whose traffic is routed.
	Rollout *v1alpha1.Rollout
	// Metrics receives per-request counts, for routers that see requests.
	Metrics *metrics.Registry
	// Kube is the API client of the Kubernetes routers (nil in local mode).
	Kube client.Client
}

// Constructor builds a router.
type Constructor func(Config) (Router, error)

var (
	mu       sync.RWMutex
	registry = map[string]Constructor{}
)

// Register makes a router available under id; it panics on a duplicate id,
// which is a programming error.
func Register(id string, c Constructor) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[id]; dup {
		panic("router: duplicate registration of " + id)
	}
	registry[id] = c
}

// New builds the router registered under id.
func New(id string, cfg Config) (Router, error) {
	mu.RLock()
	c, ok := registry[id]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("router %q is not available (have %v)", id, IDs())
	}
	return c(cfg)
}

// IDs lists the registered routers.
func IDs() []string {
	mu.RLock()
	defer mu.RUnlock()
	ids := make([]string, 0, len(registry))
	for id := range registry {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
