package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
	"fledge.dev/fledge/internal/router/service"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The verbs that start a release: in cluster mode a release starts when
// the workloadRef Deployment's pod template changes, so these edit it.

func init() {
	registerKube(newKubeSetCmd)
	registerKube(newKubeUndoCmd)
	registerKube(newKubeHistoryCmd)
}

func newKubeSetCmd(k *kubeOptions) *cobra.Command {
	set := &cobra.Command{
		Use:   "set SUBCOMMAND",
		Short: "Change a Rollout's workload (image): a new revision is released",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("say what to set: `set image NAME CONTAINER=IMAGE`")
		},
	}
	set.AddCommand(&cobra.Command{
		Use:   "image NAME CONTAINER=IMAGE...",
		Short: "Set container images in the pod template of a Rollout's workloadRef Deployment",
		Long: "Set the image of one or more containers (or init containers) in the pod template of\n" +
			"the Rollout's workloadRef Deployment. The new template is a new revision, which the\n" +
			"controller releases through the Rollout's steps.",
		Args: cobra.MinimumNArgs(2),
		RunE: k.run(func(cmd *cobra.Command, args []string) error {
			images, err := parseImages(args[1:])
			if err != nil {
				return err
			}
			return k.setImages(cmd.Context(), args[0], images)
		}),
	})
	return set
}

// containerImage is one CONTAINER=IMAGE argument.
type containerImage struct{ container, image string }

func parseImages(args []string) ([]containerImage, error) {
	var out []containerImage
	seen := map[string]bool{}
	for _, a := range args {
		c, img, ok := strings.Cut(a, "=")
		if !ok || c == "" || img == "" {
			return nil, fmt.Errorf("%q: want CONTAINER=IMAGE", a)
		}
		if seen[c] {
			return nil, fmt.Errorf("%q: container %s is named twice", a, c)
		}
		seen[c] = true
		out = append(out, containerImage{c, img})
	}
	return out, nil
}

// applyImages sets the images in a pod spec and tells whether anything
// changed; a container the spec lacks is an error that lists those it has.
func applyImages(spec *corev1.PodSpec, images []containerImage) (changed bool, err error) {
	for _, ci := range images {
		found := false
		var names []string
		for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
			for i := range list {
				names = append(names, list[i].Name)
				if list[i].Name == ci.container {
					found = true
					changed = changed || list[i].Image != ci.image
					list[i].Image = ci.image
				}
			}
		}
		if !found {
			return false, fmt.Errorf("container %s: the pod template has no such container (it has %s)", ci.container, strings.Join(names, ", "))
		}
	}
	return changed, nil
}

func (k *kubeOptions) setImages(ctx context.Context, name string, images []containerImage) error {
	ro, err := k.rollout(ctx, name)
	if err != nil {
		return err
	}
	changed := false
	w, err := k.editTemplate(ctx, ro, func(t *corev1.PodTemplateSpec) error {
		changed, err = applyImages(&t.Spec, images)
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot set the image of %s%s: %w", kindPrefix, name, err)
	}
	var set []string
	for _, ci := range images {
		set = append(set, ci.container+"="+ci.image)
	}
	if !changed {
		fmt.Fprintf(k.Out, "deployment.apps/%s unchanged: %s already run\n", w.Name, strings.Join(set, ", "))
		return nil
	}
	fmt.Fprintf(k.Out, "deployment.apps/%s image updated (%s): %s%s releases revision %s\n",
		w.Name, strings.Join(set, ", "), kindPrefix, name, controller.Revision(&w.Spec.Template))
	return nil
}

// editTemplate changes the pod template of a Rollout's workload, reading
// it again when someone else changed it meanwhile; it returns the
// Deployment as the API server stored it.
func (k *kubeOptions) editTemplate(ctx context.Context, ro *v1alpha1.Rollout, edit func(*corev1.PodTemplateSpec) error) (*appsv1.Deployment, error) {
	var w *appsv1.Deployment
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		if w, err = k.workload(ctx, ro); err != nil {
			return err
		}
		base := w.DeepCopy()
		if err := edit(&w.Spec.Template); err != nil {
			return err
		}
		return k.kube.Patch(ctx, w, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	})
	return w, err
}

func newKubeUndoCmd(k *kubeOptions) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "undo NAME",
		Short: "Set the workload's pod template back to an earlier revision's: released as a new rollout",
		Long: "Set the pod template of the Rollout's workloadRef Deployment back to an earlier\n" +
			"revision's, read from Fledge's Deployment of that revision (<rollout>-<revision>,\n" +
			"kept at 0 replicas). The controller takes the template change as any other:\n" +
			"- during a release (or after an abort), undo goes back to the stable revision: the\n" +
			"  controller withdraws the canary at once;\n" +
			"- otherwise it goes back to the most recently created other revision (or\n" +
			"  --to-revision REV, see `history NAME`), which is released as a new rollout, through\n" +
			"  the steps: `promote --full NAME` skips them.",
		Args: cobra.ExactArgs(1),
		RunE: k.run(func(cmd *cobra.Command, args []string) error {
			return k.undo(cmd.Context(), args[0], to)
		}),
	}
	cmd.Flags().StringVar(&to, "to-revision", "", "the revision to go back to: an id that history NAME lists")
	return cmd
}

func (k *kubeOptions) undo(ctx context.Context, name, to string) error {
	ro, err := k.rollout(ctx, name)
	if err != nil {
		return err
	}
	w, err := k.workload(ctx, ro)
	if err != nil {
		return err
	}
	revs, err := k.revisions(ctx, ro)
	if err != nil {
		return err
	}
	target, err := undoTarget(ro.Status, controller.Revision(&w.Spec.Template), revs, to)
	if err != nil {
		return fmt.Errorf("cannot undo %s: %w", name, err)
	}
	var tpl corev1.PodTemplateSpec
	for _, r := range revs {
		if r.id == target {
			tpl = revisionTemplate(r.deploy)
		}
	}
	if w, err = k.editTemplate(ctx, ro, func(t *corev1.PodTemplateSpec) error { *t = tpl; return nil }); err != nil {
		return fmt.Errorf("cannot undo %s: %w", name, err)
	}
	if got := controller.Revision(&w.Spec.Template); got != target {
		fmt.Fprintf(k.ErrOut, "warning: the API server stored the template as revision %s, not %s: it is released as a new revision\n", got, target)
	}
	then := "the controller releases it through the steps (`promote --full " + name + "` skips them)"
	if target == ro.Status.StableRevision {
		then = "the stable revision: the controller withdraws the release in progress"
	}
	fmt.Fprintf(k.Out, "%s%s: deployment.apps/%s set back to revision %s, %s\n", kindPrefix, name, w.Name, target, then)
	return nil
}

// revision is one of Fledge's per-revision Deployments of a Rollout.
type revision struct {
	id      string
	created time.Time
	deploy  *appsv1.Deployment
}

// revisions lists the Deployments the Rollout owns, one per revision,
// newest first.
func (k *kubeOptions) revisions(ctx context.Context, ro *v1alpha1.Rollout) ([]revision, error) {
	var list appsv1.DeploymentList
	if err := k.kube.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingLabels{service.LabelRollout: ro.Name}); err != nil {
		return nil, fmt.Errorf("list the revisions of %s%s: %w", kindPrefix, ro.Name, err)
	}
	var out []revision
	for i := range list.Items {
		d := &list.Items[i]
		if id := d.Labels[service.LabelRevision]; id != "" && metav1.IsControlledBy(d, ro) {
			out = append(out, revision{id: id, created: d.CreationTimestamp.Time, deploy: d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].created.After(out[j].created) })
	return out, nil
}

// undoTarget chooses the revision undo goes back to: --to-revision; else,
// while another revision than stable is wanted, the stable one; else the
// newest other revision. desired is the workload template's revision.
func undoTarget(st v1alpha1.RolloutStatus, desired string, revs []revision, to string) (string, error) {
	var ids []string
	has := func(id string) bool {
		for _, r := range revs {
			if r.id == id {
				return true
			}
		}
		return false
	}
	for _, r := range revs {
		ids = append(ids, r.id)
	}
	switch {
	case to != "" && !has(to):
		return "", fmt.Errorf("--to-revision %s: no such revision (there are: %s)", to, orNone(ids))
	case to == desired && to != "":
		return "", fmt.Errorf("--to-revision %s: the workload's template is that revision already", to)
	case to != "":
		return to, nil
	case st.StableRevision != "" && st.StableRevision != desired:
		if !has(st.StableRevision) {
			return "", fmt.Errorf("the stable revision %s has no Deployment to read its template from", st.StableRevision)
		}
		return st.StableRevision, nil
	}
	for _, r := range revs {
		if r.id != desired {
			return r.id, nil
		}
	}
	return "", fmt.Errorf("no earlier revision to go back to (there are: %s)", orNone(ids))
}

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// revisionTemplate is the user's pod template a revision's Deployment was
// made from: its template less the labels Fledge added.
func revisionTemplate(d *appsv1.Deployment) corev1.PodTemplateSpec {
	t := *d.Spec.Template.DeepCopy()
	for _, l := range []string{service.LabelRollout, service.LabelRevision} {
		if v, ok := t.Labels[l]; ok && v == d.Labels[l] {
			delete(t.Labels, l)
		}
	}
	return t
}

func newKubeHistoryCmd(k *kubeOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "history NAME",
		Short: "List a Rollout's revisions: REVISION CREATED IMAGES REPLICAS STATUS",
		Args:  cobra.ExactArgs(1),
		RunE: k.run(func(cmd *cobra.Command, args []string) error {
			ro, err := k.rollout(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			revs, err := k.revisions(cmd.Context(), ro)
			if err != nil {
				return err
			}
			desired := ""
			if w, err := k.workload(cmd.Context(), ro); err == nil {
				desired = controller.Revision(&w.Spec.Template)
			}
			writeRevisions(k.Out, revs, ro.Status, desired)
			return nil
		}),
	}
}

// writeRevisions is the history table, newest first.
func writeRevisions(w io.Writer, revs []revision, st v1alpha1.RolloutStatus, desired string) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tCREATED\tIMAGES\tREPLICAS\tSTATUS")
	for _, r := range revs {
		var images, status []string
		for _, c := range r.deploy.Spec.Template.Spec.Containers {
			images = append(images, c.Image)
		}
		for _, s := range []struct {
			on   bool
			text string
		}{{r.id == st.StableRevision, "stable"}, {r.id == st.CanaryRevision, "canary"}, {r.id == desired, "template"}} {
			if s.on {
				status = append(status, s.text)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.id, r.created.Local().Format("2006-01-02 15:04:05"),
			shorten(strings.Join(images, ","), 60), v1alpha1.Int32(r.deploy.Spec.Replicas), orDash(strings.Join(status, ",")))
	}
	tw.Flush()
}
