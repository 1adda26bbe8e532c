package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The main address is served by a fast path for plain HTTP/1.1 requests:
// no net/http server, no Transport, no header maps. The benchmark
// (docs/benchmarks.md) measured net/http at 44 µs of CPU per proxied
// request where nginx spends 11, a third of it in the Transport's two
// goroutines per connection and a sixth in allocation; the fast path
// parses the request head in place, picks the version with the same
// selector, and forwards bytes on the client's goroutine.
//
// Whatever it does not handle goes to net/http and httputil.ReverseProxy
// (serveMain) with the connection, before a byte of the request is
// consumed: HTTP/1.0, h2c, upgrades (WebSocket), Expect, chunked request
// bodies, heads over 8 KiB, unusual syntax, and every request while mirror
// routes are set. From then on net/http serves that connection.

const (
	// fastIdleTimeout closes a client connection idle this long.
	fastIdleTimeout = 2 * time.Minute
	// fastHeadTimeout bounds the reading of a request head once its first
	// byte came.
	fastHeadTimeout = 10 * time.Second
	clientReadSize  = maxHead
	clientWriteSize = 4 << 10
)

// Connection states, for a graceful shutdown.
const (
	connIdle int32 = iota
	connActive
	connClosed
)

// fastServer accepts the main address's connections.
type fastServer struct {
	p       *Proxy
	handoff *chanListener // connections for net/http
	closing atomic.Bool

	mu    sync.Mutex
	conns map[*fastConn]struct{}
	done  chan struct{} // closed when closing and no connection is left
}

func newFastServer(p *Proxy, addr net.Addr) *fastServer {
	return &fastServer{p: p, handoff: newChanListener(addr), conns: map[*fastConn]struct{}{}, done: make(chan struct{})}
}

// serve accepts until ln is closed.
func (s *fastServer) serve(ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
				// Out of file descriptors and the like: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.p.log.Warn("proxy: accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		fc := s.track(c)
		if fc == nil {
			c.Close()
			continue
		}
		go fc.serve()
	}
}

func (s *fastServer) track(c net.Conn) *fastConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil
	}
	fc := &fastConn{s: s, p: s.p, c: c,
		br: bufio.NewReaderSize(c, clientReadSize), bw: bufio.NewWriterSize(c, clientWriteSize)}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		fc.clientIP = a.IP.String()
	}
	s.conns[fc] = struct{}{}
	return fc
}

func (s *fastServer) untrack(fc *fastConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, fc)
	if s.closing.Load() && len(s.conns) == 0 {
		s.closeDone()
	}
}

func (s *fastServer) closeDone() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

// shutdown stops accepting (ln is closed by the caller), closes the idle
// connections, and waits for the requests in flight until ctx ends; then it
// closes what is left. Handed-off connections are net/http's to shut down.
func (s *fastServer) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	s.handoff.Close()
	for fc := range s.conns {
		fc.closeIfIdle()
	}
	if len(s.conns) == 0 {
		s.closeDone()
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for fc := range s.conns {
			fc.c.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

// fastConn is one client connection on the fast path.
type fastConn struct {
	s        *fastServer
	p        *Proxy
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	clientIP string
	state    atomic.Int32

	// Reused from request to request.
	head  reqHead
	out   []byte // the head forwarded to the replica
	body  []byte // a buffered request body
	route []byte
	resp  respHead
	ex    exchange
}

// closeIfIdle closes a connection that waits for its next request; one
// busy with a request closes itself after it.
func (fc *fastConn) closeIfIdle() {
	if fc.state.CompareAndSwap(connIdle, connClosed) {
		fc.c.SetReadDeadline(time.Now()) // wakes the wait for the next request
	}
}

// serve reads requests until the connection ends or goes to net/http.
func (fc *fastConn) serve() {
	for {
		if fc.br.Buffered() == 0 {
			fc.c.SetReadDeadline(time.Now().Add(fastIdleTimeout))
		}
		if _, err := fc.br.Peek(1); err != nil || !fc.state.CompareAndSwap(connIdle, connActive) {
			fc.close()
			return
		}
		fc.c.SetReadDeadline(time.Now().Add(fastHeadTimeout))
		err := readHead(fc.br, &fc.head)
		if err == nil && len(fc.p.table.Load().mirrors) > 0 {
			err = errNotFast // mirror copies are made by the net/http path
		}
		if errors.Is(err, errNotFast) {
			fc.handOff()
			return
		}
		if err != nil {
			fc.close()
			return
		}
		if !fc.serveRequest() || fc.s.closing.Load() {
			fc.bw.Flush()
			fc.close()
			return
		}
		if fc.br.Buffered() == 0 { // else a pipelined request follows: answer both at once
			if fc.bw.Flush() != nil {
				fc.close()
				return
			}
		}
		fc.state.Store(connIdle)
		if fc.s.closing.Load() { // shutdown may have passed while it was busy
			fc.close()
			return
		}
	}
}

func (fc *fastConn) close() {
	fc.state.Store(connClosed)
	fc.c.Close()
	fc.s.untrack(fc)
}

// handOff gives the connection, with what was read of it, to net/http.
func (fc *fastConn) handOff() {
	fc.c.SetReadDeadline(time.Time{})
	if fc.bw.Flush() != nil {
		fc.close()
		return
	}
	fc.s.untrack(fc)
	fc.s.handoff.deliver(&bufferedConn{Conn: fc.c, r: fc.br})
}

// bufferedConn is a connection whose first bytes were read already.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// chanListener is the listener net/http serves handed-off connections from.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) deliver(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
