// Package provider defines where metric values come from, and the registry of
// providers. Each provider lives in its own package (builtin/ for the embedded
// proxy's counters) and registers itself under the name of its field in
// spec.metrics[].provider; adding one is adding a package.
package provider

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
)

// Provider takes one measurement of a metric.
type Provider interface {
	// Measure returns the metric's value over the window env describes. A
	// window without data returns a Result with NoData set, never a value
	// that could pass a condition.
	Measure(ctx context.Context, m v1alpha1.Metric, env Env) (Result, error)
}

// Env is the context of a measurement.
type Env struct {
	Rollout        string
	CanaryRevision string
	StableRevision string
	// Args are the run's resolved arguments ({{args.name}}).
	Args map[string]string
	// WindowStart and Now bound the interval the measurement summarises.
	WindowStart time.Time
	Now         time.Time
}

// Result is one value.
type Result struct {
	// Value is what conditions see as `result` (float64 for numbers).
	Value any
	// NoData says there was nothing to measure (no requests, an empty query).
	NoData bool
	// Message explains the value or its absence.
	Message string
}

// Deps are what providers may need from the process hosting them.
type Deps struct {
	Metrics *metrics.Registry
}

// Constructor builds a provider.
type Constructor func(Deps) (Provider, error)

var (
	mu       sync.RWMutex
	registry = map[string]Constructor{}
)

// Register makes a provider available under id (the JSON name of its field
// in MetricProvider); it panics on a duplicate, a programming error.
func Register(id string, c Constructor) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[id]; dup {
		panic("provider: duplicate registration of " + id)
	}
	registry[id] = c
}

// New builds the provider registered under id.
func New(id string, d Deps) (Provider, error) {
	mu.RLock()
	c, ok := registry[id]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("metric provider %q is not available", id)
	}
	return c(d)
}

// Kind returns the id of the provider set in p: the JSON name of its one
// non-nil field, so that adding a provider field needs no switch here.
func Kind(p v1alpha1.MetricProvider) (string, error) {
	v := reflect.ValueOf(p)
	var set []string
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			set = append(set, strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0])
		}
	}
	if len(set) != 1 {
		sort.Strings(set)
		return "", fmt.Errorf("exactly one provider must be set, got %d %v", len(set), set)
	}
	return set[0], nil
}
