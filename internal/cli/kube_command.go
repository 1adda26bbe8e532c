package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
	"fledge.dev/fledge/internal/rollout"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func init() {
	registerKube(newKubePromoteCmd)
	for _, v := range verbs {
		registerKube(func(k *kubeOptions) *cobra.Command { return newKubeVerbCmd(k, v) })
	}
}

// commandTimeout is how long a command waits, by default, for the
// controller to take it.
const commandTimeout = 30 * time.Second

// rejectionWait is how long a rejected command waits for the controller's
// CommandRejected Event, which is recorded asynchronously.
const rejectionWait = 5 * time.Second

func newKubeVerbCmd(k *kubeOptions, v verb) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   v.use + " NAME",
		Short: v.short,
		Long:  v.long,
		Args:  cobra.ExactArgs(1),
		RunE: k.run(func(cmd *cobra.Command, args []string) error {
			return k.send(cmd.Context(), args[0], v.cmd, v.done, timeout)
		}),
	}
	cmd.Flags().DurationVar(&timeout, "timeout", commandTimeout, "how long to wait for the controller to take the command")
	return cmd
}

func newKubePromoteCmd(k *kubeOptions) *cobra.Command {
	var full bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "promote NAME",
		Short: "End the current step (a pause, an analysis) and go on; --full skips them all",
		Args:  cobra.ExactArgs(1),
		RunE: k.run(func(cmd *cobra.Command, args []string) error {
			if full {
				return k.send(cmd.Context(), args[0], rollout.CommandPromoteFull, "fully promoted (remaining steps and analyses skipped)", timeout)
			}
			return k.send(cmd.Context(), args[0], rollout.CommandPromote, "promoted", timeout)
		}),
	}
	cmd.Flags().BoolVar(&full, "full", false, "skip every remaining step and analysis")
	cmd.Flags().DurationVar(&timeout, "timeout", commandTimeout, "how long to wait for the controller to take the command")
	return cmd
}

// send annotates the Rollout with a command, waits for the controller to
// take it (it removes the annotation once decided), and says what came of
// it: done, or the controller's reason for rejecting it.
func (k *kubeOptions) send(ctx context.Context, name string, c rollout.Command, done string, timeout time.Duration) error {
	ro, err := k.rollout(ctx, name)
	if err != nil {
		return err
	}
	if ro.Spec.WorkloadRef == nil {
		return fmt.Errorf("cannot %s %s: it has no workloadRef, so no controller acts on it", c, name)
	}
	before, err := k.events(ctx, ro)
	if err != nil {
		return err
	}
	base := ro.DeepCopy()
	if ro.Annotations == nil {
		ro.Annotations = map[string]string{}
	}
	if prev := ro.Annotations[controller.AnnotationCommand]; prev != "" {
		fmt.Fprintf(k.ErrOut, "warning: %s%s still had the command %q pending: replaced by %q\n", kindPrefix, name, prev, c)
	}
	ro.Annotations[controller.AnnotationCommand] = string(c)
	ro.Annotations[controller.AnnotationCommandBy] = k.actor(ctx)
	if err := k.kube.Patch(ctx, ro, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("cannot %s %s: annotate it: %w", c, name, err)
	}
	after, err := k.awaitTaken(ctx, name, c, timeout)
	if err != nil {
		return err
	}
	if applied(c, base.Status, after.Status) {
		fmt.Fprintf(k.Out, "%s%s %s\n", kindPrefix, name, done)
		return nil
	}
	reason, err := k.awaitRejection(ctx, after, c, before)
	if err != nil {
		return err
	}
	return fmt.Errorf("cannot %s %s: %s", c, name, reason)
}

// actor names the sender of a command for the controller's Events:
// kubectl-fledge and the user the API server knows us as, when it says
// (SelfSubjectReview, one request); kubectl-fledge alone when it cannot.
func (k *kubeOptions) actor(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, whoAmITimeout)
	defer cancel()
	user, _ := controller.WhoAmI(ctx, k.cfg) // the name is informational: a command goes without it
	return controller.Actor(kubectlPlugin, user)
}

// whoAmITimeout bounds the wait for the API server's SelfSubjectReview.
const whoAmITimeout = 5 * time.Second

// awaitTaken polls until the controller has removed the command, which it
// does once the decision that applied (or rejected) it is persisted.
func (k *kubeOptions) awaitTaken(ctx context.Context, name string, c rollout.Command, timeout time.Duration) (*v1alpha1.Rollout, error) {
	deadline := time.Now().Add(timeout)
	for {
		ro, err := k.rollout(ctx, name)
		if err != nil {
			return nil, err
		}
		switch pending := ro.Annotations[controller.AnnotationCommand]; {
		case pending == "":
			return ro, nil
		case pending != string(c):
			return nil, fmt.Errorf("cannot %s %s: the command was replaced by %q before the controller took it", c, name, pending)
		case time.Now().After(deadline):
			return nil, fmt.Errorf("cannot %s %s: the controller did not take the command within %s (is `fledge controller` running?); "+
				"the annotation %s=%s stays on the Rollout and applies when it does", c, name, timeout, controller.AnnotationCommand, c)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// applied tells whether the status shows the command's effect. The engine
// changes nothing when it rejects a command, so no effect means rejected.
func applied(c rollout.Command, before, after v1alpha1.RolloutStatus) bool {
	switch c {
	case rollout.CommandPause:
		return pausedBy(after, v1alpha1.PauseUser) && !pausedBy(before, v1alpha1.PauseUser)
	case rollout.CommandResume:
		return len(after.PauseConditions) < len(before.PauseConditions) || stepMoved(before, after)
	case rollout.CommandAbort:
		return after.Abort && !before.Abort
	case rollout.CommandRetry:
		return after.Attempt > before.Attempt || (before.Abort && !after.Abort)
	case rollout.CommandPromote:
		return stepMoved(before, after)
	case rollout.CommandPromoteFull:
		return (after.PromoteFull && !before.PromoteFull) || after.CanaryRevision != before.CanaryRevision
	}
	return false
}

func pausedBy(st v1alpha1.RolloutStatus, r v1alpha1.PauseReason) bool {
	for _, p := range st.PauseConditions {
		if p.Reason == r {
			return true
		}
	}
	return false
}

// stepMoved tells whether a release went on: another step, or done.
func stepMoved(before, after v1alpha1.RolloutStatus) bool {
	return after.CurrentStepIndex != before.CurrentStepIndex || after.CanaryRevision != before.CanaryRevision
}

// awaitRejection waits for the controller's CommandRejected Event about
// c, one not among before (or seen again since: its count went up), and
// returns its reason.
func (k *kubeOptions) awaitRejection(ctx context.Context, ro *v1alpha1.Rollout, c rollout.Command, before []corev1.Event) (string, error) {
	deadline := time.Now().Add(rejectionWait)
	for {
		events, err := k.events(ctx, ro)
		if err != nil {
			return "", err
		}
		if reason, ok := rejection(c, before, events); ok {
			return reason, nil
		}
		if time.Now().After(deadline) {
			return "the controller rejected it (the Rollout did not change) and recorded no reason as an Event", nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// rejection finds, among events, a CommandRejected Event about c that is
// new since before, and returns its reason (the message after "c: ",
// without the "(by ACTOR)" that names the sender).
func rejection(c rollout.Command, before, events []corev1.Event) (string, bool) {
	seen := map[string]int32{}
	for _, e := range before {
		seen[e.Name] = eventCount(e)
	}
	for _, e := range events {
		prefix := string(c) + ": "
		_, msg := controller.EventActor(e)
		if e.Reason != "CommandRejected" || !strings.HasPrefix(msg, prefix) {
			continue
		}
		if n, ok := seen[e.Name]; ok && eventCount(e) <= n {
			continue
		}
		return strings.TrimPrefix(msg, prefix), true
	}
	return "", false
}

// eventCount is how many times an Event was recorded.
func eventCount(e corev1.Event) int32 {
	if e.Series != nil {
		return e.Series.Count
	}
	return max(e.Count, 1)
}
