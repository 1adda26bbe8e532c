package controller

import (
	"slices"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestPrunableKeepsWhatMayRunAndTheNewestHistory(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "ro-uid"}}
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	// Revisions r1..r6, created one minute apart; each test says which
	// run and at how many replicas their Deployments are.
	deploy := func(i int, replicas int32, owned bool) *appsv1.Deployment {
		name := "r" + string(rune('0'+i))
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web-" + name, UID: types.UID(name),
			CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(i) * time.Minute))},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas}}
		if owned {
			yes := true
			d.OwnerReferences = []metav1.OwnerReference{{UID: ro.UID, Controller: &yes, Name: "web", Kind: "Rollout"}}
		}
		return d
	}
	tests := map[string]struct {
		limit   *int32 // nil: the default, 10
		byRev   map[string]*appsv1.Deployment
		desired string
		dec     rollout.Decision
		want    []string
	}{
		"no limit set: the default keeps 10": {
			byRev: map[string]*appsv1.Deployment{"r1": deploy(1, 0, true), "r2": deploy(2, 0, true), "r3": deploy(3, 2, true)},
			dec:   decision("r3", "", map[string]int32{"r3": 2}),
		},
		"within the limit": {
			limit: limit(2),
			byRev: map[string]*appsv1.Deployment{"r1": deploy(1, 0, true), "r2": deploy(2, 0, true), "r3": deploy(3, 2, true)},
			dec:   decision("r3", "", map[string]int32{"r3": 2}),
		},
		"the oldest beyond the limit": {
			limit: limit(1),
			byRev: map[string]*appsv1.Deployment{"r1": deploy(1, 0, true), "r2": deploy(2, 0, true), "r3": deploy(3, 0, true), "r4": deploy(4, 2, true)},
			dec:   decision("r4", "", map[string]int32{"r4": 2}),
			want:  []string{"web-r1", "web-r2"},
		},
		"a warm previous stable is not history": {
			limit: limit(0),
			byRev: map[string]*appsv1.Deployment{"r1": deploy(1, 0, true), "r2": deploy(2, 2, true), "r3": deploy(3, 2, true)},
			dec:   decision("r3", "", map[string]int32{"r3": 2, "r2": 2}),
			want:  []string{"web-r1"},
		},
		"stable, canary and the template's revision stay, even at 0": {
			limit:   limit(0),
			byRev:   map[string]*appsv1.Deployment{"r1": deploy(1, 0, true), "r2": deploy(2, 0, true), "r3": deploy(3, 0, true), "r4": deploy(4, 0, true)},
			desired: "r4",
			dec:     decision("r1", "r3", nil),
			want:    []string{"web-r2"},
		},
		"not yet at 0: a later pass": {
			limit: limit(0),
			byRev: map[string]*appsv1.Deployment{"r1": deploy(1, 1, true), "r2": deploy(2, 2, true)},
			dec:   decision("r2", "", map[string]int32{"r2": 2}),
		},
		"a Deployment the Rollout does not own is never deleted": {
			limit: limit(0),
			byRev: map[string]*appsv1.Deployment{"r1": deploy(1, 0, false), "r2": deploy(2, 2, true)},
			dec:   decision("r2", "", map[string]int32{"r2": 2}),
		},
		"an undone revision created long ago is stable, so kept": {
			limit: limit(1),
			byRev: map[string]*appsv1.Deployment{"r1": deploy(1, 2, true), "r2": deploy(2, 0, true), "r3": deploy(3, 0, true)},
			dec:   decision("r1", "", map[string]int32{"r1": 2}),
			want:  []string{"web-r2"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ro := ro.DeepCopy()
			ro.Spec.RevisionHistoryLimit = tc.limit
			var got []string
			for _, d := range prunable(ro, tc.byRev, tc.desired, tc.dec) {
				got = append(got, d.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("pruned %v, want %v", got, tc.want)
			}
		})
	}
}

func decision(stable, canary string, replicas map[string]int32) rollout.Decision {
	return rollout.Decision{Status: v1alpha1.RolloutStatus{StableRevision: stable, CanaryRevision: canary}, Replicas: replicas}
}

func limit(n int32) *int32 { return &n }
