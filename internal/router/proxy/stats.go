package proxy

import (
	"sync"
	"sync/atomic"

	"fledge.dev/fledge/internal/metrics"
)

// counters are the proxy's own per-revision counts, beside the metrics
// registry.
type counters struct {
	userErrors atomic.Uint64
}

// countersOf returns the counters of rev, kept across table rebuilds; p.mu
// must be held.
func (p *Proxy) countersOf(rev string) *counters {
	c := p.counters[rev]
	if c == nil {
		c = &counters{}
		p.counters[rev] = c
	}
	return c
}

// Stats are what the proxy counts beside the per-request metrics.
type Stats struct {
	// UserErrors counts the 5xx answers users actually got, by the revision
	// that gave them ("" when no revision could serve). A canary failure
	// hidden by a failover is not in it (the metrics registry has it, under
	// the canary); a request whose client left is not either.
	UserErrors map[string]uint64
	// Failovers counts canary requests replayed on stable after a failure.
	Failovers uint64
	// Mirrored counts copies sent to the canary; MirrorsDropped those not
	// sent (body too large, too many copies in flight, no canary replica).
	Mirrored, MirrorsDropped uint64
}

// Stats reads the proxy's counters.
func (p *Proxy) Stats() Stats {
	s := Stats{
		UserErrors:     p.UserErrors(),
		Failovers:      p.failovers.Load(),
		Mirrored:       p.mirrored.Load(),
		MirrorsDropped: p.mirrorsDropped.Load(),
	}
	return s
}

// UserErrors counts, per revision, the 5xx answers users actually got (see
// Stats.UserErrors); revisions without any are left out.
func (p *Proxy) UserErrors() map[string]uint64 {
	out := map[string]uint64{}
	p.mu.Lock()
	for rev, c := range p.counters {
		if n := c.userErrors.Load(); n > 0 {
			out[rev] = n
		}
	}
	p.mu.Unlock()
	if n := p.noRevision.userErrors.Load(); n > 0 {
		out[""] += n
	}
	return out
}

// routeNames interns "METHOD /path" so that the request path does not build
// the string each time. It names the first metrics.MaxRoutes routes it sees
// and calls the rest metrics.OtherRoute, as the registry would: that keeps
// the registry on its read-locked path for every request.
type routeNames struct {
	mu sync.Mutex
	m  atomic.Pointer[map[string]string]
}

func (n *routeNames) name(method, path string) string {
	var buf [128]byte
	return n.lookup(append(append(append(buf[:0], method...), ' '), path...))
}

// lookup interns the route key ("METHOD /path"); it allocates only the
// first time it sees a route.
func (n *routeNames) lookup(key []byte) string {
	if m := n.m.Load(); m != nil {
		if s, ok := (*m)[string(key)]; ok {
			return s
		}
		if len(*m) >= metrics.MaxRoutes {
			return metrics.OtherRoute
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.m.Load()
	if old != nil {
		if s, ok := (*old)[string(key)]; ok {
			return s
		}
		if len(*old) >= metrics.MaxRoutes {
			return metrics.OtherRoute
		}
	}
	// Copy on write: the map is small and stops growing at MaxRoutes.
	m := make(map[string]string, metrics.MaxRoutes)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	s := string(key)
	m[s] = s
	n.m.Store(&m)
	return s
}

// bufferPool recycles the 32 KiB buffers ReverseProxy copies bodies with.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().([]byte); ok {
		return v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(buf) } //nolint:staticcheck // a slice header per Put is far cheaper than 32 KiB per request
