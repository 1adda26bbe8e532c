package controller

import (
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	corev1 "k8s.io/api/core/v1"
)

func TestRouterID(t *testing.T) {
	tests := map[string]struct {
		tr   v1alpha1.TrafficRouting
		want string
	}{
		"gatewayAPI": {tr: v1alpha1.TrafficRouting{GatewayAPI: &v1alpha1.GatewayAPIRouting{HTTPRoute: "web"}}, want: "gatewayAPI"},
		"nginx":      {tr: v1alpha1.TrafficRouting{NGINX: &v1alpha1.NGINXRouting{StableIngress: "web"}}, want: "nginx"},
		"istio":      {tr: v1alpha1.TrafficRouting{Istio: &v1alpha1.IstioRouting{}}, want: "istio"},
		"service":    {tr: v1alpha1.TrafficRouting{Service: &v1alpha1.ServiceRouting{}}, want: "service"},
		"none":       {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{TrafficRouting: &tc.tr}}}}
			got, err := routerID(ro)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("want an error, got %q", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRevisionFollowsTheTemplate(t *testing.T) {
	a := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}}
	b := a.DeepCopy()
	if Revision(a) != Revision(b) {
		t.Fatal("equal templates give different revisions")
	}
	b.Spec.Containers[0].Image = "web:2"
	if Revision(a) == Revision(b) {
		t.Fatal("a new image gives the same revision")
	}
}

func TestSameTraffic(t *testing.T) {
	tests := map[string]struct {
		a, b rollout.Traffic
		want bool
	}{
		"idle canary ignored": {a: rollout.Traffic{Stable: "1"}, b: rollout.Traffic{Stable: "1", Canary: "2"}, want: true},
		"weighted canary":     {a: rollout.Traffic{Stable: "1", Canary: "2", CanaryWeight: 5}, b: rollout.Traffic{Stable: "1", Canary: "2"}, want: false},
		"other stable":        {a: rollout.Traffic{Stable: "1"}, b: rollout.Traffic{Stable: "2"}, want: false},
		"empty routes":        {a: rollout.Traffic{Stable: "1", HeaderRoutes: []v1alpha1.SetHeaderRoute{}}, b: rollout.Traffic{Stable: "1"}, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := sameTraffic(tc.a, tc.b); got != tc.want {
				t.Fatalf("sameTraffic = %v, want %v", got, tc.want)
			}
		})
	}
}
