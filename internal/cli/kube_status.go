package cli

import (
	"context"
	"fmt"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func init() {
	registerKube(newKubeStatusCmd)
	registerKube(newKubeGetCmd)
}

func newKubeStatusCmd(k *kubeOptions) *cobra.Command {
	var output string
	var watch bool
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show where a Rollout stands: phase, step, weight, revisions, conditions, events",
		Long: "Show a Rollout's phase and message, its step as a progress bar, the canary's weight,\n" +
			"the stable and canary revisions, its conditions and last events. With --watch,\n" +
			"follow it until the workload's revision is released and Healthy (exit 0) or the\n" +
			"Rollout is Degraded (exit 1): redrawn in place on a terminal, a line per change\n" +
			"elsewhere.",
		Args: cobra.ExactArgs(1),
		RunE: k.run(func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "json", "yaml"); err != nil {
				return err
			}
			fetch := func(ctx context.Context) (statusView, bool, bool, error) {
				return k.status(ctx, args[0])
			}
			if watch {
				return k.watchStatus(cmd.Context(), args[0], output, fetch)
			}
			v, _, _, err := fetch(cmd.Context())
			if err != nil {
				return err
			}
			return k.printSummary(v, output, true)
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the rollout until it is Healthy or Degraded")
	return cmd
}

// status reads a Rollout, its workload and its events into the status
// view, and tells whether a watch is over.
func (k *kubeOptions) status(ctx context.Context, name string) (v statusView, done, ok bool, err error) {
	ro, err := k.rollout(ctx, name)
	if err != nil {
		return v, false, false, err
	}
	events, err := k.events(ctx, ro)
	if err != nil {
		return v, false, false, err
	}
	runs, err := k.runs(ctx, ro)
	if err != nil {
		return v, false, false, err
	}
	now := time.Now()
	v = statusView{summary: summarize(ro, runs, kubeEvents(events), now), Conditions: ro.Status.Conditions}
	// The revision to release is the workload's pod template's; without
	// the workload (not created yet, or gone) the phase alone decides.
	v.DesiredRevision = ""
	if d, err := k.workload(ctx, ro); err == nil {
		v.DesiredRevision = controller.Revision(&d.Spec.Template)
	}
	done, ok = kubeSettled(ro.Status, v.DesiredRevision)
	return v, done, ok, nil
}

// kubeSettled tells whether a watch is over: the workload's revision is
// stable and no release is in progress (ok), or the Rollout is Degraded
// (not ok). desired is empty when unknown.
func kubeSettled(st v1alpha1.RolloutStatus, desired string) (done, ok bool) {
	switch st.Phase {
	case v1alpha1.PhaseDegraded:
		return true, false
	case v1alpha1.PhaseHealthy:
		done := st.CanaryRevision == "" && st.StableRevision != "" && (desired == "" || desired == st.StableRevision)
		return done, done
	}
	return false, false
}

// events lists the Events about a Rollout (this one: by uid).
func (k *kubeOptions) events(ctx context.Context, ro *v1alpha1.Rollout) ([]corev1.Event, error) {
	var list corev1.EventList
	err := k.kube.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingFields{
		"involvedObject.kind": v1alpha1.KindRollout, "involvedObject.name": ro.Name, "involvedObject.uid": string(ro.UID),
	})
	if err != nil {
		return nil, fmt.Errorf("list the events of %s%s: %w", kindPrefix, ro.Name, err)
	}
	return list.Items, nil
}

// runs lists the AnalysisRuns a Rollout owns; none where the cluster has
// no AnalysisRun kind.
func (k *kubeOptions) runs(ctx context.Context, ro *v1alpha1.Rollout) ([]*v1alpha1.AnalysisRun, error) {
	var list v1alpha1.AnalysisRunList
	err := k.kube.List(ctx, &list, client.InNamespace(ro.Namespace))
	if meta.IsNoMatchError(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("list the analysis runs of %s%s: %w", kindPrefix, ro.Name, err)
	}
	var out []*v1alpha1.AnalysisRun
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], ro) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// workload reads a Rollout's workloadRef Deployment.
func (k *kubeOptions) workload(ctx context.Context, ro *v1alpha1.Rollout) (*appsv1.Deployment, error) {
	ref := ro.Spec.WorkloadRef
	if ref == nil {
		return nil, fmt.Errorf("%s%s has no workloadRef: it is a local rollout, for `fledge` without kube", kindPrefix, ro.Name)
	}
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" {
		return nil, fmt.Errorf("%s%s: workloadRef %s %s: only an apps/v1 Deployment is supported", kindPrefix, ro.Name, ref.APIVersion, ref.Kind)
	}
	var d appsv1.Deployment
	if err := k.kube.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ref.Name}, &d); err != nil {
		return nil, fmt.Errorf("read the workloadRef Deployment %s/%s of %s%s: %w", ro.Namespace, ref.Name, kindPrefix, ro.Name, err)
	}
	return &d, nil
}

func newKubeGetCmd(k *kubeOptions) *cobra.Command {
	get := &cobra.Command{
		Use:   "get KIND",
		Short: "List resources (rollouts)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("say what to get: `get rollouts`")
		},
	}
	var output string
	var watch bool
	rollouts := &cobra.Command{
		Use:     "rollouts",
		Aliases: []string{"rollout", "ro"},
		Short:   "List the namespace's Rollouts: NAME STRATEGY PHASE STEP WEIGHT STABLE CANARY AGE",
		Args:    cobra.NoArgs,
		RunE: k.run(func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "json"); err != nil {
				return err
			}
			return k.listRollouts(cmd.Context(), output, watch, k.rollouts, "No rollouts in namespace "+k.ns+".")
		}),
	}
	rollouts.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	rollouts.Flags().BoolVarP(&watch, "watch", "w", false, "keep listing: print a rollout again when it changes")
	get.AddCommand(rollouts)
	return get
}

// rollouts lists the namespace's Rollouts.
func (k *kubeOptions) rollouts(ctx context.Context) ([]*v1alpha1.Rollout, error) {
	var list v1alpha1.RolloutList
	if err := k.kube.List(ctx, &list, client.InNamespace(k.ns)); err != nil {
		return nil, fmt.Errorf("list the rollouts of namespace %s: %w", k.ns, err)
	}
	out := make([]*v1alpha1.Rollout, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}
