package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"github.com/spf13/cobra"
)

func init() { register(newGetCmd) }

func newGetCmd(o *Options) *cobra.Command {
	get := &cobra.Command{
		Use:   "get KIND",
		Short: "List resources (rollouts)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("say what to get: `fledge get rollouts`")
		},
	}
	var output string
	var watch bool
	rollouts := &cobra.Command{
		Use:     "rollouts",
		Aliases: []string{"rollout", "ro"},
		Short:   "List rollouts: NAME STRATEGY PHASE STEP WEIGHT STABLE CANARY AGE",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "json"); err != nil {
				return err
			}
			return o.getRollouts(cmd.Context(), output, watch)
		},
	}
	rollouts.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	rollouts.Flags().BoolVarP(&watch, "watch", "w", false, "keep listing: print a rollout again when it changes")
	get.AddCommand(rollouts)
	return get
}

func (o *Options) getRollouts(ctx context.Context, output string, watch bool) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	return o.listRollouts(ctx, output, watch, c.List, "No rollouts: `fledge apply -f FILE` creates one.")
}

// listRollouts prints the table once, or, watching, prints the rows that
// changed every poll until interrupted; with no rollout it prints hint.
// The local daemon and the cluster (kube.go) each give their list.
func (o *Options) listRollouts(ctx context.Context, output string, watch bool, list func(context.Context) ([]*v1alpha1.Rollout, error), hint string) error {
	seen := map[string]string{}
	header := true
	for {
		rs, err := list(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case output == "json" && !watch:
			return o.writeJSON(map[string]any{"items": nonNil(rs)})
		case output == "json":
			enc := json.NewEncoder(o.Out)
			for _, r := range rs {
				if b, _ := json.Marshal(r); seen[r.Name] != string(b) {
					seen[r.Name] = string(b)
					enc.Encode(r)
				}
			}
		default:
			var changed []*v1alpha1.Rollout
			for _, r := range rs {
				// Age is left out of the key: it changes every poll.
				if key := strings.Join(rolloutRow(r, time.Time{}), " "); seen[r.Name] != key {
					seen[r.Name] = key
					changed = append(changed, r)
				}
			}
			if !watch && len(rs) == 0 {
				fmt.Fprintln(o.ErrOut, hint)
				return nil
			}
			if len(changed) > 0 || header {
				writeTable(o.Out, changed, header, now)
				header = false
			}
		}
		if !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pollInterval):
		}
	}
}

func nonNil(rs []*v1alpha1.Rollout) []*v1alpha1.Rollout {
	if rs == nil {
		return []*v1alpha1.Rollout{}
	}
	return rs
}

func (o *Options) writeJSON(v any) error {
	enc := json.NewEncoder(o.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeTable(w io.Writer, rs []*v1alpha1.Rollout, header bool, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	if header {
		fmt.Fprintln(tw, "NAME\tSTRATEGY\tPHASE\tSTEP\tWEIGHT\tSTABLE\tCANARY\tAGE")
	}
	for _, r := range rs {
		fmt.Fprintln(tw, strings.Join(rolloutRow(r, now), "\t"))
	}
	tw.Flush()
}

// rolloutRow is one row of the table; a zero now leaves the age out.
func rolloutRow(r *v1alpha1.Rollout, now time.Time) []string {
	st := r.Status
	strategy, step := "-", "-"
	switch {
	case r.Spec.Strategy.Canary != nil:
		strategy = "canary"
		step = fmt.Sprintf("%d/%d", st.CurrentStepIndex, len(r.Spec.Strategy.Canary.Steps))
	case r.Spec.Strategy.BlueGreen != nil:
		strategy = "blueGreen"
	}
	phase := string(st.Phase)
	if phase == "" {
		phase = "Unknown"
	}
	ageText := ""
	if !now.IsZero() {
		ageText = age(r.CreationTimestamp.Time, now)
	}
	return []string{r.Name, strategy, phase, step, fmt.Sprintf("%d%%", st.CanaryWeight), orDash(st.StableRevision), orDash(st.CanaryRevision), ageText}
}
