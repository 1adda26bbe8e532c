package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// maxMirrorsInFlight bounds the copies sent to the canary at once; beyond
// it copies are dropped (and counted), never queued behind users.
const maxMirrorsInFlight = 64

// mirrorTimeout bounds one copy.
const mirrorTimeout = 30 * time.Second

// mirrorRoute copies percent% of the requests it matches to the canary.
type mirrorRoute struct {
	name    string
	any     []requestMatcher // none: every request
	percent uint64
	n       atomic.Uint64
}

func compileMirrorRoutes(rs []v1alpha1.SetMirrorRoute) ([]*mirrorRoute, error) {
	var out []*mirrorRoute
	for i, r := range rs {
		m := &mirrorRoute{name: r.Name, percent: 100}
		if r.Percentage != nil {
			if *r.Percentage < 0 || *r.Percentage > 100 {
				return nil, fmt.Errorf("mirrorRoutes[%d] (%s).percentage: %d is not within 0-100", i, r.Name, *r.Percentage)
			}
			m.percent = uint64(*r.Percentage)
		}
		if len(r.Match) == 0 && r.Percentage == nil {
			continue // a removal
		}
		for j, rm := range r.Match {
			c, err := compileRouteMatch(rm)
			if err != nil {
				return nil, fmt.Errorf("mirrorRoutes[%d] (%s).match[%d].%w", i, r.Name, j, err)
			}
			m.any = append(m.any, c)
		}
		out = append(out, m)
	}
	return out, nil
}

// selects tells whether r is copied: it matches, and it is in the route's
// share of the matching requests (spread evenly, like weighted).
func (m *mirrorRoute) selects(r *http.Request) bool {
	matched := len(m.any) == 0
	for i := range m.any {
		if m.any[i].matches(r) {
			matched = true
			break
		}
	}
	return matched && takes(m.n.Add(1)-1, m.percent, 100)
}

// mirror copies a request routed to stable to the canary, in the
// background: the copy's response is discarded, and it never delays or
// fails the user's request. Upgrades are not copied. The copy is recorded
// in the metrics under the canary (it is canary evidence) but never counted
// as a user's error.
func (p *Proxy) mirror(st *reqState, r *http.Request) {
	t := st.t
	if t.canary == nil || r.Header.Get("Upgrade") != "" {
		return
	}
	selected := false
	for _, m := range t.mirrors {
		if m.selects(r) {
			selected = true
			break
		}
	}
	if !selected {
		return
	}
	if !st.bufferBody(t.set.failover.maxBody) {
		p.mirrorsDropped.Add(1)
		return
	}
	select {
	case p.mirrorSlots <- struct{}{}:
	default:
		p.mirrorsDropped.Add(1)
		return
	}
	ep := t.canary.pool.get()
	if ep == nil {
		<-p.mirrorSlots
		p.mirrorsDropped.Add(1)
		return
	}
	ctx, cancel := context.WithTimeout(p.base, mirrorTimeout)
	ms := &reqState{Context: ctx, t: t, route: st.route, mirror: true}
	// The copy is made now: the user's request is not ours to read once
	// its handler returns.
	ms.in = r.Clone(ms)
	ms.in.ContentLength = int64(len(st.body))
	ms.in.Body = http.NoBody
	if len(st.body) > 0 {
		ms.in.Body = io.NopCloser(bytes.NewReader(st.body))
	}
	ms.attempt(t.canary, ep, true)
	p.mirrored.Add(1)
	p.mirrors.Go(func() {
		defer func() { <-p.mirrorSlots }()
		defer cancel()
		defer p.finish(ms)
		p.rp.ServeHTTP(&discard{h: http.Header{}}, ms.in)
		ms.completed = true
	})
}

// discard is the response writer of a mirror copy.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
