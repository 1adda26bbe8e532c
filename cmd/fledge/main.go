// Command fledge releases new versions of a service progressively: see
// `fledge --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"fledge.dev/fledge/internal/cli"
)

func main() {
	// The proxy's live heap is a few MB and it allocates per request, so at
	// the default GOGC=100 collections dominate its tail latency; 400 halves
	// the added p99 for a few more MB (docs/benchmarks.md). GOGC overrides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills at once, as users expect.
	context.AfterFunc(ctx, stop)
	streams := cli.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := cli.NewRoot(streams)
	if cli.IsKubectlPlugin(os.Args[0]) {
		// Named kubectl-fledge, the binary is kubectl's plugin: `kubectl fledge VERB`.
		root = cli.NewKubectlPlugin(streams)
	}
	os.Exit(cli.Execute(ctx, root))
}
