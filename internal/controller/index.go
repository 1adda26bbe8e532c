package controller

import (
	"context"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/router/service"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Indexes of the Rollouts in the cache, so that an event on a Deployment
// or a template finds the Rollouts that name it without listing (and
// decoding) every Rollout of the namespace: at a thousand Rollouts a
// namespace, the Deployment watch's listing was a cost paid per pod
// status change.
const (
	// indexWorkload holds the name of the Deployment a Rollout's
	// workloadRef names.
	indexWorkload = "fledge.workloadRef"
	// indexTemplate holds the names of the templates a Rollout's analyses
	// name: "name" for an AnalysisTemplate of its namespace,
	// "cluster/name" for a ClusterAnalysisTemplate.
	indexTemplate = "fledge.templates"
	// indexRevisions holds, for a Deployment of a revision, the Rollout its
	// fledge.dev/rollout label names: each decision lists its Rollout's
	// revisions, and a label selector is matched against every Deployment
	// of the namespace (a tenth of the controller's CPU at 100 Rollouts a
	// namespace, growing with them).
	indexRevisions = "fledge.revisionOf"
)

// addIndexes registers the indexes; it must run before the manager starts.
func addIndexes(ctx context.Context, mgr manager.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.Rollout{}, indexWorkload, workloadKeys); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.Rollout{}, indexTemplate, templateKeys); err != nil {
		return err
	}
	return idx.IndexField(ctx, &appsv1.Deployment{}, indexRevisions, revisionKeys)
}

func revisionKeys(o client.Object) []string {
	if name := o.GetLabels()[service.LabelRollout]; name != "" {
		return []string{name}
	}
	return nil
}

func workloadKeys(o client.Object) []string {
	ro, ok := o.(*v1alpha1.Rollout)
	if !ok || ro.Spec.WorkloadRef == nil || ro.Spec.WorkloadRef.Kind != "Deployment" {
		return nil
	}
	return []string{ro.Spec.WorkloadRef.Name}
}

func templateKeys(o client.Object) []string {
	ro, ok := o.(*v1alpha1.Rollout)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, ar := range analysisRefs(ro) {
		k := templateKey(ar.ref.TemplateName, ar.ref.ClusterScope)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func templateKey(name string, cluster bool) string {
	if cluster {
		return "cluster/" + name
	}
	return name
}

// referrers maps a Deployment to the Rollouts whose workloadRef names it.
func (r *Reconciler) referrers(ctx context.Context, o client.Object) []reconcile.Request {
	return r.indexed(ctx, []client.ListOption{client.InNamespace(o.GetNamespace()),
		client.MatchingFields{indexWorkload: o.GetName()}})
}

// templateUsers maps an AnalysisTemplate to the Rollouts of its namespace
// that name it, and a ClusterAnalysisTemplate to every Rollout that names
// it with clusterScope: a Rollout waiting for a template it names (marked
// InvalidSpec) goes on once the template is there.
func (r *Reconciler) templateUsers(ctx context.Context, o client.Object) []reconcile.Request {
	_, cluster := o.(*v1alpha1.ClusterAnalysisTemplate)
	opts := []client.ListOption{client.MatchingFields{indexTemplate: templateKey(o.GetName(), cluster)}}
	if !cluster {
		opts = append(opts, client.InNamespace(o.GetNamespace()))
	}
	return r.indexed(ctx, opts)
}

// indexed lists the Rollouts the options select, as requests.
func (r *Reconciler) indexed(ctx context.Context, opts []client.ListOption) []reconcile.Request {
	var list v1alpha1.RolloutList
	if err := r.List(ctx, &list, opts...); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
