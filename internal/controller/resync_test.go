package controller

import (
	"slices"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
)

func TestTrafficAppliedComparesEveryField(t *testing.T) {
	base := rollout.Traffic{Stable: "a", Canary: "b", CanaryWeight: 20}
	hdr := []v1alpha1.SetHeaderRoute{{Name: "testers"}}
	mir := []v1alpha1.SetMirrorRoute{{Name: "shadow"}}
	with := func(f func(*rollout.Traffic)) rollout.Traffic { t := base; f(&t); return t }
	canary := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}}}}
	tests := map[string]struct {
		want, have rollout.Traffic
		applied    bool
	}{
		"the same":                               {base, base, true},
		"empty and nil route lists":              {with(func(t *rollout.Traffic) { t.HeaderRoutes = []v1alpha1.SetHeaderRoute{} }), base, true},
		"another weight":                         {with(func(t *rollout.Traffic) { t.CanaryWeight = 30 }), base, false},
		"a header route missing":                 {with(func(t *rollout.Traffic) { t.HeaderRoutes = hdr }), base, false},
		"a mirror route missing":                 {with(func(t *rollout.Traffic) { t.MirrorRoutes = mir }), base, false},
		"a canary's preview is not the router's": {with(func(t *rollout.Traffic) { t.Preview = "b" }), base, true},
		"a match list empty or none": {with(func(t *rollout.Traffic) {
			t.MirrorRoutes = []v1alpha1.SetMirrorRoute{{Name: "shadow", Match: []v1alpha1.RouteMatch{}}}
		}), with(func(t *rollout.Traffic) { t.MirrorRoutes = mir }), true},
		"a canary at 0 not selected yet": {rollout.Traffic{Stable: "a", Canary: "b"}, rollout.Traffic{Stable: "a"}, false},
	}
	for name, tc := range tests {
		if got := trafficApplied(canary, tc.want, tc.have); got != tc.applied {
			t.Errorf("%s: trafficApplied = %v, want %v", name, got, tc.applied)
		}
	}
	// Blue-green's preview is the canary Service's selection: it counts.
	bg := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{}}}}
	if trafficApplied(bg, rollout.Traffic{Stable: "a", Preview: "b"}, rollout.Traffic{Stable: "a"}) {
		t.Error("blue-green: a preview not yet selected counted as applied")
	}
}

func TestResyncIsLongAtRest(t *testing.T) {
	tests := []struct {
		st   v1alpha1.RolloutStatus
		want string
	}{
		{v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "a"}, "idle"},
		{v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseDegraded, StableRevision: "a"}, "idle"},
		{v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseDegraded, StableRevision: "a", CanaryRevision: "b"}, "active"},
		{v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseProgressing, CanaryRevision: "b"}, "active"},
		{v1alpha1.RolloutStatus{Phase: v1alpha1.PhasePaused, CanaryRevision: "b"}, "active"},
	}
	for _, tc := range tests {
		got := map[bool]string{true: "idle", false: "active"}[resyncFor(tc.st) == resyncIdle]
		if got != tc.want {
			t.Errorf("%s canary %q: resync %s, want %s", tc.st.Phase, tc.st.CanaryRevision, got, tc.want)
		}
	}
	if resyncActive >= resyncIdle {
		t.Fatalf("resyncActive %v must be shorter than resyncIdle %v", resyncActive, resyncIdle)
	}
}

func TestIndexKeys(t *testing.T) {
	ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{
		WorkloadRef: &v1alpha1.WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
			{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "rate"}, {TemplateName: "rate", ClusterScope: true}}}},
			{Analysis: &v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "rate"}}}},
		}}},
	}}
	if got := workloadKeys(ro); !slices.Equal(got, []string{"web"}) {
		t.Errorf("workloadKeys = %v, want [web]", got)
	}
	if got := templateKeys(ro); !slices.Equal(got, []string{"rate", "cluster/rate"}) {
		t.Errorf("templateKeys = %v, want [rate cluster/rate] (each once)", got)
	}
	ro.Spec.WorkloadRef = nil
	if got := workloadKeys(ro); got != nil {
		t.Errorf("a template Rollout indexed under workload %v", got)
	}
}
