package v1alpha1

// NotificationEvent is a kind of notification: what happened to a rollout.
// The names are --notify-events' (docs/notifications.md#events).
// +kubebuilder:validation:Enum=started;step;paused;analysisFailed;aborted;promoted
type NotificationEvent string

// The events a notification is sent for, in the order a release meets them.
const (
	// NotifyStarted: a release begins, or a newer revision replaces the one
	// being released.
	NotifyStarted NotificationEvent = "started"
	// NotifyStep: the canary's weight moves or a step completes; blue-green:
	// the preview is ready, traffic switches.
	NotifyStep NotificationEvent = "step"
	// NotifyPaused: the rollout becomes Paused.
	NotifyPaused NotificationEvent = "paused"
	// NotifyAnalysisFailed: an analysis run ends Failed.
	NotifyAnalysisFailed NotificationEvent = "analysisFailed"
	// NotifyAborted: the rollout aborts; traffic goes back to stable.
	NotifyAborted NotificationEvent = "aborted"
	// NotifyPromoted: the new revision is stable.
	NotifyPromoted NotificationEvent = "promoted"
)

// NotificationEvents lists every event.
var NotificationEvents = []NotificationEvent{NotifyStarted, NotifyStep, NotifyPaused, NotifyAnalysisFailed,
	NotifyAborted, NotifyPromoted}

// Notification sends what happens to this rollout to one receiver: a
// generic JSON webhook or a Slack-compatible incoming webhook. These are
// sent in addition to those the daemon's or the controller's --notify-*
// flags configure for every rollout. Delivery never holds the rollout up:
// it is queued and retried with back-off (docs/notifications.md).
// +kubebuilder:validation:XValidation:rule="has(self.webhook) != has(self.slack)",message="must set exactly one of webhook or slack"
type Notification struct {
	// Name identifies the notification in logs and events; unique in the
	// rollout.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Webhook POSTs each notification as JSON to a URL.
	Webhook *NotificationTarget `json:"webhook,omitempty"`

	// Slack posts a one-line text to a Slack-compatible incoming webhook
	// (Slack, Mattermost, Rocket.Chat). Its URL is a credential: in
	// Kubernetes mode, give it with urlFrom.
	Slack *NotificationTarget `json:"slack,omitempty"`

	// Events are the events to send; empty: every event.
	// +listType=set
	// +kubebuilder:validation:MaxItems=6
	Events []NotificationEvent `json:"events,omitempty"`
}

// NotificationTarget is where a notification goes: a URL, given as it is or
// read from a Secret.
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.urlFrom)",message="must set exactly one of url or urlFrom"
type NotificationTarget struct {
	// URL is an absolute http or https URL. It is never logged whole: logs,
	// events and metrics show its scheme and host only.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	URL string `json:"url,omitempty"`

	// URLFrom reads the URL from a key of a Secret in the Rollout's
	// namespace, when the notification is sent (Kubernetes mode only).
	URLFrom *URLSource `json:"urlFrom,omitempty"`
}

// URLSource is where a secret URL is read from.
type URLSource struct {
	// SecretKeyRef names a key of a Secret in the Rollout's namespace; its
	// value (surrounding white space trimmed) is the URL.
	SecretKeyRef SecretKeyRef `json:"secretKeyRef"`
}

// SecretKeyRef names one key of a Secret in the Rollout's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in the Secret's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}
