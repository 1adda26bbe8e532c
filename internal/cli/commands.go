package cli

import (
	"errors"
	"fmt"
	"strings"

	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/server"
	"github.com/spf13/cobra"
)

// verb is a command sent to one rollout, and what to say once it is done.
type verb struct {
	use, short, long string
	cmd              rollout.Command
	done             string
}

var verbs = []verb{
	{use: "abort", cmd: rollout.CommandAbort, done: "aborted",
		short: "Send all traffic back to stable and scale the canary down",
		long:  "Abort the release in progress: all traffic goes back to the stable revision and the\ncanary is scaled down, until `fledge retry` or a new template."},
	{use: "retry", cmd: rollout.CommandRetry, done: "retried",
		short: "Start an aborted release again from the first step"},
	{use: "pause", cmd: rollout.CommandPause, done: "paused",
		short: "Hold a rollout where it is: no step advances, no weight changes"},
	{use: "resume", cmd: rollout.CommandResume, done: "resumed",
		short: "Lift a pause (a user's, an inconclusive analysis's, or a pause step waiting for promote)"},
}

func init() {
	register(newPromoteCmd)
	for _, v := range verbs {
		register(func(o *Options) *cobra.Command { return newVerbCmd(o, v) })
	}
	register(newDeleteCmd)
}

func newVerbCmd(o *Options, v verb) *cobra.Command {
	return &cobra.Command{
		Use:   v.use + " NAME",
		Short: v.short,
		Long:  v.long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.send(cmd, args[0], v.cmd, v.done)
		},
	}
}

func newPromoteCmd(o *Options) *cobra.Command {
	var full bool
	cmd := &cobra.Command{
		Use:   "promote NAME",
		Short: "End the current step (a pause, an analysis) and go on; --full skips them all",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if full {
				return o.send(cmd, args[0], rollout.CommandPromoteFull, "fully promoted (remaining steps and analyses skipped)")
			}
			return o.send(cmd, args[0], rollout.CommandPromote, "promoted")
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "skip every remaining step and analysis")
	return cmd
}

// send sends one command and says what was done.
func (o *Options) send(cmd *cobra.Command, name string, c rollout.Command, done string) error {
	client, err := o.client()
	if err != nil {
		return err
	}
	if err := client.Command(cmd.Context(), name, c); err != nil {
		return failed(string(c), name, err)
	}
	fmt.Fprintf(o.Out, "%s%s %s\n", kindPrefix, name, done)
	return nil
}

func newDeleteCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Stop a rollout's replicas and proxy, and forget it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := o.client()
			if err != nil {
				return err
			}
			if err := client.Delete(cmd.Context(), args[0]); err != nil {
				return failed("delete", args[0], err)
			}
			fmt.Fprintf(o.Out, "%s%s deleted\n", kindPrefix, args[0])
			return nil
		},
	}
}

// failed says which verb on which rollout failed. The daemon's message
// often starts with the rollout's name (or the verb and the name) already:
// that prefix is dropped rather than said twice.
func failed(verb, name string, err error) error {
	var e *server.APIError
	if errors.As(err, &e) {
		for _, prefix := range []string{verb + " " + name + ": ", name + ": "} {
			e.Message = strings.TrimPrefix(e.Message, prefix)
		}
	}
	return fmt.Errorf("cannot %s %s: %w", verb, name, err)
}
