package proxy

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
)

// table is the immutable routing state the request path reads with one
// atomic load; every change builds and publishes a new one.
type table struct {
	traffic rollout.Traffic // as set, for Observed
	set     *settings
	// stable, canary and preview are nil when there is none; canary is nil
	// too when it is the stable revision.
	stable, canary, preview *version
	sel                     selector // main address: true sends to the canary
	// plain is true when sel reads nothing of the request (a weight alone),
	// so the fast path need not build one.
	plain   bool
	mirrors []*mirrorRoute
}

// version is one revision as the request path sees it.
type version struct {
	rev  string
	pool *pool
	ctr  *counters
}

// rebuild publishes a table made of the current traffic, endpoints and
// settings; p.mu must be held.
func (p *Proxy) rebuild() {
	tr := p.traffic
	t := &table{traffic: tr, set: p.set, mirrors: p.mirrorRoutes}
	pools := map[string]*version{}
	ver := func(rev string) *version {
		if rev == "" {
			return nil
		}
		if v, ok := pools[rev]; ok {
			return v
		}
		v := &version{rev: rev, pool: &pool{}, ctr: p.countersOf(rev)}
		for _, e := range p.eps[rev] {
			if !e.draining.Load() {
				v.pool.eps = append(v.pool.eps, e)
			}
		}
		pools[rev] = v
		return v
	}
	t.stable = ver(tr.Stable)
	if tr.Canary != tr.Stable {
		t.canary = ver(tr.Canary)
	}
	switch {
	case tr.Preview != "":
		t.preview = ver(tr.Preview)
	case tr.Canary != "":
		t.preview = ver(tr.Canary)
	default:
		t.preview = t.stable
	}
	t.sel = fixed(false)
	if t.canary != nil {
		t.sel = byWeight(tr.CanaryWeight, &p.weightN)
		if s := p.set; s.stickyCookie != "" || s.stickyHeader != "" {
			t.sel = sticky{lim: limit(tr.CanaryWeight), header: s.stickyHeader, cookie: s.stickyCookie, next: t.sel, seq: &p.users}
		}
		if len(p.headerRoutes) > 0 {
			t.sel = headerRouted{routes: p.headerRoutes, next: t.sel}
		}
	}
	switch t.sel.(type) {
	case fixed, weighted:
		t.plain = true
	}
	p.table.Store(t)
}

// SetTraffic applies t: the next request is routed by it; requests in
// flight finish where they are. Header and mirror routes are compiled here,
// so a bad regular expression is an error and nothing changes.
func (p *Proxy) SetTraffic(_ context.Context, t rollout.Traffic) error {
	if t.CanaryWeight < 0 || t.CanaryWeight > 100 {
		return fmt.Errorf("proxy %s: canary weight %d is not within 0-100", p.rollout, t.CanaryWeight)
	}
	hr, err := compileHeaderRoutes(t.HeaderRoutes)
	if err != nil {
		return fmt.Errorf("proxy %s: %w", p.rollout, err)
	}
	mr, err := compileMirrorRoutes(t.MirrorRoutes)
	if err != nil {
		return fmt.Errorf("proxy %s: %w", p.rollout, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.traffic = copyTraffic(t)
	p.headerRoutes, p.mirrorRoutes = hr, mr
	p.rebuild()
	p.log.Debug("traffic set", "stable", t.Stable, "canary", t.Canary, "weight", t.CanaryWeight,
		"headerRoutes", len(hr), "mirrorRoutes", len(mr), "preview", t.Preview)
	return nil
}

// Observed is the traffic enforced now: the last one set.
func (p *Proxy) Observed(context.Context) (rollout.Traffic, error) {
	return copyTraffic(p.table.Load().traffic), nil
}

// SetEndpoints replaces the ready replica addresses ("127.0.0.1:port") of a
// revision. An address that stays keeps its requests in flight; one that
// leaves takes no new request (its requests in flight finish, and Drain can
// still wait for them); one that Drain drained stays drained until it
// leaves the set.
func (p *Proxy) SetEndpoints(revision string, addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var next []*endpoint
	keep := map[*endpoint]bool{}
	for _, a := range addrs {
		e := p.byAddr[a]
		if e == nil {
			e = newEndpoint(a)
			p.byAddr[a] = e
			delete(p.retired, a)
		}
		if !keep[e] {
			keep[e] = true
			next = append(next, e)
		}
	}
	for _, e := range p.eps[revision] {
		if !keep[e] && !p.listedElsewhere(e, revision) {
			e.drain()
			delete(p.byAddr, e.addr)
			if e.inflight.Load() > 0 {
				p.retired[e.addr] = e
			}
		}
	}
	if len(next) == 0 {
		delete(p.eps, revision)
	} else {
		p.eps[revision] = next
	}
	p.pruneRetired()
	p.rebuild()
}

func (p *Proxy) listedElsewhere(e *endpoint, revision string) bool {
	for rev, eps := range p.eps {
		if rev != revision && slices.Contains(eps, e) {
			return true
		}
	}
	return false
}

func (p *Proxy) pruneRetired() {
	for a, e := range p.retired {
		if e.inflight.Load() == 0 {
			delete(p.retired, a)
		}
	}
}

// Drain stops routing new requests to addr at once and waits until no
// request to it is in flight, or ctx ends (an error then). An unknown
// address has nothing in flight.
func (p *Proxy) Drain(ctx context.Context, addr string) error {
	p.mu.Lock()
	e := p.byAddr[addr]
	if e == nil {
		e = p.retired[addr]
	}
	if e == nil {
		p.mu.Unlock()
		return nil
	}
	idle := e.drain()
	p.rebuild()
	p.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("proxy %s: drain %s: %d requests still in flight: %w", p.rollout, addr, e.inflight.Load(), ctx.Err())
	}
}

// copyTraffic deep-copies t, keeping nil and empty apart so that the engine's
// comparison of what it set with what is observed holds.
func copyTraffic(t rollout.Traffic) rollout.Traffic {
	out := t
	out.HeaderRoutes = slices.Clone(t.HeaderRoutes)
	for i, r := range out.HeaderRoutes {
		out.HeaderRoutes[i].Match = slices.Clone(r.Match)
		for j, m := range out.HeaderRoutes[i].Match {
			out.HeaderRoutes[i].Match[j].HeaderValue = clonePtr(m.HeaderValue)
			out.HeaderRoutes[i].Match[j].CookieValue = clonePtr(m.CookieValue)
		}
	}
	out.MirrorRoutes = slices.Clone(t.MirrorRoutes)
	for i, r := range out.MirrorRoutes {
		out.MirrorRoutes[i].Percentage = clonePtr(r.Percentage)
		out.MirrorRoutes[i].Match = slices.Clone(r.Match)
		for j, m := range out.MirrorRoutes[i].Match {
			out.MirrorRoutes[i].Match[j] = v1alpha1.RouteMatch{
				Method:  clonePtr(m.Method),
				Path:    clonePtr(m.Path),
				Headers: maps.Clone(m.Headers),
			}
		}
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
