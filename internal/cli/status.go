package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/server"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func init() { register(newStatusCmd) }

// pollInterval is how often --watch asks the daemon.
const pollInterval = time.Second

func newStatusCmd(o *Options) *cobra.Command {
	var output string
	var watch bool
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show where a rollout stands",
		Long: "Show a rollout's phase, step, traffic split, revisions, replicas, analysis and\n" +
			"last events. With --watch, follow it until it is Healthy (exit 0) or Degraded\n" +
			"(exit 1).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "json", "yaml"); err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if watch {
				return o.watchStatus(cmd.Context(), args[0], output, func(ctx context.Context) (statusView, bool, bool, error) {
					s, ro, err := fetchSummary(ctx, c, args[0])
					if err != nil {
						return statusView{}, false, false, err
					}
					done, ok := settled(ro)
					return statusView{summary: s}, done, ok, nil
				})
			}
			s, _, err := fetchSummary(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return o.printSummary(statusView{summary: s}, output, true)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the rollout until it is Healthy or Degraded")
	return cmd
}

func checkOutput(output string, allowed ...string) error {
	if output == "" {
		return nil
	}
	for _, a := range allowed {
		if output == a {
			return nil
		}
	}
	return fmt.Errorf("-o %q: want one of %v", output, allowed)
}

// fetchSummary reads a rollout, its runs and its events.
func fetchSummary(ctx context.Context, c *server.Client, name string) (summary, *v1alpha1.Rollout, error) {
	ro, err := c.Get(ctx, name)
	if err != nil {
		return summary{}, nil, err
	}
	runs, err := c.Runs(ctx, name)
	if err != nil {
		return summary{}, nil, err
	}
	events, err := c.Events(ctx, name)
	if err != nil {
		return summary{}, nil, err
	}
	return summarize(ro, runs, events, time.Now()), ro, nil
}

// statusView is what status shows, and prints with -o: the summary, and a
// cluster Rollout's Kubernetes conditions (kube_status.go; none locally).
type statusView struct {
	summary
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// printSummary writes a status view as asked; indent pretty-prints JSON.
func (o *Options) printSummary(s statusView, output string, indent bool) error {
	switch output {
	case "json":
		enc := json.NewEncoder(o.Out)
		if indent {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(s)
	case "yaml":
		b, err := yaml.Marshal(s)
		if err != nil {
			return err
		}
		if !indent {
			b = append([]byte("---\n"), b...)
		}
		_, err = o.Out.Write(b)
		return err
	}
	renderView(o.Out, s, newPainter(o.Out), time.Now())
	return nil
}

// statusFetch reads a rollout's summary and tells whether a watch is over:
// done once it is settled, ok when it settled Healthy. The local daemon and
// the cluster (kube.go) each have one.
type statusFetch func(ctx context.Context) (v statusView, done, ok bool, err error)

// watchStatus polls until the rollout settles or ctx is done. On a
// terminal the view is redrawn in place; elsewhere a line (or a document,
// with -o) is appended whenever something changes.
func (o *Options) watchStatus(ctx context.Context, name, output string, fetch statusFetch) error {
	tty := output == "" && terminal(o.Out)
	redraw := &redrawer{w: o.Out}
	var last string
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		s, done, ok, err := fetch(ctx)
		if ctx.Err() != nil {
			return nil // interrupted: the user has seen enough
		}
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case tty:
			var buf bytes.Buffer
			renderView(&buf, s, newPainter(o.Out), now)
			redraw.draw(buf.String())
		case output != "":
			if key := stateKey(s.summary); key != last {
				last = key
				if err := o.printSummary(s, output, false); err != nil {
					return err
				}
			}
		default:
			if key := stateKey(s.summary); key != last {
				last = key
				fmt.Fprintln(o.Out, oneLine(s.summary, now))
			}
		}
		if done {
			if !ok {
				fmt.Fprintf(o.ErrOut, "%s%s is %s: %s\n", kindPrefix, name, s.Phase, s.Message)
				return &exitError{code: 1}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// stateKey is what, changing, deserves a new line: not the countdown of a
// pause, which would print a line a second.
func stateKey(s summary) string {
	s.Step = countdown.ReplaceAllString(s.Step, "")
	s.Message = countdown.ReplaceAllString(s.Message, "")
	s.Events = nil
	b, _ := json.Marshal(s)
	return string(b)
}

var countdown = regexp.MustCompile(` \(\S+ left\)`)
