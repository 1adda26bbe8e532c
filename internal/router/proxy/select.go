package proxy

import (
	"net/http"
	"sync/atomic"
)

// A selector chooses the version of one request on the main address, like
// Caddy's selection policies: one method, deterministic given its state, and
// composable (header routes wrap stickiness, which wraps the weight).
type selector interface {
	// pick tells whether r goes to the canary; cookie, when not empty, is a
	// Set-Cookie value that remembers a new sticky user.
	pick(r *http.Request) (canary bool, cookie string)
}

// fixed sends every request to the same side: weight 0 or 100, or no canary.
type fixed bool

func (f fixed) pick(*http.Request) (bool, string) { return bool(f), "" }

// weighted sends exactly w% of the requests to the canary: the n-th request
// (from 0) goes there iff floor((n+1)·w/100) > floor(n·w/100). Any run of N
// consecutive requests therefore holds floor or ceil of N·w/100 canary
// requests, spread evenly (w=50 alternates), and the shared atomic counter
// keeps this exact under concurrency without a lock.
type weighted struct {
	w uint64
	n *atomic.Uint64
}

func (s weighted) pick(*http.Request) (bool, string) { return takes(s.n.Add(1)-1, s.w, 100), "" }

// takes tells whether the n-th event of a sequence belongs to the share
// num/den of it, spreading that share evenly over the sequence.
func takes(n, num, den uint64) bool { return (n+1)*num/den > n*num/den }

// byWeight is the selector of a plain weight.
func byWeight(w int32, n *atomic.Uint64) selector {
	switch {
	case w <= 0:
		return fixed(false)
	case w >= 100:
		return fixed(true)
	}
	return weighted{w: uint64(w), n: n}
}

// headerRouted sends requests that match a header route to the canary and
// asks next about the others: a header route wins over stickiness.
type headerRouted struct {
	routes []headerRoute
	next   selector
}

func (s headerRouted) pick(r *http.Request) (bool, string) {
	for i := range s.routes {
		if s.routes[i].matches(r) {
			return true, ""
		}
	}
	return s.next.pick(r)
}
