// Command fledge releases new versions of a service progressively: see
// `fledge --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"fledge.dev/fledge/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills at once, as users expect.
	context.AfterFunc(ctx, stop)
	root := cli.NewRoot(cli.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	os.Exit(cli.Execute(ctx, root))
}
