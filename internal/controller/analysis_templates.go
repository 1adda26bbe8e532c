package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// specError is a mistake in what the user wrote: the Rollout is marked
// InvalidSpec, and nothing is retried until something changes.
type specError struct{ err error }

func (e *specError) Error() string { return e.err.Error() }
func (e *specError) Unwrap() error { return e.err }

func invalidf(format string, args ...any) error {
	return &specError{fmt.Errorf(format, args...)}
}

// analysisRef is one template reference of the strategy, where it is.
type analysisRef struct {
	path string // e.g. spec.strategy.canary.steps[2].analysis.templates[0]
	ref  *v1alpha1.AnalysisTemplateRef
}

// analysisRefs lists the template references of the strategy's analyses,
// pointing into ro so that they can be rewritten.
func analysisRefs(ro *v1alpha1.Rollout) []analysisRef {
	var out []analysisRef
	add := func(p string, a *v1alpha1.RolloutAnalysis) {
		if a == nil {
			return
		}
		for i := range a.Templates {
			out = append(out, analysisRef{fmt.Sprintf("%s.templates[%d]", p, i), &a.Templates[i]})
		}
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		for i := range c.Steps {
			add(fmt.Sprintf("spec.strategy.canary.steps[%d].analysis", i), c.Steps[i].Analysis)
		}
		if c.Analysis != nil {
			add("spec.strategy.canary.analysis", &c.Analysis.RolloutAnalysis)
		}
	}
	if b := ro.Spec.Strategy.BlueGreen; b != nil {
		add("spec.strategy.blueGreen.prePromotionAnalysis", b.PrePromotionAnalysis)
		add("spec.strategy.blueGreen.postPromotionAnalysis", b.PostPromotionAnalysis)
	}
	return out
}

// withTemplates makes ro's analyses runnable by the engine and the run
// manager, which know only inline templates: a template the Rollout names
// and does not define inline is copied from the AnalysisTemplate of that
// name in its namespace (as `fledge run` copies the AnalysisTemplate
// documents of a file), and one named with clusterScope from the
// ClusterAnalysisTemplate, the reference rewritten to the copy (renamed
// when an inline or namespaced template has its name). Then every template
// used must measure with a provider that works in a cluster. ro is the
// controller's copy of the spec, never written back.
func (r *Reconciler) withTemplates(ctx context.Context, ro *v1alpha1.Rollout) error {
	refs := analysisRefs(ro)
	have := map[string]string{} // template name -> the path of its spec, for messages
	for i, t := range ro.Spec.AnalysisTemplates {
		have[t.Name] = fmt.Sprintf("spec.analysisTemplates[%d]", i)
	}
	for _, ar := range refs { // namespaced first: they keep their names
		if ar.ref.ClusterScope || have[ar.ref.TemplateName] != "" || ar.ref.TemplateName == "" {
			continue
		}
		var t v1alpha1.AnalysisTemplate
		err := r.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ar.ref.TemplateName}, &t)
		if apierrors.IsNotFound(err) {
			return invalidf("%s.templateName: no analysis template %q in spec.analysisTemplates nor AnalysisTemplate %q in namespace %s",
				ar.path, ar.ref.TemplateName, ar.ref.TemplateName, ro.Namespace)
		} else if err != nil {
			return fmt.Errorf("read AnalysisTemplate %s/%s: %w", ro.Namespace, ar.ref.TemplateName, err)
		}
		what := fmt.Sprintf("AnalysisTemplate %s/%s", ro.Namespace, t.Name)
		if err := adopt(ro, ar.ref.TemplateName, what, t.Spec); err != nil {
			return err
		}
		have[ar.ref.TemplateName] = what + " spec"
	}
	copies := map[string]string{} // ClusterAnalysisTemplate -> its copy's name
	for _, ar := range refs {
		if !ar.ref.ClusterScope {
			continue
		}
		name := ar.ref.TemplateName
		if c, ok := copies[name]; ok {
			ar.ref.TemplateName, ar.ref.ClusterScope = c, false
			continue
		}
		var t v1alpha1.ClusterAnalysisTemplate
		err := r.Get(ctx, types.NamespacedName{Name: name}, &t)
		if apierrors.IsNotFound(err) {
			return invalidf("%s.templateName: no ClusterAnalysisTemplate %q", ar.path, name)
		} else if err != nil {
			return fmt.Errorf("read ClusterAnalysisTemplate %s: %w", name, err)
		}
		c := name
		for n := 1; have[c] != ""; n++ {
			c = fmt.Sprintf("%s-cluster-%d", name, n)
		}
		what := "ClusterAnalysisTemplate " + name
		if err := adopt(ro, c, what, t.Spec); err != nil {
			return err
		}
		have[c], copies[name] = what+" spec", c
		ar.ref.TemplateName, ar.ref.ClusterScope = c, false
	}
	return clusterSupport(ro, refs, have)
}

// adopt validates a standalone template and copies it inline under name.
func adopt(ro *v1alpha1.Rollout, name, what string, spec v1alpha1.AnalysisTemplateSpec) error {
	t := v1alpha1.AnalysisTemplate{Spec: *spec.DeepCopy()}
	t.APIVersion, t.Kind, t.Name = v1alpha1.APIVersion, v1alpha1.KindTemplate, name
	t.Spec.Default()
	if err := t.Validate(); err != nil {
		return invalidf("%s: %s", what, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	ro.Spec.AnalysisTemplates = append(ro.Spec.AnalysisTemplates, v1alpha1.NamedAnalysisTemplate{Name: name, AnalysisTemplateSpec: t.Spec})
	return nil
}

// unsupported says why a provider cannot measure from the controller.
var unsupported = map[string]string{
	"builtin": "the builtin provider reads the per-version counters of Fledge's embedded proxy, which does not run on Kubernetes: measure with prometheus or web",
	"job":     "a job metric runs a command on the machine of the local daemon, which the controller does not do: measure with prometheus or web",
}

// clusterSupport checks that the templates the analyses use measure with
// providers the controller has: a template reading the embedded proxy's
// counters (the builtin provider, a judge without a prometheus source)
// would never get a value.
func clusterSupport(ro *v1alpha1.Rollout, refs []analysisRef, where map[string]string) error {
	used := map[string]bool{}
	for _, ar := range refs {
		used[ar.ref.TemplateName] = true
	}
	var errs []error
	for _, t := range ro.Spec.AnalysisTemplates {
		if !used[t.Name] {
			continue
		}
		at := where[t.Name]
		if t.Judge != nil && t.Judge.Prometheus == nil {
			errs = append(errs, fmt.Errorf("%s.judge: a judge compares the canary with stable from the per-version counters of Fledge's embedded proxy, which does not run on Kubernetes: give it judge.prometheus to read them from Prometheus (examples/kubernetes/analysis/judge-*.yaml), or use metrics with prometheus or web", at))
		}
		for i, m := range t.Metrics {
			id, err := provider.Kind(m.Provider)
			if err != nil {
				continue // Validate says so
			}
			if why, bad := unsupported[id]; bad {
				errs = append(errs, fmt.Errorf("%s.metrics[%d].provider.%s: metric %q: %s", at, i, id, m.Name, why))
			}
		}
	}
	if len(errs) > 0 {
		return &specError{errors.Join(errs...)}
	}
	return nil
}
