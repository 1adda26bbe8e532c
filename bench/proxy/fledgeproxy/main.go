// Command fledgeproxy runs Fledge's embedded proxy (internal/router/proxy)
// on its own for the proxy benchmark: one stable and one canary endpoint,
// the canary at a weight of 10%, with the defaults a user gets (canary
// failover on, metrics recorded for every request).
//
//	fledgeproxy -listen 127.0.0.1:18090 -stable 127.0.0.1:18081 -canary 127.0.0.1:18082 -weight 10
//
// With -cpuprofile it writes a CPU profile when it stops (SIGTERM or
// SIGINT), for `go tool pprof`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/router/proxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18090", "address the proxy listens on")
	stable := flag.String("stable", "127.0.0.1:18081", "address of the stable upstream")
	canary := flag.String("canary", "127.0.0.1:18082", "address of the canary upstream")
	weight := flag.Int("weight", 10, "canary weight, percent")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file on exit")
	flag.Parse()
	if err := run(*listen, *stable, *canary, int32(*weight), *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "fledgeproxy:", err)
		os.Exit(1)
	}
}

func run(listen, stable, canary string, weight int32, cpuProfile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return fmt.Errorf("create the CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	p, err := proxy.New(proxy.Config{
		Rollout: "bench",
		Routing: v1alpha1.ProxyRouting{Listen: listen},
		Metrics: metrics.New(),
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fmt.Errorf("build the proxy: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Start(ctx) }()
	select {
	case <-p.Ready():
	case err := <-errc:
		return fmt.Errorf("start the proxy: %w", err)
	}
	p.SetEndpoints("1", []string{stable})
	p.SetEndpoints("2", []string{canary})
	if err := p.SetTraffic(ctx, rollout.Traffic{Stable: "1", Canary: "2", CanaryWeight: weight}); err != nil {
		return fmt.Errorf("set the traffic: %w", err)
	}
	fmt.Printf("fledgeproxy ready: %s -> stable %s, canary %s at %d%%\n", p.Addr(), stable, canary, weight)
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
