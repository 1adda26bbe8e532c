// Command stdlibproxy is the floor of the proxy benchmark: a bare
// net/http/httputil.ReverseProxy (the piece Fledge's proxy builds on) that
// sends every tenth request to the canary, with a buffer pool (without one
// each request allocates 32 KiB and the garbage collector dominates), and
// does nothing else: no metrics, no failover, no routing table. The distance between it and
// Fledge's proxy is what Fledge's own work costs; the distance between it
// and nginx is what the standard library costs.
//
//	stdlibproxy -listen 127.0.0.1:18094 -stable 127.0.0.1:18081 -canary 127.0.0.1:18082
package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18094", "address the proxy listens on")
	stable := flag.String("stable", "127.0.0.1:18081", "address of the stable upstream")
	canary := flag.String("canary", "127.0.0.1:18082", "address of the canary upstream")
	flag.Parse()
	stableURL := &url.URL{Scheme: "http", Host: *stable}
	canaryURL := &url.URL{Scheme: "http", Host: *canary}
	var n atomic.Uint64
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := stableURL
			if n.Add(1)%10 == 0 {
				target = canaryURL
			}
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		// The same transport settings as Fledge's proxy, so the two differ
		// only in what Fledge adds.
		Transport:  &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second, DisableCompression: true},
		BufferPool: &bufferPool{},
	}
	srv := &http.Server{Addr: *listen, Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("stdlibproxy ready: %s\n", *listen)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "stdlibproxy:", err)
		os.Exit(1)
	}
}

// bufferPool recycles ReverseProxy's copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
