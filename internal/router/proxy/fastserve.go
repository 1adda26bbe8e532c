package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"fledge.dev/fledge/internal/metrics"
)

// fastReq is what serveRequest knows of the request once its head is
// consumed (the head's slices are gone by then).
type fastReq struct {
	t          *table
	route      string
	cookie     string // Set-Cookie of a new sticky user
	head       bool   // HEAD: the response has no body
	close      bool   // the client asked to close after this one
	retries    bool   // the method is one whose 5xx a failover replays
	length     int64  // the body's length
	buffered   bool   // the body is in fc.body
	replayable bool   // the body can be sent again
}

// serveRequest serves the parsed request in fc.head and tells whether the
// connection may serve another one.
func (fc *fastConn) serveRequest() bool {
	p, h := fc.p, &fc.head
	p.fastServed.Add(1)
	t := p.table.Load()
	rq := fastReq{t: t, head: string(h.method) == "HEAD", close: h.close, length: h.contentLength}
	fc.route = h.appendRoute(fc.route[:0])
	rq.route = p.routes.lookup(fc.route)
	rq.retries = t.set.failover.retriesMethod(h.method)
	var canary bool
	if t.plain {
		canary, _ = t.sel.pick(nil)
	} else {
		canary, rq.cookie = t.sel.pick(h.request())
	}
	fc.buildOut()
	fc.br.Discard(len(h.raw))
	if rq.length > 0 {
		fc.c.SetReadDeadline(time.Time{}) // a body may take its time
		if rq.length <= t.set.failover.maxBody && !fc.readBody(&rq) {
			return false
		}
	}
	rq.replayable = rq.length == 0 || rq.buffered
	keep := fc.forward(&rq, canary)
	if cap(fc.body) > 64<<10 {
		fc.body = nil // a large buffer is not kept per connection
	}
	return keep
}

// readBody reads a body of at most maxBody bytes, so that it can be sent
// again (to stable after a canary failure, or on a fresh connection).
func (fc *fastConn) readBody(rq *fastReq) bool {
	n := int(rq.length)
	if cap(fc.body) < n {
		fc.body = make([]byte, n)
	}
	fc.body = fc.body[:n]
	if _, err := io.ReadFull(fc.br, fc.body); err != nil {
		return false // the client left mid-body
	}
	rq.buffered = true
	return true
}

// buildOut writes the head forwarded to the replica: the request line, the
// client's Host and headers but the hop-by-hop ones and X-Forwarded-*,
// which are set as ReverseProxy's SetXForwarded does.
func (fc *fastConn) buildOut() {
	h := &fc.head
	out := append(fc.out[:0], h.method...)
	out = append(out, ' ')
	out = append(out, h.target...)
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, h.host...)
	out = append(out, "\r\n"...)
	for _, l := range h.lines {
		out = append(out, l...)
	}
	if h.teTrailers {
		out = append(out, "Te: trailers\r\n"...)
	}
	if fc.clientIP != "" {
		out = append(out, "X-Forwarded-For: "...)
		out = append(out, fc.clientIP...)
		out = append(out, "\r\n"...)
	}
	out = append(out, "X-Forwarded-Host: "...)
	out = append(out, h.host...)
	out = append(out, "\r\nX-Forwarded-Proto: http\r\n\r\n"...)
	fc.out = out
}

// request is the net/http view of the head that stickiness and header
// routes read (method, path, headers).
func (h *reqHead) request() *http.Request {
	path, _ := url.PathUnescape(string(h.path))
	r := &http.Request{Method: string(h.method), URL: &url.URL{Path: path}, Header: http.Header{}, Host: string(h.host)}
	for _, l := range h.lines {
		colon := indexColon(l)
		name := http.CanonicalHeaderKey(string(l[:colon]))
		r.Header[name] = append(r.Header[name], string(trimOWS(l[colon+1:len(l)-2])))
	}
	return r
}

func indexColon(l []byte) int {
	for i, c := range l {
		if c == ':' {
			return i
		}
	}
	return len(l)
}

// forward sends the request to the chosen version, replaying a failed canary
// attempt on stable where it may, and answers the user.
func (fc *fastConn) forward(rq *fastReq, canary bool) bool {
	t := rq.t
	v := t.stable
	var ep *endpoint
	if canary {
		if ep = t.canary.pool.get(); ep != nil {
			v = t.canary
		} else {
			canary = false // a canary without a ready replica never fails a user
		}
	}
	if ep == nil {
		if ep = v.poolOrNil().get(); ep == nil {
			return fc.unavailable(rq, v)
		}
	}
	f := &t.set.failover
	failover := canary && f.enabled && t.stable != nil && rq.replayable
	ex := fc.exchange(rq, ep)
	if canary && failover && ex.replayOnStable(rq.retries) {
		fc.p.observe(t, v, rq.route, true, ex.latency())
		fc.p.failovers.Add(1)
		ex.discard()
		ep.release()
		v = fc.p.table.Load().stable
		if v == nil {
			v = t.stable
		}
		if ep = v.poolOrNil().get(); ep == nil {
			return fc.unavailable(rq, v)
		}
		ex = fc.exchange(rq, ep)
	}
	keep := fc.answer(rq, v, ex)
	ep.release()
	return keep
}

// exchange is one attempt on a replica: the request sent, the response head
// read (or the error that stopped it).
type exchange struct {
	fc      *fastConn
	uc      *upConn
	ep      *endpoint
	start   time.Time
	ttfb    time.Duration
	err     error
	dialErr bool // the connection could not be made: the request surely did not arrive
}

func (ex *exchange) latency() time.Duration {
	if ex.err == nil {
		return ex.ttfb
	}
	return time.Since(ex.start)
}

// replayOnStable tells whether a canary attempt's failure may be replayed:
// a connection error for the listed methods, or whatever the method when
// the connection was never made; a 5xx for the listed methods.
func (ex *exchange) replayOnStable(retries bool) bool {
	if ex.err != nil {
		return retries || ex.dialErr
	}
	return retries && ex.fc.resp.status >= 500
}

// discard ends an attempt whose response the user will not get: a small
// body is read so that the connection can serve again.
func (ex *exchange) discard() {
	if ex.uc == nil {
		return
	}
	r := &ex.fc.resp
	if ex.err == nil && !r.close && !r.chunked && r.length >= 0 && r.length <= 64<<10 {
		if _, err := ex.uc.br.Discard(int(r.length)); err == nil {
			ex.ep.putConn(ex.uc, time.Now())
			ex.uc = nil
			return
		}
	}
	ex.uc.c.Close()
	ex.uc = nil
}

// exchange sends the request to ep. A reused connection the replica had
// closed is retried once on a new one when the request can be sent again,
// as net/http's Transport does.
func (fc *fastConn) exchange(rq *fastReq, ep *endpoint) *exchange {
	ex := &fc.ex // one attempt at a time: a replayed one's first is done with
	*ex = exchange{fc: fc, ep: ep, start: time.Now()}
	uc := ep.idleConn(ex.start)
	reused := uc != nil
	if !rq.replayable && reused {
		uc.c.Close() // a streamed body cannot be sent twice: a fresh connection
		uc, reused = nil, false
	}
	for {
		if uc == nil {
			var err error
			if uc, err = ep.dial(fc.p.base); err != nil {
				ex.err, ex.dialErr = err, true
				return ex
			}
		}
		read, err := fc.send(rq, uc)
		if err == nil {
			ex.uc, ex.ttfb = uc, time.Since(ex.start)
			return ex
		}
		uc.c.Close()
		if reused && !read && rq.replayable {
			uc, reused = nil, false
			continue
		}
		ex.err = err
		return ex
	}
}

// send writes the request on uc and reads the response head into fc.resp.
func (fc *fastConn) send(rq *fastReq, uc *upConn) (read bool, err error) {
	uc.bw.Write(fc.out)
	switch {
	case rq.buffered:
		uc.bw.Write(fc.body)
	case rq.length > 0:
		if ce := copyN(uc.bw, fc.br, rq.length); ce != nil {
			if ce.upstream { // the source, here the client
				return false, &clientBodyError{ce.err}
			}
			return false, ce.err
		}
	}
	if err := uc.bw.Flush(); err != nil {
		return false, err
	}
	return readResp(uc.br, &fc.resp)
}

// clientBodyError is a request body the client did not finish sending.
type clientBodyError struct{ err error }

func (e *clientBodyError) Error() string { return "reading the request body: " + e.err.Error() }
func (e *clientBodyError) Unwrap() error { return e.err }

// answer writes the attempt's response (or a 502/504) to the user, records
// the attempt, and tells whether the connection may serve again.
func (fc *fastConn) answer(rq *fastReq, v *version, ex *exchange) bool {
	p := fc.p
	if ex.err != nil {
		var cbe *clientBodyError
		if errors.As(ex.err, &cbe) {
			p.observe(rq.t, v, rq.route, false, ex.latency()) // the client left: not the replica's failure
			return false
		}
		p.observe(rq.t, v, rq.route, true, ex.latency())
		p.log.Debug("proxy error", "revision", v.rev, "addr", ex.ep.addr, "route", rq.route, "err", ex.err)
		code := http.StatusBadGateway
		if isTimeout(ex.err) {
			code = http.StatusGatewayTimeout
		}
		v.ctr.userErrors.Add(1)
		return fc.writeError(rq, code, http.StatusText(code), false) && rq.replayable
	}
	r := &fc.resp
	failed := r.status >= 500
	if failed {
		v.ctr.userErrors.Add(1)
	}
	keep, ce := fc.writeResponse(rq, ex)
	if ce != nil && ce.upstream {
		failed = true // cut mid-body: the user got a broken answer
	}
	p.observe(rq.t, v, rq.route, failed, ex.ttfb)
	return keep
}

// writeResponse forwards the response head and body.
func (fc *fastConn) writeResponse(rq *fastReq, ex *exchange) (bool, *copyErr) {
	r, bw, uc := &fc.resp, fc.bw, ex.uc
	ex.uc = nil
	noBody := bodyless(r.status, rq.head)
	closeAfter := rq.close || fc.s.closing.Load() || (!noBody && !r.chunked && r.length < 0)
	bw.WriteString("HTTP/1.1 ")
	bw.Write(r.buf)
	if rq.cookie != "" {
		bw.WriteString("Set-Cookie: ")
		bw.WriteString(rq.cookie)
		bw.WriteString("\r\n")
	}
	if r.chunked && !noBody {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if closeAfter {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	var ce *copyErr
	switch {
	case noBody:
	case r.chunked:
		ce = copyChunked(bw, uc.br, &fc.resp)
	case r.length >= 0:
		ce = copyN(bw, uc.br, r.length)
	default:
		ce = copyToEOF(bw, uc.br)
		r.close = true
	}
	if ce != nil || r.close {
		uc.c.Close()
	} else {
		ex.ep.putConn(uc, time.Now())
	}
	if ce != nil {
		return false, ce
	}
	return !closeAfter, nil
}

// unavailable answers 503 when the revision to serve has no ready replica.
func (fc *fastConn) unavailable(rq *fastReq, v *version) bool {
	c, rev := &fc.p.noRevision, ""
	if v != nil {
		c, rev = v.ctr, v.rev
	}
	c.userErrors.Add(1)
	fc.p.log.Debug("no ready replica", "revision", rev, "route", rq.route)
	return fc.writeError(rq, http.StatusServiceUnavailable, "503 service unavailable: no ready replica to serve this request", true)
}

// writeError answers the user as http.Error would. A body the request
// still has unread makes the connection close.
func (fc *fastConn) writeError(rq *fastReq, code int, msg string, retryAfter bool) bool {
	closeAfter := rq.close || (rq.length > 0 && !rq.buffered)
	bw := fc.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteString(" ")
	bw.WriteString(http.StatusText(code))
	bw.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nDate: ")
	bw.Write(time.Now().UTC().AppendFormat(nil, http.TimeFormat))
	if retryAfter {
		bw.WriteString("\r\nRetry-After: 1")
	}
	if rq.cookie != "" {
		bw.WriteString("\r\nSet-Cookie: ")
		bw.WriteString(rq.cookie)
	}
	if closeAfter {
		bw.WriteString("\r\nConnection: close")
	}
	bw.WriteString("\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(msg) + 1))
	bw.WriteString("\r\n\r\n")
	bw.WriteString(msg)
	bw.WriteString("\n")
	return !closeAfter
}

// observe records one attempt in the metrics registry.
func (p *Proxy) observe(t *table, v *version, route string, failed bool, latency time.Duration) {
	t.set.metrics.Observe(metrics.Key{Rollout: p.rollout, Revision: v.rev, Route: route}, failed, latency)
}
