package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"fledge.dev/fledge/internal/demo"
)

func init() { register(newDemoCommand) }

// newDemoCommand is `fledge demo`, README's first command: the whole loop on
// this machine, with nothing to set up.
func newDemoCommand(o *Options) *cobra.Command {
	var fast bool
	var output string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Release a bad and a good version of the sample app under load, and show what Fledge did",
		Long: `Start the sample app's v1 as the stable version behind the embedded proxy, send it
user traffic, then release v2, which passes its health checks but fails 20% of its
POST /login: analysis catches it and Fledge rolls it back on its own. Then release v3,
a good version, which is promoted step by step to 100%. Ends with a summary table.

The demo keeps its state in a temporary directory and touches nothing else.`,
		Example: `  fledge demo
  fledge demo --fast -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" {
				return fmt.Errorf("-o %q: want json or nothing", output)
			}
			log, err := o.logger()
			if err != nil {
				return err
			}
			opts := demo.Options{Fast: fast, Logger: log}
			if output == "" {
				opts.Progress = o.Out
			}
			report, err := demo.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(o.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(report)
			}
			writeDemoSummary(o.Out, report)
			return nil
		},
	}
	cmd.Flags().BoolVar(&fast, "fast", false, "shorter pauses and analysis intervals (under a minute)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json prints only the report")
	// The daemon's logs would drown the progress lines; errors still show.
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		if !cmd.Flags().Changed("log-level") && !cmd.Root().PersistentFlags().Changed("log-level") {
			o.LogLevel = "error"
		}
	}
	return cmd
}

// writeDemoSummary prints the report as a table.
func writeDemoSummary(w io.Writer, r *demo.Report) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tOUTCOME\tDECIDED IN\tCANARY REQUESTS\tCANARY ERRORS\tUSER REQUESTS\tERRORS USERS SAW")
	for _, rel := range r.Releases {
		fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%d\t%d\t%d\t%d\n", rel.Version, rel.Outcome, rel.DecisionSeconds,
			rel.CanaryRequests, rel.CanaryErrors, rel.UserRequests, rel.UserVisibleErrors)
	}
	tw.Flush()
}
