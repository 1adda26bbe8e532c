package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
)

// armFailover prepares a canary attempt for a replay on stable: the body is
// buffered (up to maxBody) so that it can be sent again. A connection error
// is replayed for any method when nothing reached the canary (the dial
// failed), and for the listed methods whatever it was; a 5xx only for the
// listed methods, since a non-idempotent request that reached the canary
// may have had effects.
func (p *Proxy) armFailover(st *reqState) {
	f := &st.t.set.failover
	if !f.enabled || st.t.stable == nil {
		return
	}
	if !st.bufferBody(f.maxBody) {
		return
	}
	st.failover = true
	st.retryStatus = f.retriesStatus(st.in.Method)
}

// bufferBody reads the request body into memory if it holds at most max
// bytes, and tells whether the body can be sent again. A larger body is left
// to stream: what was read, then the rest.
func (st *reqState) bufferBody(max int64) bool {
	if st.buffered {
		return st.replayable
	}
	st.buffered = true
	in := st.in
	if in.Body == nil || in.Body == http.NoBody || in.ContentLength == 0 {
		st.replayable = true
		return true
	}
	if in.ContentLength > max {
		return false
	}
	orig := in.Body
	buf, err := io.ReadAll(io.LimitReader(orig, max+1))
	if err != nil || int64(len(buf)) > max {
		// Too large, or the client's body failed: stream it as it comes,
		// the error included.
		in.Body = readCloser{io.MultiReader(bytes.NewReader(buf), orig), orig}
		return false
	}
	st.body, st.replayable = buf, true
	st.rewind()
	return true
}

type readCloser struct {
	io.Reader
	io.Closer
}

// rewind gives the request a fresh reader of its buffered body.
func (st *reqState) rewind() {
	if !st.buffered || st.body == nil {
		return
	}
	st.in.ContentLength = int64(len(st.body))
	if len(st.body) == 0 {
		st.in.Body = http.NoBody
		return
	}
	st.in.Body = io.NopCloser(bytes.NewReader(st.body))
}

// handleError is ReverseProxy's ErrorHandler: nothing was written to the
// user yet. A canary failure is replayed on stable when it may be;
// otherwise the user gets 502 (504 on a timeout).
func (p *Proxy) handleError(rw http.ResponseWriter, req *http.Request, err error) {
	st := stateOf(req.Context())
	if st == nil { // not a request of ours: cannot happen, but never panic here
		http.Error(rw, http.StatusText(http.StatusBadGateway), http.StatusBadGateway)
		return
	}
	if !errors.Is(err, errCanaryStatus) {
		st.err = err
	}
	if st.failover && st.Context.Err() == nil &&
		(errors.Is(err, errCanaryStatus) || st.retryStatus || isDialError(err)) {
		p.replayOnStable(rw, st, err)
		return
	}
	p.log.Debug("proxy error", "revision", st.ver.rev, "addr", st.ep.addr, "route", st.route, "err", err)
	code := http.StatusBadGateway
	if isTimeout(err) {
		code = http.StatusGatewayTimeout
	}
	if st.cookie != "" {
		rw.Header().Add("Set-Cookie", st.cookie)
	}
	if !st.mirror && st.Context.Err() == nil {
		st.ver.ctr.userErrors.Add(1)
	}
	http.Error(rw, http.StatusText(code), code)
}

// replayOnStable records the failed canary attempt (it is canary evidence)
// and serves the request again on stable, once.
func (p *Proxy) replayOnStable(rw http.ResponseWriter, st *reqState, cause error) {
	p.log.Debug("canary failed; replaying on stable", "revision", st.ver.rev, "route", st.route, "err", cause)
	p.record(st)
	p.failovers.Add(1)
	v := p.table.Load().stable
	if v == nil {
		v = st.t.stable
	}
	ep := v.poolOrNil().get()
	if ep == nil {
		p.unavailable(rw, st, v)
		return
	}
	st.attempt(v, ep, false)
	st.rewind()
	p.rp.ServeHTTP(rw, st.in)
}

// unavailable answers 503 when the revision to serve has no ready replica.
func (p *Proxy) unavailable(rw http.ResponseWriter, st *reqState, v *version) {
	c, rev := &p.noRevision, ""
	if v != nil {
		c, rev = v.ctr, v.rev
	}
	if st.Context.Err() == nil {
		c.userErrors.Add(1)
	}
	p.log.Debug("no ready replica", "revision", rev, "route", st.route)
	h := rw.Header()
	if st.cookie != "" {
		h.Add("Set-Cookie", st.cookie)
	}
	h.Set("Retry-After", "1")
	http.Error(rw, "503 service unavailable: no ready replica to serve this request", http.StatusServiceUnavailable)
}

// isDialError tells whether the connection to the replica could not be
// made, so that the request surely did not reach it.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
