package proxy

import (
	"bufio"
	"context"
	"net"
	"time"
)

// The fast path's connections to the replicas. net/http's Transport runs
// two goroutines per connection and hands every request and response across
// them; here the goroutine serving the client writes the request and reads
// the response itself, on a connection it owns for the exchange, and gives
// the connection back to its replica's idle list after.

const (
	// upIdleTimeout closes a connection left idle longer: a replica may
	// have closed it already (Go servers do after their IdleTimeout).
	upIdleTimeout = 60 * time.Second
	// maxIdlePerEndpoint bounds the idle connections kept per replica.
	maxIdlePerEndpoint = 256
	upDialTimeout      = 3 * time.Second
	upBufferSize       = 4 << 10
)

// upConn is one connection to a replica.
type upConn struct {
	c     net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	since time.Time // idle since
}

var upDialer = net.Dialer{Timeout: upDialTimeout, KeepAlive: 30 * time.Second}

// dial opens a new connection to e.
func (e *endpoint) dial(ctx context.Context) (*upConn, error) {
	c, err := upDialer.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return nil, err
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, upBufferSize), bw: bufio.NewWriterSize(c, upBufferSize)}, nil
}

// idleConn takes the most recently used idle connection, if any. The most
// recent is the likeliest still open, and the others age out.
func (e *endpoint) idleConn(now time.Time) *upConn {
	e.connMu.Lock()
	defer e.connMu.Unlock()
	for n := len(e.conns); n > 0; n = len(e.conns) {
		uc := e.conns[n-1]
		e.conns[n-1] = nil
		e.conns = e.conns[:n-1]
		if now.Sub(uc.since) < upIdleTimeout {
			return uc
		}
		uc.c.Close()
	}
	return nil
}

// putConn keeps uc for the next request, unless the replica drains or has
// enough idle connections.
func (e *endpoint) putConn(uc *upConn, now time.Time) {
	uc.since = now
	e.connMu.Lock()
	if e.draining.Load() || len(e.conns) >= maxIdlePerEndpoint {
		e.connMu.Unlock()
		uc.c.Close()
		return
	}
	e.conns = append(e.conns, uc)
	e.connMu.Unlock()
}

// closeIdle closes the idle connections: the replica is going away (a
// graceful server would close them anyway), or the proxy stops.
func (e *endpoint) closeIdle() {
	e.connMu.Lock()
	conns := e.conns
	e.conns = nil
	e.connMu.Unlock()
	for _, uc := range conns {
		uc.c.Close()
	}
}

// closeAllIdle closes every replica's idle connections of the fast path;
// p.mu must not be held.
func (p *Proxy) closeAllIdle() {
	p.mu.Lock()
	var eps []*endpoint
	for _, e := range p.byAddr {
		eps = append(eps, e)
	}
	for _, e := range p.retired {
		eps = append(eps, e)
	}
	p.mu.Unlock()
	for _, e := range eps {
		e.closeIdle()
	}
}
