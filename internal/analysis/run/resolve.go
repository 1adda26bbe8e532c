package run

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
)

// resolved is what a run measures: its templates' metrics and judges with
// their arguments substituted.
type resolved struct {
	metrics []v1alpha1.Metric
	judges  []v1alpha1.Judge
	// policy is Abort when one of the templates says so.
	policy v1alpha1.InconclusivePolicy
	// args lists every template argument with its value, in the order the
	// templates declare them.
	args []v1alpha1.AnalysisRunArgument
}

// resolve builds the metrics of an analysis from the rollout's templates.
func resolve(a v1alpha1.RolloutAnalysis, templates []v1alpha1.NamedAnalysisTemplate, env Env) (resolved, error) {
	var out resolved
	if len(a.Templates) == 0 {
		return out, fmt.Errorf("the analysis names no template")
	}
	given := map[string]string{}
	for _, arg := range a.Args {
		v, err := argValue(arg, env)
		if err != nil {
			return out, err
		}
		given[arg.Name] = v
	}
	seen := map[string]bool{}
	for _, ref := range a.Templates {
		t, err := template(ref, templates)
		if err != nil {
			return out, err
		}
		values := map[string]string{}
		for _, arg := range t.Args {
			v, ok := given[arg.Name]
			if !ok && arg.Value == nil {
				return out, fmt.Errorf("template %q: argument %q has no value: give it in the analysis's args", t.Name, arg.Name)
			}
			if !ok {
				v = *arg.Value
			}
			values[arg.Name] = v
			if !seen[arg.Name] {
				seen[arg.Name] = true
				out.args = append(out.args, v1alpha1.AnalysisRunArgument{Name: arg.Name, Value: v})
			}
		}
		for _, m := range t.Metrics {
			m, err := substitute(m, fmt.Sprintf("metric %q", m.Name), values)
			if err != nil {
				return out, fmt.Errorf("template %q: %w", t.Name, err)
			}
			out.metrics = append(out.metrics, m)
		}
		if t.Judge != nil {
			j, err := substitute(*t.Judge, fmt.Sprintf("judge %q", t.Judge.Name), values)
			if err != nil {
				return out, fmt.Errorf("template %q: %w", t.Name, err)
			}
			j.Default()
			out.judges = append(out.judges, j)
		}
		if t.InconclusivePolicy == v1alpha1.InconclusiveAbort {
			out.policy = v1alpha1.InconclusiveAbort
		}
	}
	spec := v1alpha1.AnalysisTemplateSpec{Metrics: out.metrics}
	spec.Default()
	if out.policy == "" {
		out.policy = v1alpha1.InconclusivePause
	}
	return out, nil
}

// argValue is an argument's value, from the spec or from the release.
func argValue(arg v1alpha1.AnalysisRunArgument, env Env) (string, error) {
	if arg.ValueFrom == nil || arg.ValueFrom.PodTemplateHashValue == nil {
		return arg.Value, nil
	}
	var rev string
	switch from := *arg.ValueFrom.PodTemplateHashValue; from {
	case v1alpha1.ValueFromLatest:
		rev = env.CanaryRevision
	case v1alpha1.ValueFromStable:
		rev = env.StableRevision
	default:
		return "", fmt.Errorf("argument %q: podTemplateHashValue %q: want Stable or Latest", arg.Name, from)
	}
	if rev == "" {
		return "", fmt.Errorf("argument %q: there is no %s revision yet", arg.Name, *arg.ValueFrom.PodTemplateHashValue)
	}
	return rev, nil
}

// template finds the template a reference names.
func template(ref v1alpha1.AnalysisTemplateRef, templates []v1alpha1.NamedAnalysisTemplate) (v1alpha1.NamedAnalysisTemplate, error) {
	if ref.ClusterScope {
		return v1alpha1.NamedAnalysisTemplate{}, fmt.Errorf("template %q: cluster-scoped templates exist only in Kubernetes mode", ref.TemplateName)
	}
	names := make([]string, 0, len(templates))
	for _, t := range templates {
		if t.Name == ref.TemplateName {
			return t, nil
		}
		names = append(names, strconv.Quote(t.Name))
	}
	have := "none is defined"
	if len(names) > 0 {
		have = "have " + strings.Join(names, ", ")
	}
	return v1alpha1.NamedAnalysisTemplate{}, fmt.Errorf("no analysis template %q in the rollout's analysisTemplates (%s)", ref.TemplateName, have)
}

// argRef matches {{args.name}}, spaces allowed inside the braces: the
// references the spec validation checks.
var argRef = v1alpha1.ArgRef

// substitute replaces {{args.name}} in every text field of a metric (or a
// judge; what names it in errors), so that any provider's fields (a query, a route) can
// take arguments without the run knowing them.
func substitute[T any](m T, what string, values map[string]string) (T, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return m, fmt.Errorf("%s: %w", what, err)
	}
	var missing []string
	out := argRef.ReplaceAllFunc(b, func(ref []byte) []byte {
		name := string(argRef.FindSubmatch(ref)[1])
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
			return ref
		}
		q, _ := json.Marshal(v) // a string always marshals
		return q[1 : len(q)-1]  // inside the JSON string it replaces
	})
	if len(missing) > 0 {
		return m, fmt.Errorf("%s refers to {{args.%s}}, which its template does not declare", what, missing[0])
	}
	var sub T
	if err := json.Unmarshal(out, &sub); err != nil {
		return m, fmt.Errorf("%s after substituting its arguments: %w", what, err)
	}
	return sub, nil
}
