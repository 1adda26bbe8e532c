package proxy

import (
	"io"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
)

// BenchmarkProxy measures requests through the proxy to real loopback
// replicas, 64 clients in parallel over keep-alive connections, beside the
// same load sent to the replica directly. It reports ns/op, allocs/op (of
// the whole process: client, proxy and replica) and the p50/p99 latency a
// client sees, so that the proxy's added latency is the difference with
// "direct".
//
//	go test -run XXX -bench BenchmarkProxy -benchmem ./internal/router/proxy/
func BenchmarkProxy(b *testing.B) {
	payload := make([]byte, 512)
	replica := func(name string) *backend {
		return newBackend(b, name, func(w http.ResponseWriter, r *http.Request) { w.Write(payload) })
	}
	stable1, stable2, canary := replica("stable"), replica("stable"), replica("canary")

	plain, _ := startProxy(b)
	plain.SetEndpoints("stable", []string{stable1.addr(), stable2.addr()})
	setTraffic(b, plain, rollout.Traffic{Stable: "stable"})

	split, _ := startProxy(b, withStickiness(v1alpha1.Stickiness{Header: "X-User"}))
	split.SetEndpoints("stable", []string{stable1.addr(), stable2.addr()})
	split.SetEndpoints("canary", []string{canary.addr()})
	setTraffic(b, split, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 10, HeaderRoutes: mustHeaderRoutes()})

	cases := []struct {
		name, url string
		header    bool
	}{
		{"direct", stable1.URL + "/api/items?page=1", false},
		{"stable", "http://" + plain.Addr() + "/api/items?page=1", false},
		{"canary10-sticky-failover", "http://" + split.Addr() + "/api/items?page=1", true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}}
			defer c.CloseIdleConnections()
			var mu sync.Mutex
			var lat []time.Duration
			b.ReportAllocs()
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0))) // 64 clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				local := make([]time.Duration, 0, 4096)
				req, _ := http.NewRequest("GET", tc.url, nil)
				if tc.header {
					req.Header.Set("X-User", "user-7")
				}
				for pb.Next() {
					start := time.Now()
					res, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
					local = append(local, time.Since(start))
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			})
			b.StopTimer()
			if len(lat) > 0 {
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}
