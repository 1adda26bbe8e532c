package rollout

import (
	"slices"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

// hooks gives the canary one webhook of each type.
func hooks(types ...v1alpha1.WebhookType) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		c := canarySpec(r)
		for _, t := range types {
			c.Webhooks = append(c.Webhooks, v1alpha1.Webhook{Name: string(t), Type: t, URL: "http://127.0.0.1:9/" + string(t)})
		}
	}
}

// gate observes the answer of the gate of type t.
func gate(t v1alpha1.WebhookType, open, failed bool, msg string) inputOption {
	return func(in *Input) {
		if in.Gates == nil {
			in.Gates = map[v1alpha1.WebhookType]GateObservation{}
		}
		in.Gates[t] = GateObservation{Open: open, Failed: failed, Message: msg, CheckedAt: t0}
	}
}

// polls checks the gates the decision asks the edge to check.
func polls(want ...v1alpha1.WebhookType) check {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if !slices.Equal(d.Gates, want) {
			t.Errorf("gates to poll = %v, want %v", d.Gates, want)
		}
	}
}

// TestGates covers the webhook gates: a closed gate holds what it guards and
// says why, an open one lets it go, pre-rollout's failure and rollback's 2xx
// abort, post-rollout is asked for when promoting.
func TestGates(t *testing.T) {
	const (
		pre     = v1alpha1.WebhookPreRollout
		traffic = v1alpha1.WebhookConfirmTrafficIncrease
		promo   = v1alpha1.WebhookConfirmPromotion
		post    = v1alpha1.WebhookPostRollout
		back    = v1alpha1.WebhookRollback
	)
	two := steps(setWeight(10), setWeight(50))
	at10 := []inputOption{ready("2", 1), applied("2", 10)}
	runCases(t, map[string]case_{
		"a closed traffic gate holds the weight and says why": {
			rollout: newRollout(two, hooks(traffic), releasing("2", 1, 10)),
			input:   append(at10, gate(traffic, false, true, "confirm-traffic-increase answered 403")),
			want: []check{weight(10), atStep(1), polls(traffic), events(),
				message("weight increase to 50% held by webhook gate confirm-traffic-increase: confirm-traffic-increase answered 403")},
		},
		"a traffic gate not answered yet holds": {
			rollout: newRollout(two, hooks(traffic), releasing("2", 1, 10)),
			input:   at10,
			want:    []check{weight(10), polls(traffic), message("confirm-traffic-increase: not answered yet")},
		},
		"an open traffic gate lets the weight rise": {
			rollout: newRollout(two, hooks(traffic), releasing("2", 1, 10)),
			input:   append(at10, gate(traffic, true, false, "")),
			want:    []check{weight(50), events("WeightChanged"), polls()},
		},
		"a lower weight is not gated": {
			rollout: newRollout(steps(setWeight(50), setWeight(10)), hooks(traffic), releasing("2", 1, 50)),
			input:   []inputOption{ready("2", 1), applied("2", 50)},
			want:    []check{weight(10), events("WeightChanged"), polls()},
		},
		"pre-rollout holds the first traffic": {
			rollout: newRollout(two, hooks(pre), releasing("2", 0, 0)),
			input:   []inputOption{ready("2", 1), applied("2", 0)},
			want:    []check{weight(0), polls(pre), isAborted(false), message("the first traffic to the canary held by webhook gate pre-rollout")},
		},
		"an open pre-rollout lets the first weight in, then no longer matters": {
			rollout: newRollout(two, hooks(pre), releasing("2", 0, 0)),
			input:   []inputOption{ready("2", 1), applied("2", 0), gate(pre, true, false, "")},
			want:    []check{weight(10), events("WeightChanged"), polls()},
		},
		"a failed pre-rollout aborts": {
			rollout: newRollout(two, hooks(pre), releasing("2", 0, 0)),
			input:   []inputOption{ready("2", 1), applied("2", 0), gate(pre, false, true, "pre-rollout answered 500 after 3 attempts")},
			want:    []check{isAborted(true), weight(0), events("PreRolloutFailed"), message("pre-rollout answered 500 after 3 attempts")},
		},
		"a closed promotion gate holds the promotion": {
			rollout: newRollout(steps(setWeight(50)), hooks(promo), releasing("2", 1, 50)),
			input:   []inputOption{ready("2", 1), applied("2", 50), gate(promo, false, false, "confirm-promotion answered 500")},
			want:    []check{weight(50), polls(promo), message("promotion of revision 2 held by webhook gate confirm-promotion: confirm-promotion answered 500")},
		},
		"an open promotion gate lets it promote": {
			rollout: newRollout(steps(setWeight(50)), hooks(promo), releasing("2", 1, 50)),
			input:   []inputOption{ready("2", 1), applied("2", 50), gate(promo, true, false, "")},
			want:    []check{weight(100), events("WeightChanged"), polls()},
		},
		"the promotion also waits for the traffic gate": {
			rollout: newRollout(steps(setWeight(50)), hooks(traffic, promo), releasing("2", 1, 50)),
			input:   []inputOption{ready("2", 1), applied("2", 50), gate(promo, true, false, "")},
			want:    []check{weight(50), polls(traffic)},
		},
		"rollback is polled during the canary": {
			rollout: newRollout(two, hooks(back), releasing("2", 1, 10)),
			input:   append(at10, gate(back, false, false, "rollback answered 404")),
			want:    []check{weight(50), isAborted(false), polls(back)},
		},
		"a 2xx from rollback aborts": {
			rollout: newRollout(two, hooks(back), releasing("2", 1, 10)),
			input:   append(at10, gate(back, true, false, "rollback answered 200")),
			want:    []check{isAborted(true), weight(0), events("RollbackRequested"), message("rollback requested by webhook: rollback answered 200")},
		},
		"post-rollout is asked for in the decision that promotes": {
			rollout: newRollout(two, hooks(post), releasing("2", 2, 100)),
			input:   []inputOption{ready("2", 1), applied("2", 100)},
			want:    []check{events("Promoted"), polls(post)},
		},
		"gates without webhooks of their type hold nothing": {
			rollout: newRollout(two, releasing("2", 1, 10)),
			input:   append(at10, gate(traffic, false, false, "")),
			want:    []check{weight(50), polls()},
		},
	})
}

// bgHooks gives the blue-green strategy one webhook of each type.
func bgHooks(types ...v1alpha1.WebhookType) rolloutOption {
	return func(r *v1alpha1.Rollout) {
		b := r.Spec.Strategy.BlueGreen
		for _, t := range types {
			b.Webhooks = append(b.Webhooks, v1alpha1.Webhook{Name: string(t), Type: t, URL: "http://127.0.0.1:9/" + string(t)})
		}
	}
}

// TestBlueGreenGates: pre-rollout holds the preview's readiness (a failure
// aborts), confirm-promotion holds the switch, rollback aborts until the
// promotion completes, post-rollout is asked for when promoting.
func TestBlueGreenGates(t *testing.T) {
	const (
		pre   = v1alpha1.WebhookPreRollout
		promo = v1alpha1.WebhookConfirmPromotion
		post  = v1alpha1.WebhookPostRollout
		back  = v1alpha1.WebhookRollback
	)
	bg := func(opts ...rolloutOption) *v1alpha1.Rollout {
		return newRollout(append([]rolloutOption{replicas(3), blueGreen(previewReplicas(1))}, opts...)...)
	}
	readyAt := withStatus(func(s *v1alpha1.RolloutStatus) { s.PreviewReadyAt = mt(0) })
	runCases(t, map[string]case_{
		"pre-rollout holds the preview's readiness": {
			rollout: bg(bgHooks(pre), releasing("2", bgPreview, 0)),
			input:   []inputOption{ready("2", 1)},
			want:    []check{atStep(bgPreview), weight(0), polls(pre), events(), isAborted(false), message("the preview of revision 2 held by webhook gate pre-rollout")},
		},
		"a failed pre-rollout aborts the blue-green": {
			rollout: bg(bgHooks(pre), releasing("2", bgPreview, 0)),
			input:   []inputOption{ready("2", 1), gate(pre, false, true, "pre-rollout answered 500 after 3 attempts")},
			want:    []check{isAborted(true), weight(0), events("PreRolloutFailed"), message("pre-rollout answered 500 after 3 attempts")},
		},
		"an open pre-rollout lets the preview be announced": {
			rollout: bg(bgHooks(pre), releasing("2", bgPreview, 0), alsoBlueGreen(manualPromotion)),
			input:   []inputOption{ready("2", 1), gate(pre, true, false, "")},
			want:    []check{atStep(bgAwait), events("PreviewReady", "StepCompleted"), polls()},
		},
		"confirm-promotion holds the switch": {
			rollout: bg(bgHooks(promo), releasing("2", bgSwitch, 0), readyAt),
			input:   []inputOption{ready("2", 3), gate(promo, false, false, "confirm-promotion answered 403")},
			want: []check{atStep(bgSwitch), weight(0), polls(promo), events(),
				message("the switch to revision 2 held by webhook gate confirm-promotion: confirm-promotion answered 403")},
		},
		"an open confirm-promotion lets it switch": {
			rollout: bg(bgHooks(promo), releasing("2", bgSwitch, 0), readyAt),
			input:   []inputOption{ready("2", 3), gate(promo, true, false, "")},
			want:    []check{weight(100), events("Switched"), polls()},
		},
		"a 2xx from rollback aborts the blue-green before the promotion": {
			rollout: bg(bgHooks(back), releasing("2", bgAwait, 0), readyAt, alsoBlueGreen(manualPromotion)),
			input:   []inputOption{ready("2", 1), gate(back, true, false, "rollback answered 200")},
			want:    []check{isAborted(true), weight(0), events("RollbackRequested"), message("rollback requested by webhook: rollback answered 200")},
		},
		"post-rollout is asked for when the blue-green promotes": {
			rollout: bg(bgHooks(post), releasing("2", bgPost, 100), readyAt),
			input:   []inputOption{ready("2", 3), applied("2", 100)},
			want:    []check{events("StepCompleted", "Promoted"), polls(post)},
		},
	})
}
