package cluster

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/router/nginx"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestNGINXCanaryIngress releases through ingress-nginx: the canary Ingress
// web-canary copies the user's rules toward web-canary with the canary
// annotations of each step, read back from the API server.
func TestNGINXCanaryIngress(t *testing.T) {
	ns := namespace(t)
	startController(t)
	dir := filepath.Join(root, "examples", "kubernetes", "gateway-api")
	applyFile(t, ns, filepath.Join(dir, "deployment.yaml"))
	applyFile(t, ns, filepath.Join(dir, "services.yaml"))
	applyYAML(t, ns, `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  ingressClassName: nginx
  rules:
    - host: web.local
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {name: web-stable, port: {number: 80}}
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
        nginx: {stableIngress: web}
      steps:
        - setWeight: 10
        - setHeaderRoute:
            name: testers
            match: [{headerName: X-Canary, headerValue: {exact: "yes"}}]
        - pause: {}
`)
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "paused after the header route", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 10
	})
	var in networkingv1.Ingress
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web-canary"}, &in); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{nginx.AnnCanary: "true", nginx.AnnWeight: "10", nginx.AnnByHeader: "X-Canary", nginx.AnnByHeaderValue: "yes"}
	for k, v := range want {
		if in.Annotations[k] != v {
			t.Errorf("canary Ingress annotation %s = %q, want %q", k, in.Annotations[k], v)
		}
	}
	if b := in.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; b != "web-canary" || *in.Spec.IngressClassName != "nginx" {
		t.Errorf("canary Ingress backend %q class %q, want web-canary and nginx", b, *in.Spec.IngressClassName)
	}
	command(t, ns, "web", "promote")
	eventually(t, 30*time.Second, "canary Ingress back to 0 without header", func() (bool, string) {
		if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web-canary"}, &in); err != nil {
			t.Fatal(err)
		}
		a := in.Annotations
		return a[nginx.AnnWeight] == "0" && a[nginx.AnnByHeader] == "" && rolloutOf(t, ns, "web").Status.Phase == v1alpha1.PhaseHealthy,
			fmt.Sprintf("annotations %v", a)
	})
}
