package proxy

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

func TestWeightedExactOverAnyWindow(t *testing.T) {
	for _, w := range []int32{1, 3, 5, 10, 25, 33, 50, 66, 75, 99} {
		var n atomic.Uint64
		sel := byWeight(w, &n)
		// A long run, then every window of several lengths within it.
		const total = 3000
		hits := make([]int, total+1) // prefix sums of canary picks
		for i := range total {
			c, _ := sel.pick(nil)
			hits[i+1] = hits[i]
			if c {
				hits[i+1]++
			}
		}
		for _, size := range []int{1, 7, 20, 100, 333, 1000} {
			lo, hi := size*int(w)/100, (size*int(w)+99)/100
			for start := 0; start+size <= total; start += 13 {
				if got := hits[start+size] - hits[start]; got < lo || got > hi {
					t.Fatalf("w=%d: window [%d,%d) has %d canary requests, want %d..%d", w, start, start+size, got, lo, hi)
				}
			}
		}
		if got, want := hits[total], total*int(w)/100; got != want {
			t.Errorf("w=%d: %d canary requests of %d, want exactly %d", w, got, total, want)
		}
	}
}

func TestWeightedExactUnderConcurrency(t *testing.T) {
	for _, w := range []int32{1, 5, 37, 50, 90} {
		var n atomic.Uint64
		sel := byWeight(w, &n)
		const goroutines, each = 8, 1250
		var canary atomic.Int64
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range each {
					if c, _ := sel.pick(nil); c {
						canary.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got, want := canary.Load(), int64(goroutines*each*int(w)/100); got != want {
			t.Errorf("w=%d: %d canary requests, want exactly %d", w, got, want)
		}
	}
}

func TestWeightExtremes(t *testing.T) {
	tests := map[string]struct {
		w      int32
		canary bool
	}{
		"0 never":    {0, false},
		"100 always": {100, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel := byWeight(tc.w, new(atomic.Uint64))
			for range 1000 {
				if c, _ := sel.pick(nil); c != tc.canary {
					t.Fatalf("pick = %v, want %v", c, tc.canary)
				}
			}
		})
	}
}

func TestPoolLeastInFlightRoundRobin(t *testing.T) {
	a, b, c := newEndpoint("a"), newEndpoint("b"), newEndpoint("c")
	pl := &pool{eps: []*endpoint{a, b, c}}
	// Idle: round-robin, every endpoint equally.
	seen := map[string]int{}
	for range 300 {
		e := pl.get()
		seen[e.addr]++
		e.release()
	}
	for _, e := range pl.eps {
		if seen[e.addr] != 100 {
			t.Fatalf("idle pool picks %v, want 100 each", seen)
		}
	}
	// Busy endpoints are avoided while another has fewer in flight.
	a.acquire()
	b.acquire()
	for range 10 {
		if e := pl.get(); e != c {
			t.Fatalf("picked %s with a and b busy, want c", e.addr)
		} else {
			e.release()
		}
	}
	// A draining endpoint is never picked, and an empty pool gives nil.
	c.drain()
	for range 10 {
		e := pl.get()
		if e == c || e == nil {
			t.Fatalf("picked %v, want a or b", e)
		}
		e.release()
	}
	if e := (&pool{}).get(); e != nil {
		t.Fatalf("empty pool picked %s", e.addr)
	}
}

func TestHeaderRouteWinsOverWeight(t *testing.T) {
	routes, err := compileHeaderRoutes(mustHeaderRoutes())
	if err != nil {
		t.Fatal(err)
	}
	sel := headerRouted{routes: routes, next: fixed(false)}
	r, _ := http.NewRequest("GET", "http://x/", nil)
	if c, _ := sel.pick(r); c {
		t.Fatal("a request without the header went to the canary at weight 0")
	}
	r.Header.Set("X-Canary", "always")
	if c, _ := sel.pick(r); !c {
		t.Fatal("a request with the header did not go to the canary")
	}
}
