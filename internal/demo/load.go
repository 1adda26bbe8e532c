package demo

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// load sends steady traffic through the proxy, as users would: half page
// views, half logins, on keep-alive connections, and counts what users saw.
type load struct {
	url    string
	rps    int
	client *http.Client

	requests atomic.Uint64
	errors   atomic.Uint64 // 5xx answers and failed requests, as users saw them
}

func newLoad(url string, rps int) *load {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &load{url: url, rps: rps, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// run sends requests at the configured rate until ctx is done. Requests are
// paced by a ticker and served by a small pool, so a slow answer does not
// lower the rate.
func (l *load) run(ctx context.Context) {
	const workers = 16
	jobs := make(chan int, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				l.one(ctx)
			}
		}()
	}
	tick := time.NewTicker(time.Second / time.Duration(l.rps))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			l.client.CloseIdleConnections()
			return
		case <-tick.C:
			select {
			case jobs <- n:
			default: // the pool is saturated: skip rather than queue without bound
			}
		}
	}
}

// one sends a request: a page view or a login, at random. (Not strictly
// alternating: the proxy's exact weighting sends the canary every tenth
// request, so with alternation it would serve only one kind, and the judge
// would compare a canary's logins with stable's mix.)
func (l *load) one(ctx context.Context) {
	var req *http.Request
	if rand.IntN(2) == 0 {
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, l.url+"/", nil)
	} else {
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, l.url+"/login", strings.NewReader(`{"user":"demo","password":"hunter2"}`))
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.client.Do(req)
	if ctx.Err() != nil {
		return // the demo is stopping: not a user's failure
	}
	l.requests.Add(1)
	if err != nil {
		l.errors.Add(1)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		l.errors.Add(1)
	}
}
