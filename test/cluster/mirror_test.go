package cluster

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/router"
	"fledge.dev/fledge/internal/router/gatewayapi"
	"fledge.dev/fledge/internal/router/istio"
	"fledge.dev/fledge/internal/router/service"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// routerObject reads an HTTPRoute or a VirtualService: its list of rules
// (spec.rules or spec.http) as JSON, one per element, and its annotations.
func routerObject(t *testing.T, ns, name string, gvk schema.GroupVersionKind, list string) ([]string, map[string]string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	items, _, _ := unstructured.NestedSlice(u.Object, "spec", list)
	var out []string
	for _, x := range items {
		b, _ := json.Marshal(x)
		out = append(out, string(b))
	}
	return out, u.GetAnnotations()
}

// mirrorNames are the names of the rules (or routes) Fledge added for mirror
// routes, in order.
func mirrorNames(items []string) []string {
	var names []string
	for _, s := range items {
		var m struct{ Name string }
		_ = json.Unmarshal([]byte(s), &m)
		if strings.HasPrefix(m.Name, service.MirrorPrefix) {
			names = append(names, m.Name)
		}
	}
	return names
}

// observedMirrors reads the mirror routes back through the router, as the
// controller does, and checks them against the spec's steps 0..upto, in
// order: equal, field for field, so that the controller can tell the
// applied traffic from the desired.
func observedMirrors(t *testing.T, ns string, build func(router.Config) (router.Router, error), want ...int) {
	t.Helper()
	ro := rolloutOf(t, ns, "web")
	ro.Default()
	r, err := build(router.Config{Rollout: ro, Kube: kube})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := r.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var routes []v1alpha1.SetMirrorRoute
	for _, i := range want {
		routes = append(routes, *ro.Spec.Strategy.Canary.Steps[i].SetMirrorRoute)
	}
	if !reflect.DeepEqual(tr.MirrorRoutes, routes) {
		t.Fatalf("Observed mirror routes %+v, want those of steps %v: %+v", tr.MirrorRoutes, want, routes)
	}
}

// TestMirrorRouteGatewayAPI releases through an HTTPRoute with two mirror
// routes: each becomes a rule in front of the user's, a copy of it narrowed
// to the mirror's matches with a RequestMirror filter to web-canary, which
// the router reads back exactly (the steps pass); a later step removes one,
// and the promotion removes the other.
func TestMirrorRouteGatewayAPI(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setMirrorRoute:
            name: reads
            percentage: 50
            match: [{method: {exact: GET}, path: {prefix: /api}, headers: {X-Tenant: {exact: beta}}}]
        - setMirrorRoute: {name: all, percentage: 10}
        - setWeight: 20
        - pause: {}
        - setMirrorRoute: {name: all}
        - pause: {}
`)
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "paused at 20% past both mirror steps", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CurrentStepIndex == 3
	})
	rules, ann := routerObject(t, ns, "web", gatewayapi.GVK, "rules")
	const refs = `"backendRefs":[{"group":"","kind":"Service","name":"web-stable","port":80,"weight":80},{"group":"","kind":"Service","name":"web-canary","port":80,"weight":20}]`
	mirror := func(percent int) string {
		return fmt.Sprintf(`"filters":[{"requestMirror":{"backendRef":{"group":"","kind":"Service","name":"web-canary","port":80},"percent":%d},"type":"RequestMirror"}]`, percent)
	}
	want := []string{
		`{` + refs + `,` + mirror(50) + `,"matches":[{"headers":[{"name":"X-Tenant","type":"Exact","value":"beta"}],"method":"GET","path":{"type":"PathPrefix","value":"/api"}}],"name":"fledge-mirror-reads"}`,
		`{` + refs + `,` + mirror(10) + `,"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"name":"fledge-mirror-all"}`,
		`{` + refs + `,"matches":[{"path":{"type":"PathPrefix","value":"/"}}]}`,
	}
	if strings.Join(rules, "\n") != strings.Join(want, "\n") {
		t.Fatalf("HTTPRoute rules at 20%%:\n%s\nwant\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}
	var recorded []v1alpha1.SetMirrorRoute
	if err := json.Unmarshal([]byte(ann[service.AnnotationMirrorRoutes]), &recorded); err != nil || len(recorded) != 2 ||
		recorded[0].Name != "reads" || recorded[1].Name != "all" {
		t.Fatalf("annotation %s = %q, want the routes reads then all", service.AnnotationMirrorRoutes, ann[service.AnnotationMirrorRoutes])
	}
	observedMirrors(t, ns, gatewayapi.New, 0, 1)

	command(t, ns, "web", "promote")
	waitStatus(t, ns, "web", "paused after the removal of the mirror route all", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CurrentStepIndex == 5
	})
	if rules, _ := routerObject(t, ns, "web", gatewayapi.GVK, "rules"); fmt.Sprint(mirrorNames(rules)) != "[fledge-mirror-reads]" {
		t.Fatalf("mirror rules after the removal step: %v, want only fledge-mirror-reads", mirrorNames(rules))
	}
	observedMirrors(t, ns, gatewayapi.New, 0)

	command(t, ns, "web", "promote")
	waitStatus(t, ns, "web", "promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision != first
	})
	eventually(t, 20*time.Second, "the mirror rule removed once promoted", func() (bool, string) {
		rules, ann := routerObject(t, ns, "web", gatewayapi.GVK, "rules")
		_, recorded := ann[service.AnnotationMirrorRoutes]
		return len(rules) == 1 && !recorded, fmt.Sprintf("%d rules, mirror annotation %v", len(rules), recorded)
	})
}

// TestMirrorRouteIstioAbort releases through a VirtualService with a mirror
// route: an HTTP route in front of the user's, narrowed to the mirror's
// matches, mirroring to web-canary; an abort removes it.
func TestMirrorRouteIstioAbort(t *testing.T) {
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
      match: [{uri: {prefix: /}}]
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
      scaleDownDelaySeconds: 0
      trafficRouting:
        istio: {virtualService: {name: web, routes: [primary]}}
      steps:
        - setMirrorRoute:
            name: writes
            percentage: 25
            match: [{method: {regex: "POST|PUT"}, path: {prefix: /api/}}]
        - pause: {}
`)
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "paused past the mirror step", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CurrentStepIndex == 1
	})
	http, _ := routerObject(t, ns, "web", istio.GVK, "http")
	const dests = `"route":[{"destination":{"host":"web-stable","port":{"number":80}},"weight":100},{"destination":{"host":"web-canary","port":{"number":80}},"weight":0}]`
	want := []string{
		`{"match":[{"method":{"regex":"POST|PUT"},"uri":{"prefix":"/api/"}}],"mirror":{"host":"web-canary","port":{"number":80}},"mirrorPercentage":{"value":25},"name":"fledge-mirror-writes",` + dests + `}`,
		`{"match":[{"uri":{"prefix":"/"}}],"name":"primary",` + dests + `}`,
	}
	if strings.Join(http, "\n") != strings.Join(want, "\n") {
		t.Fatalf("VirtualService routes:\n%s\nwant\n%s", strings.Join(http, "\n"), strings.Join(want, "\n"))
	}
	observedMirrors(t, ns, istio.New, 0)

	command(t, ns, "web", "abort")
	waitStatus(t, ns, "web", "aborted", func(st *v1alpha1.RolloutStatus) bool { return st.Abort })
	eventually(t, 20*time.Second, "the mirror route removed on abort", func() (bool, string) {
		http, ann := routerObject(t, ns, "web", istio.GVK, "http")
		_, recorded := ann[service.AnnotationMirrorRoutes]
		return len(mirrorNames(http)) == 0 && !recorded, fmt.Sprintf("routes %v, mirror annotation %v", mirrorNames(http), recorded)
	})
}

// TestMirrorRouteRefusedByNGINX: ingress-nginx cannot mirror from a canary
// Ingress, so a setMirrorRoute with the nginx router makes the Rollout
// InvalidSpec, naming the step and why, rather than waiting forever.
func TestMirrorRouteRefusedByNGINX(t *testing.T) {
	ns := namespace(t)
	startController(t)
	dir := filepath.Join(root, "examples", "kubernetes", "gateway-api")
	applyFile(t, ns, filepath.Join(dir, "deployment.yaml"))
	applyFile(t, ns, filepath.Join(dir, "services.yaml"))
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
        - setMirrorRoute: {name: all, percentage: 100}
`)
	msg := invalidSpec(t, ns, "True", "InvalidSpec for a mirror route through nginx")
	for _, want := range []string{"spec.strategy.canary.steps[1].setMirrorRoute", "the nginx router cannot mirror", "mirror-target"} {
		if !strings.Contains(msg, want) {
			t.Errorf("InvalidSpec message %q does not say %q", msg, want)
		}
	}
}
