package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"fledge.dev/fledge/internal/runner"
	"github.com/spf13/cobra"
)

func init() {
	register(newUndoCmd)
	register(newHistoryCmd)
}

func newUndoCmd(o *Options) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "undo NAME",
		Short: "Go back to the previous stable revision (or --to-revision N), at once",
		Long: "Set the rollout's template back to an earlier revision's and promote it at once,\n" +
			"skipping the steps, as a rollback should. See the revisions with `fledge history`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := o.client()
			if err != nil {
				return err
			}
			if err := c.Undo(cmd.Context(), name, to); err != nil {
				return failed("undo", name, err)
			}
			target := to
			if target == "" {
				if ro, err := c.Get(cmd.Context(), name); err == nil {
					target = ro.Annotations[runner.AnnotationRevision]
				}
			}
			if target == "" {
				fmt.Fprintf(o.Out, "%s%s rolled back to the previous stable revision\n", kindPrefix, name)
			} else {
				fmt.Fprintf(o.Out, "%s%s rolled back to revision %s\n", kindPrefix, name, target)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to-revision", "", "the revision to go back to, as listed by fledge history NAME")
	return cmd
}

func newHistoryCmd(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "history NAME",
		Short: "List a rollout's revisions: REVISION CREATED COMMAND STATUS",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			c, err := o.client()
			if err != nil {
				return err
			}
			ro, err := c.Get(cmd.Context(), name)
			if err != nil {
				return err
			}
			revs, err := c.History(cmd.Context(), name)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(o.Out, 0, 0, 3, ' ', 0)
			fmt.Fprintln(tw, "REVISION\tCREATED\tCOMMAND\tSTATUS")
			for _, r := range revs {
				status := "-"
				switch r.ID {
				case ro.Status.CanaryRevision:
					status = "canary"
				case ro.Status.StableRevision:
					status = "stable"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.CreatedAt.Local().Format("2006-01-02 15:04:05"), shorten(strings.Join(r.Template.Command, " "), 60), status)
			}
			return tw.Flush()
		},
	}
}

// shorten cuts s to n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
