package v1alpha1

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func okHook() Webhook {
	return Webhook{Name: "ci", Type: WebhookConfirmPromotion, URL: "http://127.0.0.1:9000/gate"}
}

// TestValidateWebhooks breaks one field of a valid webhook per case and
// expects the one message that names it.
func TestValidateWebhooks(t *testing.T) {
	const p = "spec.strategy.canary.webhooks"
	tests := map[string]struct {
		hooks []Webhook
		want  string // empty: accepted
	}{
		"valid":            {hooks: []Webhook{okHook(), {Name: "pre", Type: WebhookPreRollout, URL: "https://ci.example/x", Timeout: dur(5 * time.Second), Metadata: map[string]string{"a": "b"}}}},
		"no name":          {hooks: []Webhook{{Type: WebhookRollback, URL: "http://127.0.0.1/"}}, want: p + "[0].name: required"},
		"duplicate name":   {hooks: []Webhook{okHook(), okHook()}, want: p + `[1].name: duplicate "ci"`},
		"unknown type":     {hooks: []Webhook{{Name: "x", Type: "pre-flight", URL: "http://127.0.0.1/"}}, want: p + `[0].type: must be one of [pre-rollout confirm-traffic-increase confirm-promotion post-rollout rollback], got "pre-flight"`},
		"relative url":     {hooks: []Webhook{{Name: "x", Type: WebhookRollback, URL: "/gate"}}, want: p + `[0].url: must be an absolute http or https URL, got "/gate"`},
		"other scheme":     {hooks: []Webhook{{Name: "x", Type: WebhookRollback, URL: "ftp://h/gate"}}, want: p + `[0].url: must be an absolute http or https URL, got "ftp://h/gate"`},
		"zero timeout":     {hooks: []Webhook{{Name: "x", Type: WebhookRollback, URL: "http://h/", Timeout: dur(0)}}, want: p + "[0].timeout: must be more than 0 and at most 1m, got 0s"},
		"too long timeout": {hooks: []Webhook{{Name: "x", Type: WebhookRollback, URL: "http://h/", Timeout: dur(2 * time.Minute)}}, want: p + "[0].timeout: must be more than 0 and at most 1m, got 2m0s"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := base(t, "example.yaml")
			canaryOf(r).Webhooks = tc.hooks
			err := r.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected:\n%v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 || !strings.HasPrefix(tc.want, list[0].Path+": ") {
				t.Fatalf("want one FieldError with the path, got %#v", list)
			}
		})
	}
}

// TestValidateBlueGreenWebhooks: blue-green takes the same gates, but
// confirm-traffic-increase, which has no meaning for one switch.
func TestValidateBlueGreenWebhooks(t *testing.T) {
	r := base(t, "bluegreen.yaml")
	r.Spec.Strategy.BlueGreen.Webhooks = []Webhook{
		{Name: "pre", Type: WebhookPreRollout, URL: "http://127.0.0.1/pre"},
		{Name: "promo", Type: WebhookConfirmPromotion, URL: "http://127.0.0.1/promo"},
		{Name: "back", Type: WebhookRollback, URL: "http://127.0.0.1/back"},
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("rejected:\n%v", err)
	}
	r.Spec.Strategy.BlueGreen.Webhooks = append(r.Spec.Strategy.BlueGreen.Webhooks,
		Webhook{Name: "step", Type: WebhookConfirmTrafficIncrease, URL: "http://127.0.0.1/step"})
	const want = "spec.strategy.blueGreen.webhooks[3].type: confirm-traffic-increase has no meaning for blueGreen (the switch is one step): use confirm-promotion"
	if err := r.Validate(); err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	if got := r.Spec.Strategy.Webhooks(); len(got) != 4 {
		t.Fatalf("Strategy.Webhooks() = %v, want the blue-green ones", got)
	}
}
