package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// mistakes is a Rollout with several mistakes, each to be reported with
// its field path and reason.
func mistakes(listen string) (string, []string) {
	return fmt.Sprintf(`apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: -1
  template:
    command: [%q, sample-app, --version, v2]
    readinessProbe: {httpGet: {path: healthz}, periodSeconds: 1}
  strategy:
    canary:
      trafficRouting: {proxy: {listen: %q}}
      steps:
      - setWeight: 120
      - pause: {duration: -5s}
      - analysis: {templates: [{templateName: nope}]}
`, fledgeBin, listen), []string{
			"spec.replicas: must not be negative, got -1",
			`spec.template.readinessProbe.httpGet.path: must start with '/', got "healthz"`,
			"spec.strategy.canary.steps[0].setWeight: must be between 0 and 100, got 120",
			"spec.strategy.canary.steps[1].pause.duration: must not be negative, got -5s",
			`spec.strategy.canary.steps[2].analysis.templates[0].templateName: no analysis template "nope"`,
		}
}

// `fledge run` of an invalid file exits non-zero with every mistake, and
// starts nothing: no daemon, no proxy.
func TestRunInvalidFileStartsNothing(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	text, want := mistakes(listen)
	file := h.writeSpec("bad.yaml", text)
	out, errOut, err := h.fledge("run", "-f", file, "--admin-addr", "127.0.0.1:0")
	if err == nil {
		t.Fatalf("fledge run -f bad.yaml succeeded:\n%s%s", out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("fledge run did not say %q; it said:\n%s", w, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(h.state, "daemon.json")); err == nil {
		t.Error("a daemon registered in the state dir")
	}
	if _, _, err := h.status("web"); err == nil {
		t.Error("fledge status web found a rollout")
	}
	if listening(listen) {
		t.Errorf("something listens on %s, the invalid rollout's address", listen)
	}
}

// `fledge apply` of an invalid file exits non-zero with every mistake and
// changes nothing: same status, same revisions, same replicas, no other
// rollout, even when the file's other documents are valid.
func TestApplyInvalidFileChangesNothing(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	strategy := canaryStrategy(listen, "setWeight: 50", "pause: {}")
	startStable(h, spec{version: "v1", strategy: strategy})

	text, want := mistakes(listen)
	other := spec{name: "api", version: "v1", strategy: canaryStrategy(freeAddr(t), "setWeight: 50")}.yaml()
	clash := spec{name: "api", version: "v1", strategy: canaryStrategy(listen, "setWeight: 50")}.yaml()
	taken, err := net.Listen("tcp", "127.0.0.1:0") // another program's
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	squatter := spec{name: "api", version: "v1", strategy: canaryStrategy(taken.Addr().String(), "setWeight: 50")}.yaml()
	tests := map[string]struct {
		file string
		want []string
	}{
		"invalid values": {file: other + "---\n" + text, want: want},
		"unknown field": {
			file: strings.Replace(spec{version: "v2", strategy: strategy}.yaml(), "      steps:", "      stepz: []\n      steps:", 1),
			want: []string{"spec.strategy.canary.stepz: unknown field"},
		},
		"address of another rollout": {
			file: spec{version: "v2", strategy: strategy}.yaml() + "---\n" + clash,
			want: []string{fmt.Sprintf(`Rollout "api": spec.strategy.canary.trafficRouting.proxy.listen: address %s is already used by rollout web`, listen)},
		},
		"address of another program": {
			file: squatter,
			want: []string{fmt.Sprintf(`Rollout "api": spec.strategy.canary.trafficRouting.proxy.listen: cannot listen on %s: address in use`, taken.Addr())},
		},
	}
	before, _, err := h.status("web")
	if err != nil {
		t.Fatal(err)
	}
	history := h.must("history", "web")
	replicas := h.replicas("")
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, err := h.fledge("apply", "-f", h.writeSpec("bad.yaml", tc.file))
			if err == nil {
				t.Fatalf("fledge apply succeeded:\n%s%s", out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("fledge apply did not say %q; it said:\n%s", w, errOut)
				}
			}
			if after, _, err := h.status("web"); err != nil || !reflect.DeepEqual(after, before) {
				t.Errorf("status changed:\nbefore %+v\nafter  %+v (%v)", before, after, err)
			}
			if now := h.must("history", "web"); now != history {
				t.Errorf("history changed:\nbefore\n%s\nafter\n%s", history, now)
			}
			if got := h.must("get", "rollouts"); strings.Contains(got, "api") {
				t.Errorf("rollout api was created:\n%s", got)
			}
			if now := h.replicas(""); !reflect.DeepEqual(now, replicas) {
				t.Errorf("replicas changed: before %v, after %v", replicas, now)
			}
		})
	}
	if c := versions(t, listen, 20); c["v1"] != 20 {
		t.Errorf("after the rejected applies, 20 requests went %v, want all to v1", c)
	}
}
