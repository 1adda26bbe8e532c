// Command upstream is the pair of backends the proxy benchmark routes to:
// a "stable" and a "canary" HTTP server on loopback, each answering 200
// with a small body and an X-Upstream header naming it, and counting what
// it served. The counts are read (and reset before each run) on a separate
// admin address, so that the benchmark sees the split each proxy really
// made without touching the measured path.
//
//	upstream -stable 127.0.0.1:18081 -canary 127.0.0.1:18082 -admin 127.0.0.1:18080
//	curl -s 127.0.0.1:18080/count          # {"stable":N,"canary":M}
//	curl -s -X POST 127.0.0.1:18080/reset
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	stable := flag.String("stable", "127.0.0.1:18081", "address of the stable upstream")
	canary := flag.String("canary", "127.0.0.1:18082", "address of the canary upstream")
	admin := flag.String("admin", "127.0.0.1:18080", "address of the counters: GET /count, POST /reset")
	flag.Parse()
	if err := run(*stable, *canary, *admin); err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}

// backend is one upstream; its counter is the only shared state per request.
type backend struct {
	name string
	body []byte
	n    atomic.Uint64
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.n.Add(1)
	h := w.Header()
	h["X-Upstream"] = []string{b.name}
	h["Content-Type"] = []string{"text/plain"}
	w.Write(b.body)
}

func run(stableAddr, canaryAddr, adminAddr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stable := &backend{name: "stable", body: []byte("hello from stable\n")}
	canary := &backend{name: "canary", body: []byte("hello from canary\n")}

	counts := http.NewServeMux()
	counts.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]uint64{"stable": stable.n.Load(), "canary": canary.n.Load()})
	})
	counts.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		stable.n.Store(0)
		canary.n.Store(0)
		w.WriteHeader(http.StatusNoContent)
	})

	servers := map[string]http.Handler{stableAddr: stable, canaryAddr: canary, adminAddr: counts}
	errc := make(chan error, len(servers))
	var started []*http.Server
	for addr, h := range servers {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		started = append(started, srv)
		go func() { errc <- srv.Serve(ln) }()
	}
	fmt.Printf("upstream ready: stable %s canary %s admin %s\n", stableAddr, canaryAddr, adminAddr)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	for _, srv := range started {
		srv.Close()
	}
	return nil
}
