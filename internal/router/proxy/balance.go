package proxy

import (
	"sync"
	"sync/atomic"
)

// endpoint is one ready replica of a revision. The object lives as long as
// its address stays in the revision's set, so that its in-flight count
// survives table rebuilds.
type endpoint struct {
	addr     string
	inflight atomic.Int64
	// draining is set by Drain, or when the address leaves its set: no new
	// request may start on it.
	draining atomic.Bool
	idleOnce sync.Once
	idle     chan struct{} // closed once draining with nothing in flight

	// The fast path's idle connections to the replica (upstream.go).
	connMu sync.Mutex
	conns  []*upConn
}

func newEndpoint(addr string) *endpoint {
	return &endpoint{addr: addr, idle: make(chan struct{})}
}

// acquire counts a request in flight, unless the endpoint drains. The count
// is raised before draining is read, and Drain sets draining before it reads
// the count, so either the request backs off or Drain waits for it.
func (e *endpoint) acquire() bool {
	e.inflight.Add(1)
	if e.draining.Load() {
		e.release()
		return false
	}
	return true
}

func (e *endpoint) release() {
	if e.inflight.Add(-1) == 0 && e.draining.Load() {
		e.idleOnce.Do(func() { close(e.idle) })
	}
}

// drain stops new requests and returns a channel closed when none is left
// in flight.
func (e *endpoint) drain() <-chan struct{} {
	e.draining.Store(true)
	e.closeIdle()
	if e.inflight.Load() == 0 {
		e.idleOnce.Do(func() { close(e.idle) })
	}
	return e.idle
}

// pool balances over the ready replicas of one revision: least requests in
// flight, round-robin among equals (so that an idle pool is plain
// round-robin).
type pool struct {
	eps []*endpoint
	rr  atomic.Uint64
}

// get picks and acquires an endpoint; nil when none can take a request.
func (p *pool) get() *endpoint {
	if p == nil {
		return nil
	}
	// A pick can lose the race with Drain; the next pick skips that one.
	for range 3 {
		e := p.pick()
		if e == nil {
			return nil
		}
		if e.acquire() {
			return e
		}
	}
	return nil
}

func (p *pool) pick() *endpoint {
	n := len(p.eps)
	if n == 0 {
		return nil
	}
	start := 0
	if n > 1 {
		start = int(p.rr.Add(1) % uint64(n))
	}
	var best *endpoint
	var bestN int64
	for i := range n {
		e := p.eps[(start+i)%n]
		if e.draining.Load() {
			continue
		}
		c := e.inflight.Load()
		if best == nil || c < bestN {
			best, bestN = e, c
			if c == 0 {
				break
			}
		}
	}
	return best
}
