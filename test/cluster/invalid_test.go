package cluster

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestInvalidRolloutsRefused checks that the API server itself refuses each
// kind of invalid Rollout (the CRD's OpenAPI and CEL rules), with a message
// that says what to fix.
func TestInvalidRolloutsRefused(t *testing.T) {
	ns := namespace(t)
	const workload = "workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
	const gw = "trafficRouting: {gatewayAPI: {httpRoute: web}}"
	tests := map[string]struct {
		spec string
		want string
	}{
		"neither template nor workloadRef": {
			spec: "strategy: {canary: {" + gw + "}}",
			want: "must set exactly one of template (local mode) or workloadRef (Kubernetes mode)"},
		"workloadRef with the embedded proxy": {
			spec: workload + `strategy: {canary: {trafficRouting: {proxy: {listen: "127.0.0.1:8080"}}}}`,
			want: "workloadRef needs a Kubernetes router"},
		"canary through the service router": {
			spec: workload + "strategy: {canary: {trafficRouting: {service: {}}}}",
			want: "the service router switches all traffic at once"},
		"template with a Kubernetes router": {
			spec: "template: {command: [app]}\nstrategy: {canary: {" + gw + "}}",
			want: "template (local mode) needs trafficRouting.proxy"},
		"two routers": {
			spec: workload + "strategy: {canary: {trafficRouting: {gatewayAPI: {httpRoute: web}, nginx: {stableIngress: web}}}}",
			want: "must set exactly one router"},
		"weight above 100": {
			spec: workload + "strategy: {canary: {" + gw + ", steps: [{setWeight: 101}]}}",
			want: "should be less than or equal to 100"},
		"two fields in a step": {
			spec: workload + "strategy: {canary: {" + gw + ", steps: [{setWeight: 10, pause: {}}]}}",
			want: "must set exactly one of setWeight, pause, analysis, setHeaderRoute or setMirrorRoute"},
		"both strategies": {
			spec: workload + "strategy: {canary: {" + gw + "}, blueGreen: {trafficRouting: {service: {}}}}",
			want: "must set exactly one of canary or blueGreen"},
		"empty HTTPRoute name": {
			spec: workload + `strategy: {canary: {trafficRouting: {gatewayAPI: {httpRoute: ""}}}}`,
			want: "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var spec map[string]any
			if err := yaml.Unmarshal([]byte(tc.spec), &spec); err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "fledge.dev/v1alpha1", "kind": "Rollout",
				"metadata": map[string]any{"name": "bad", "namespace": ns},
				"spec":     spec,
			}}
			err := kube.Create(ctx, u)
			if err == nil {
				t.Fatalf("the API server accepted it; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refused with\n%v\nwant a message containing %q", err, tc.want)
			}
		})
	}
}
