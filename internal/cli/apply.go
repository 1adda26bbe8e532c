package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newApplyCmd) }

func newApplyCmd(o *Options) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update rollouts from a file",
		Long: "Check FILE (every mistake is reported at once and nothing is sent), then send it\n" +
			"to the running daemon. A changed template starts a release. Relative commands\n" +
			"resolve against FILE's directory.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.readSpec(file)
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			applied, err := c.Apply(cmd.Context(), s.data, s.dir)
			if err != nil {
				return err
			}
			for _, a := range applied {
				fmt.Fprintf(o.Out, "%s%s %s\n", kindPrefix, a.Name, a.Action)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the rollout spec (YAML or JSON; - for standard input)")
	cmd.MarkFlagRequired("filename")
	return cmd
}
