package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// canaryStrategy is a canary through the embedded proxy on listen; the
// previous stable revision is scaled down at once.
func canaryStrategy(listen string, steps ...string) string {
	return fmt.Sprintf("    canary:\n      trafficRouting: {proxy: {listen: %q}}\n      scaleDownDelaySeconds: 0\n      steps:\n      - %s\n",
		listen, strings.Join(steps, "\n      - "))
}

// backgroundAnalysis judges the canary's success rate from the first pause on.
const backgroundAnalysis = "      analysis: {templates: [{templateName: success-rate}], startingStep: 1}\n"

// startStable runs `fledge run -f` with v1 and waits until it serves.
func startStable(h *harness, s spec) {
	h.t.Helper()
	h.start("run", "-f", h.writeSpec("v1.yaml", s.yaml()))
	h.waitFor("web", "revision 1 stable with 2 ready replicas", func(s status) bool {
		return s.Phase == "Healthy" && s.StableRevision == "1" && s.Replicas.Ready == 2
	})
}

// A good canary of the sample app goes 20% -> (promote) -> 60% ->
// (promote) -> analysis -> 100%: at each pause the proxy splits real
// traffic exactly as the step says, and at the end the new revision is
// stable and the old one's processes are gone.
func TestCanaryPromoted(t *testing.T) {
	h := newHarness(t)
	listen := freeAddr(t)
	strategy := canaryStrategy(listen, "setWeight: 20", "pause: {}", "setWeight: 60", "pause: {}",
		"analysis: {templates: [{templateName: success-rate}]}", "setWeight: 100") + backgroundAnalysis
	startStable(h, spec{version: "v1", strategy: strategy, analysis: true})
	if c := versions(t, listen, 50); c["v1"] != 50 {
		t.Fatalf("before the release, 50 requests went %v, want all to v1", c)
	}
	old := h.replicas("web-1-")
	if len(old) != 2 {
		t.Fatalf("revision 1 runs %d replicas (%v), want 2", len(old), old)
	}

	users := startLoad(t, listen, 2, 20*time.Millisecond, "GET /", "POST /login")
	h.must("apply", "-f", h.writeSpec("v2.yaml", spec{version: "v2", strategy: strategy, analysis: true}.yaml()))
	for _, pause := range []struct{ step, weight int32 }{{1, 20}, {3, 60}} {
		s := h.waitFor("web", fmt.Sprintf("the pause of step %d at weight %d", pause.step, pause.weight), func(s status) bool {
			return s.Phase == "Paused" && s.CurrentStepIndex == pause.step && s.pausedFor("CanaryPauseStep")
		})
		if s.CanaryWeight != pause.weight || s.CanaryRevision != "2" || s.StableRevision != "1" {
			t.Fatalf("paused at step %d with weight %d, canary %q, stable %q; want weight %d, canary 2, stable 1",
				s.CurrentStepIndex, s.CanaryWeight, s.CanaryRevision, s.StableRevision, pause.weight)
		}
		users.hold()
		counts := versions(t, listen, 200)
		users.release()
		checkSplit(t, counts, 200, pause.weight, "v1", "v2")
		h.must("promote", "web")
	}

	s := h.waitFor("web", "revision 2 promoted", func(s status) bool {
		return s.Phase == "Healthy" && s.StableRevision == "2" && s.CanaryRevision == ""
	})
	if s.CanaryWeight != 0 || s.DesiredRevision != "2" {
		t.Errorf("after the promotion: weight %d, desired revision %q; want 0 and 2", s.CanaryWeight, s.DesiredRevision)
	}
	if step, bg := s.run("-step"), s.run("-background"); step != "Successful" || bg != "Successful" {
		t.Errorf("analysis runs: step %s, background %s; want both Successful (%+v)", step, bg, s.AnalysisRuns)
	}
	users.stop()
	if n, errs, vs, first := users.result(); errs > 0 || vs["v2"] == 0 {
		t.Errorf("users saw %d errors in %d requests (versions %v), want none and some v2: %v", errs, n, vs, first)
	}
	if c := versions(t, listen, 100); c["v2"] != 100 {
		t.Errorf("after the promotion, 100 requests went %v, want all to v2", c)
	}
	h.waitGone("revision 1's replicas to exit", old)

	hist := h.must("history", "web")
	for _, want := range []string{`(?m)^1\s.*\s-$`, `(?m)^2\s.*\sstable$`} {
		if !regexp.MustCompile(want).MatchString(hist) {
			t.Errorf("fledge history web does not match %s:\n%s", want, hist)
		}
	}
}

// A canary that is ready but broken is aborted by its analysis, with no
// human: the rollout is Degraded, the canary's weight is 0, every request
// goes back to stable and the canary's replicas stop. A failing GET is
// replayed on stable, so users see none of its errors.
func TestCanaryAbortedByAnalysis(t *testing.T) {
	tests := map[string]struct {
		errorRate string
		routes    []string
		// usersSeeErrors: a POST is not replayed on stable.
		usersSeeErrors bool
	}{
		"POST /login always fails": {errorRate: "POST /login=1", routes: []string{"GET /", "POST /login"}, usersSeeErrors: true},
		"GET / always 500s":        {errorRate: "GET /=1", routes: []string{"GET /"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			listen := freeAddr(t)
			strategy := canaryStrategy(listen, "setWeight: 50", "pause: {}", "setWeight: 100") + backgroundAnalysis
			startStable(h, spec{version: "v1", strategy: strategy, analysis: true})
			users := startLoad(t, listen, 2, 20*time.Millisecond, tc.routes...)
			bad := spec{version: "v2", args: []string{"--error-rate", tc.errorRate}, strategy: strategy, analysis: true}
			h.must("apply", "-f", h.writeSpec("v2.yaml", bad.yaml()))

			s := h.waitFor("web", "the analysis to abort revision 2", func(s status) bool {
				return s.Phase == "Degraded" && s.Abort
			})
			if s.CanaryRevision != "2" || s.StableRevision != "1" || s.DesiredRevision != "2" {
				t.Errorf("aborted with canary %q, stable %q, desired %q; want 2, 1, 2", s.CanaryRevision, s.StableRevision, s.DesiredRevision)
			}
			if !strings.Contains(s.Message, "analysis") || s.run("-background") != "Failed" {
				t.Errorf("message %q, background run %s: want the analysis Failed and said so", s.Message, s.run("-background"))
			}
			h.waitFor("web", "the canary's weight back to 0", func(s status) bool { return s.CanaryWeight == 0 })
			h.waitGone("the canary's replicas to exit", h.replicas("web-2-"))

			users.stop()
			if _, errs, _, first := users.result(); !tc.usersSeeErrors && errs > 0 {
				t.Errorf("users saw %d errors of the canary's GET /, want them replayed on stable: %v", errs, first)
			}
			if c := versions(t, listen, 100); c["v1"] != 100 {
				t.Errorf("after the abort, 100 requests went %v, want all to v1", c)
			}
			if s, _, err := h.status("web"); err != nil || !s.Abort || s.Phase != "Degraded" {
				t.Errorf("the abort did not hold: phase %s, abort %v (%v)", s.Phase, s.Abort, err)
			}

			// Undo after the abort: the template is stable's again, and
			// the rollout Healthy.
			h.must("undo", "web")
			if s, _, err := h.status("web"); err != nil || s.Phase != "Healthy" || s.DesiredRevision != "1" || s.CanaryRevision != "" || s.Abort {
				t.Errorf("after undo: phase %s, desired %q, canary %q, abort %v (%v); want Healthy on revision 1",
					s.Phase, s.DesiredRevision, s.CanaryRevision, s.Abort, err)
			}
		})
	}
}
