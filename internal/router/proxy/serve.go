package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"time"
)

// reqState follows one user request (or one mirror copy) through
// ReverseProxy's hooks. It is itself the request's context: wrapping the
// server's context in the state costs one allocation, where a
// context.WithValue would cost a second one.
type reqState struct {
	context.Context
	t     *table
	in    *http.Request // the request handed to ReverseProxy, replayed by a failover
	route string

	// The current attempt.
	ver         *version
	ep          *endpoint // nil once recorded
	canary      bool
	mirror      bool
	failover    bool // a failure of this attempt may be replayed on stable
	retryStatus bool // and a 5xx too
	start       time.Time
	ttfb        time.Duration
	status      int   // upstream status; 0 without a response
	err         error // connection error of the attempt
	completed   bool  // ReverseProxy returned (rather than aborting with a panic)

	cookie     string // Set-Cookie for a new sticky user
	buffered   bool   // the body was read into body (or found too large)
	replayable bool   // the body can be sent again
	body       []byte
}

type stateKey struct{}

func (st *reqState) Value(key any) any {
	if key == (stateKey{}) {
		return st
	}
	return st.Context.Value(key)
}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// errAborted marks an attempt whose response was cut while its body was
// copied (ReverseProxy aborts the handler then).
var errAborted = errors.New("response aborted while copying the body")

func (p *Proxy) newState(t *table, r *http.Request, cookie string) *reqState {
	st := &reqState{Context: r.Context(), t: t, cookie: cookie, route: p.routes.name(r.Method, r.URL.Path)}
	st.in = r.WithContext(st)
	return st
}

// attempt points st at a new try on ep of v.
func (st *reqState) attempt(v *version, ep *endpoint, canary bool) {
	st.ver, st.ep, st.canary = v, ep, canary
	st.failover, st.retryStatus = false, false
	st.start, st.ttfb, st.status, st.err = time.Time{}, 0, 0, nil
}

// serveMain routes a request of the main address.
func (p *Proxy) serveMain(rw http.ResponseWriter, r *http.Request) {
	t := p.table.Load()
	canary, cookie := t.sel.pick(r)
	st := p.newState(t, r, cookie)
	defer p.finish(st)
	v, ep := t.stable, (*endpoint)(nil)
	if canary {
		// A canary without a ready replica never fails a user: stable serves.
		if ep = t.canary.pool.get(); ep != nil {
			v = t.canary
		} else {
			canary = false
		}
	}
	if ep == nil {
		if ep = v.poolOrNil().get(); ep == nil {
			p.unavailable(rw, st, v)
			return
		}
	}
	st.attempt(v, ep, canary)
	if canary {
		p.armFailover(st)
	} else if len(t.mirrors) > 0 {
		p.mirror(st, r)
	}
	p.rp.ServeHTTP(rw, st.in)
	st.completed = true
}

// servePreview routes a request of the preview address: always to the
// preview revision, no weight, no failover (testers should see its errors).
func (p *Proxy) servePreview(rw http.ResponseWriter, r *http.Request) {
	t := p.table.Load()
	st := p.newState(t, r, "")
	defer p.finish(st)
	v := t.preview
	ep := v.poolOrNil().get()
	if ep == nil {
		p.unavailable(rw, st, v)
		return
	}
	st.attempt(v, ep, false)
	p.rp.ServeHTTP(rw, st.in)
	st.completed = true
}

func (v *version) poolOrNil() *pool {
	if v == nil {
		return nil
	}
	return v.pool
}

// rewrite is ReverseProxy's Rewrite: to the chosen replica, keeping the
// client's Host and setting the X-Forwarded-* headers.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	st := pr.In.Context().(*reqState)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = st.ep.addr
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	st.start = time.Now()
}

// errCanaryStatus asks ErrorHandler to replay on stable a canary 5xx that
// was not written to the user.
var errCanaryStatus = errors.New("canary answered with a server error")

func (p *Proxy) modifyResponse(res *http.Response) error {
	st := stateOf(res.Request.Context())
	st.status = res.StatusCode
	st.ttfb = time.Since(st.start)
	if st.status >= 500 && st.retryStatus {
		return errCanaryStatus
	}
	if st.cookie != "" {
		res.Header.Add("Set-Cookie", st.cookie)
	}
	if st.status >= 500 && !st.mirror {
		st.ver.ctr.userErrors.Add(1)
	}
	return nil
}

// record observes the current attempt in the metrics and frees its
// replica; it does nothing for an attempt already recorded.
func (p *Proxy) record(st *reqState) {
	ep := st.ep
	if ep == nil {
		return
	}
	st.ep = nil
	ep.release()
	failed := st.err != nil || st.status >= 500
	latency := st.ttfb
	if st.status == 0 && !st.start.IsZero() {
		latency = time.Since(st.start)
	}
	if st.status == 0 && st.Context.Err() != nil {
		// The client left (or the proxy stopped): not the replica's failure.
		failed = false
	}
	p.observe(st.t, st.ver, st.route, failed, latency)
}

// finish records the last attempt, also when ReverseProxy aborted the
// response with a panic (which then goes on to the server).
func (p *Proxy) finish(st *reqState) {
	if !st.completed && st.err == nil && st.status < 500 && st.Context.Err() == nil {
		st.err = errAborted
	}
	p.record(st)
}
