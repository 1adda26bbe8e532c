package v1alpha1

// WebhookType is when a webhook is called and what its answer does.
// +kubebuilder:validation:Enum=pre-rollout;confirm-traffic-increase;confirm-promotion;post-rollout;rollback
type WebhookType string

// The webhook types, after Flagger's.
const (
	// WebhookPreRollout is called before the canary gets any traffic: a
	// non-2xx answer (after retries) aborts the rollout.
	WebhookPreRollout WebhookType = "pre-rollout"
	// WebhookConfirmTrafficIncrease is called before each weight increase:
	// the weight rises only once it answers 2xx.
	WebhookConfirmTrafficIncrease WebhookType = "confirm-traffic-increase"
	// WebhookConfirmPromotion is called before the promotion to 100% and
	// stable: the promotion waits until it answers 2xx.
	WebhookConfirmPromotion WebhookType = "confirm-promotion"
	// WebhookPostRollout is called once after the promotion; informational.
	WebhookPostRollout WebhookType = "post-rollout"
	// WebhookRollback is polled during the canary: a 2xx answer requests a
	// rollback (the rollout is aborted), as in Flagger.
	WebhookRollback WebhookType = "rollback"
)

// WebhookTypes lists every webhook type.
var WebhookTypes = []WebhookType{WebhookPreRollout, WebhookConfirmTrafficIncrease, WebhookConfirmPromotion,
	WebhookPostRollout, WebhookRollback}

// Webhook is an HTTP gate: Fledge POSTs a JSON payload (name, namespace,
// phase, type, revision {stable, canary}, weight, metadata) to url and the
// answer's status opens (2xx) or closes the gate. See docs/webhooks.md.
type Webhook struct {
	// Name identifies the webhook in the status and events.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Type says when the webhook is called and what its answer does.
	Type WebhookType `json:"type"`
	// URL is an http or https address that receives the POST.
	// +kubebuilder:validation:MinLength=1
	URL string `json:"url"`
	// Timeout of each call, such as "10s". Default 10s.
	Timeout *Duration `json:"timeout,omitempty"`
	// Metadata is passed to the receiver as it is, in the payload's metadata.
	Metadata map[string]string `json:"metadata,omitempty"`
}
