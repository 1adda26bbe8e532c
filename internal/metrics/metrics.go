// Package metrics counts requests, errors and latency per rollout, revision
// and route: the embedded proxy records into it on every request, the
// builtin analysis provider reads windows of it, and the admin endpoint
// exposes it in the Prometheus text format.
package metrics

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Buckets are the upper bounds, in seconds, of the latency histogram: 2^(k/4)
// × 100µs up to about 105 s, so that a quantile read from the buckets is
// within 19% of the true value (fine enough to see a +20% shift).
var Buckets = func() []float64 {
	var b []float64
	for k := 0; k <= 80; k++ {
		b = append(b, 100e-6*math.Pow(2, float64(k)/4))
	}
	return b
}()

// Key identifies one series.
type Key struct {
	Rollout  string
	Revision string
	// Route is "METHOD /path", or OtherRoute once MaxRoutes are tracked.
	Route string
}

// OtherRoute collects requests of routes beyond MaxRoutes per revision, so
// that arbitrary paths cannot grow memory without bound.
const OtherRoute = "other"

// MaxRoutes is the number of distinct routes tracked per rollout and revision.
const MaxRoutes = 64

// Counts are cumulative counters of one series (or, after Sub, of a window).
type Counts struct {
	Requests uint64
	// Errors are 5xx responses and connection failures.
	Errors uint64
	// Buckets[i] counts requests with latency <= metrics.Buckets[i] and above
	// the previous bound; the last element counts the rest (+Inf).
	Buckets    []uint64
	SumSeconds float64
}

type series struct {
	requests, errors atomic.Uint64
	sumMicros        atomic.Uint64
	buckets          []atomic.Uint64
}

// Registry holds every series. The zero value is not usable; call New.
type Registry struct {
	mu     sync.RWMutex
	series map[Key]*series
	routes map[[2]string]int // (rollout, revision) -> distinct routes
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{series: map[Key]*series{}, routes: map[[2]string]int{}}
}

// Observe records one request. It is safe for concurrent use and cheap: a
// read-locked map lookup and a few atomic adds once the series exists.
func (r *Registry) Observe(k Key, failed bool, latency time.Duration) {
	s := r.get(k)
	s.requests.Add(1)
	if failed {
		s.errors.Add(1)
	}
	s.sumMicros.Add(uint64(latency.Microseconds()))
	s.buckets[bucketOf(latency.Seconds())].Add(1)
}

func bucketOf(sec float64) int {
	return sort.SearchFloat64s(Buckets, sec)
}

func (r *Registry) get(k Key) *series {
	r.mu.RLock()
	s := r.series[k]
	r.mu.RUnlock()
	if s != nil {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s = r.series[k]; s != nil {
		return s
	}
	rr := [2]string{k.Rollout, k.Revision}
	if k.Route != OtherRoute && r.routes[rr] >= MaxRoutes {
		k.Route = OtherRoute
		if s = r.series[k]; s != nil {
			return s
		}
	}
	if k.Route != OtherRoute {
		r.routes[rr]++
	}
	s = &series{buckets: make([]atomic.Uint64, len(Buckets)+1)}
	r.series[k] = s
	return s
}

// Snapshot copies every series whose key passes keep (all when keep is nil).
func (r *Registry) Snapshot(keep func(Key) bool) map[Key]Counts {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[Key]Counts, len(r.series))
	for k, s := range r.series {
		if keep != nil && !keep(k) {
			continue
		}
		c := Counts{
			Requests:   s.requests.Load(),
			Errors:     s.errors.Load(),
			SumSeconds: float64(s.sumMicros.Load()) / 1e6,
			Buckets:    make([]uint64, len(s.buckets)),
		}
		for i := range s.buckets {
			c.Buckets[i] = s.buckets[i].Load()
		}
		out[k] = c
	}
	return out
}

// Forget drops the series of a revision (after it is gone for good).
func (r *Registry) Forget(rollout, revision string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.series {
		if k.Rollout == rollout && k.Revision == revision {
			delete(r.series, k)
		}
	}
	delete(r.routes, [2]string{rollout, revision})
}

// Add returns c + o.
func (c Counts) Add(o Counts) Counts {
	out := Counts{Requests: c.Requests + o.Requests, Errors: c.Errors + o.Errors, SumSeconds: c.SumSeconds + o.SumSeconds}
	out.Buckets = make([]uint64, max(len(c.Buckets), len(o.Buckets)))
	for i := range out.Buckets {
		if i < len(c.Buckets) {
			out.Buckets[i] += c.Buckets[i]
		}
		if i < len(o.Buckets) {
			out.Buckets[i] += o.Buckets[i]
		}
	}
	return out
}

// Sub returns the window c - prev of two cumulative readings of one series.
func (c Counts) Sub(prev Counts) Counts {
	out := Counts{Requests: c.Requests - prev.Requests, Errors: c.Errors - prev.Errors, SumSeconds: c.SumSeconds - prev.SumSeconds}
	out.Buckets = make([]uint64, len(c.Buckets))
	for i := range c.Buckets {
		out.Buckets[i] = c.Buckets[i]
		if i < len(prev.Buckets) {
			out.Buckets[i] -= prev.Buckets[i]
		}
	}
	return out
}

// Quantile estimates the q-quantile of latency in seconds, interpolating
// linearly inside the bucket that holds it; NaN when there are no requests.
func (c Counts) Quantile(q float64) float64 {
	var total uint64
	for _, n := range c.Buckets {
		total += n
	}
	if total == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	var seen float64
	for i, n := range c.Buckets {
		if n == 0 || seen+float64(n) < rank {
			seen += float64(n)
			continue
		}
		lo := 0.0
		if i > 0 {
			lo = Buckets[i-1]
		}
		if i >= len(Buckets) {
			return lo
		}
		return lo + (Buckets[i]-lo)*(rank-seen)/float64(n)
	}
	return Buckets[len(Buckets)-1]
}
