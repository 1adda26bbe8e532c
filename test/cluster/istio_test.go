package cluster

import (
	"path/filepath"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/router/istio"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// TestIstioVirtualService releases through an Istio VirtualService: the
// named route's destinations get the step's weights and a header route is
// put in front of it, read back from the API server.
func TestIstioVirtualService(t *testing.T) {
	ns := namespace(t)
	startController(t)
	dir := filepath.Join(root, "examples", "kubernetes", "gateway-api")
	applyFile(t, ns, filepath.Join(dir, "deployment.yaml"))
	applyFile(t, ns, filepath.Join(dir, "services.yaml"))
	applyYAML(t, ns, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
spec:
  hosts: [web.local]
  http:
    - name: primary
      route:
        - destination: {host: web-stable, port: {number: 80}}
          weight: 100
`)
	applyYAML(t, ns, `
apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 2
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  strategy:
    canary:
      trafficRouting:
        istio: {virtualService: {name: web, routes: [primary]}}
      steps:
        - setWeight: 25
        - setHeaderRoute:
            name: testers
            match: [{headerName: X-Canary, headerValue: {exact: "yes"}}]
        - pause: {}
`)
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "paused after the header route", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 25
	})
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(istio.GVK)
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, u); err != nil {
		t.Fatal(err)
	}
	http, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
	if len(http) != 2 {
		t.Fatalf("want the header route and the primary route, got %v", http)
	}
	front := http[0].(map[string]any)
	if front["name"] != "fledge-testers" {
		t.Fatalf("first route %v, want fledge-testers", front["name"])
	}
	got := map[string]int64{}
	for _, d := range http[1].(map[string]any)["route"].([]any) {
		dest := d.(map[string]any)
		got[dest["destination"].(map[string]any)["host"].(string)] = dest["weight"].(int64)
	}
	if got["web-stable"] != 75 || got["web-canary"] != 25 {
		t.Fatalf("primary route weights %v, want web-stable 75 web-canary 25", got)
	}
}
