package cli

import (
	"context"

	"github.com/spf13/cobra"

	"fledge.dev/fledge/internal/sampleapp"
)

func init() { register(newSampleAppCommand) }

// newSampleAppCommand is `fledge sample-app`, the small service the demo
// releases. Its flags are parsed by the sampleapp package itself, so that
// each flag and its environment variable stay defined in one place.
func newSampleAppCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "sample-app [flags]",
		Short: "Run the sample HTTP service that the demo releases",
		Long: `Run a small HTTP service to release with Fledge: GET /, POST /login, GET /healthz,
GET /readyz, GET /version and GET /slow?ms=N. It listens on 127.0.0.1:$PORT and can
be told to fail: a per-route error rate, added latency, a health check that goes bad,
a slow start, a crash. On SIGTERM it drains its requests and exits 0.

Run "fledge sample-app --help" for its flags and their environment variables.`,
		Example: `  fledge sample-app --version v2 --error-rate "POST /login=0.2" --latency "GET /=5ms"
  PORT=9000 FLEDGE_SAMPLE_FAIL_HEALTH_AFTER=30s fledge sample-app`,
		DisableFlagParsing: true, // sampleapp.Main reads the flags (and -h)
		SilenceUsage:       true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return sampleapp.Main(ctx, args, o.Out, o.ErrOut)
		},
	}
}
