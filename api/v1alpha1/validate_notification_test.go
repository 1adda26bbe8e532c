package v1alpha1

import (
	"errors"
	"strings"
	"testing"
)

// kubernetesMode turns a local example into a workloadRef Rollout.
func kubernetesMode(r *Rollout) {
	r.Spec.Template = nil
	r.Spec.WorkloadRef = &WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	gatewayAPI(r)
}

func fromSecret(name, key string) *NotificationTarget {
	return &NotificationTarget{URLFrom: &URLSource{SecretKeyRef: SecretKeyRef{Name: name, Key: key}}}
}

// TestValidateNotifications breaks one field of valid notifications per case
// and expects the one message that names it.
func TestValidateNotifications(t *testing.T) {
	const p = "spec.notifications"
	hook := func(name, url string, events ...NotificationEvent) Notification {
		return Notification{Name: name, Webhook: &NotificationTarget{URL: url}, Events: events}
	}
	tests := map[string]struct {
		kube  bool // Kubernetes mode (workloadRef), else local
		notes []Notification
		want  string // empty: accepted
	}{
		"valid local": {notes: []Notification{
			hook("ci", "https://ci.example.com/hooks/fledge", NotifyStarted, NotifyPromoted),
			{Name: "team", Slack: &NotificationTarget{URL: "https://hooks.slack.com/services/T/B/X"}},
		}},
		"valid kubernetes": {kube: true, notes: []Notification{
			hook("ci", "http://ci.ci.svc:8080/hooks"),
			{Name: "team", Slack: fromSecret("slack", "url"), Events: []NotificationEvent{NotifyAnalysisFailed, NotifyAborted}},
			{Name: "ops", Webhook: fromSecret("ops.hooks", "webhook_url-1")},
		}},
		"no name":        {notes: []Notification{hook("", "http://h/")}, want: p + "[0].name: required"},
		"bad name":       {notes: []Notification{hook("CI", "http://h/")}, want: p + `[0].name: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit), got "CI"`},
		"duplicate name": {notes: []Notification{hook("ci", "http://h/"), hook("ci", "http://g/")}, want: p + `[1].name: duplicate "ci"`},
		"no receiver":    {notes: []Notification{{Name: "ci"}}, want: p + "[0]: must set one of webhook or slack, got neither"},
		"two receivers": {notes: []Notification{{Name: "ci", Webhook: &NotificationTarget{URL: "http://h/"}, Slack: &NotificationTarget{URL: "http://h/"}}},
			want: p + "[0]: must set only one of webhook or slack, got both"},
		"no url":       {notes: []Notification{{Name: "ci", Slack: &NotificationTarget{}}}, want: p + "[0].slack: must set one of url or urlFrom, got neither"},
		"url and from": {kube: true, notes: []Notification{{Name: "ci", Webhook: &NotificationTarget{URL: "http://h/", URLFrom: &URLSource{}}}}, want: p + "[0].webhook: must set only one of url or urlFrom, got both"},
		// The message shows the scheme and host, never the path that may be
		// the credential.
		"other scheme": {notes: []Notification{hook("ci", "ftp://files.example/T000/SECRET")}, want: p + "[0].webhook.url: must be an absolute http or https URL, got ftp://files.example/... (only the scheme and host are shown)"},
		"relative url": {notes: []Notification{hook("ci", "/services/SECRET")}, want: p + "[0].webhook.url: must be an absolute http or https URL, got a relative or malformed URL (not shown: it may hold a secret)"},
		"secret in local mode": {notes: []Notification{{Name: "team", Slack: fromSecret("slack", "url")}},
			want: p + "[0].slack.urlFrom: reads a Kubernetes Secret: Kubernetes mode (spec.workloadRef) only; in local mode set url"},
		"no secret name": {kube: true, notes: []Notification{{Name: "team", Slack: fromSecret("", "url")}}, want: p + "[0].slack.urlFrom.secretKeyRef.name: required"},
		"bad secret name": {kube: true, notes: []Notification{{Name: "team", Slack: fromSecret("Slack_Hook", "url")}},
			want: p + `[0].slack.urlFrom.secretKeyRef.name: must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253), got "Slack_Hook"`},
		"no secret key": {kube: true, notes: []Notification{{Name: "team", Slack: fromSecret("slack", "")}}, want: p + "[0].slack.urlFrom.secretKeyRef.key: required"},
		"bad secret key": {kube: true, notes: []Notification{{Name: "team", Slack: fromSecret("slack", "a/b")}},
			want: p + `[0].slack.urlFrom.secretKeyRef.key: must be a Secret data key (letters, digits, '-', '_' and '.', at most 253), got "a/b"`},
		"unknown event": {notes: []Notification{hook("ci", "http://h/", NotifyStarted, "analysis-failed")},
			want: p + `[0].events[1]: must be one of [started step paused analysisFailed aborted promoted], got "analysis-failed"`},
		"duplicate event": {notes: []Notification{hook("ci", "http://h/", NotifyAborted, NotifyAborted)}, want: p + `[0].events[1]: duplicate "aborted"`},
		"too many": {notes: func() []Notification {
			var out []Notification
			for i := range maxNotifications + 1 {
				out = append(out, hook("n"+strings.Repeat("x", i), "http://h/"))
			}
			return out
		}(), want: p + ": must have at most 16 notifications, got 17"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := base(t, "example.yaml")
			if tc.kube {
				kubernetesMode(r)
			}
			r.Spec.Notifications = tc.notes
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
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("the message shows a URL's secret: %v", err)
			}
		})
	}
}

// TestNotificationsDecode reads the documented YAML shape.
func TestNotificationsDecode(t *testing.T) {
	rs, err := Load([]byte(`
apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  strategy:
    canary:
      trafficRouting: {gatewayAPI: {httpRoute: web}}
      steps: [{setWeight: 50}]
  notifications:
  - name: ci
    webhook: {url: "https://ci.example.com/hooks/fledge"}
    events: [started, promoted, aborted]
  - name: team
    slack:
      urlFrom: {secretKeyRef: {name: slack-webhook, key: url}}
`))
	if err != nil {
		t.Fatal(err)
	}
	n := rs[0].Spec.Notifications
	if len(n) != 2 || n[0].Webhook.URL != "https://ci.example.com/hooks/fledge" || len(n[0].Events) != 3 ||
		n[1].Slack.URLFrom.SecretKeyRef != (SecretKeyRef{Name: "slack-webhook", Key: "url"}) {
		t.Fatalf("decoded %+v", n)
	}
	if _, err := Load([]byte(`
apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  template: {command: [./app]}
  strategy: {canary: {trafficRouting: {proxy: {listen: "127.0.0.1:8080"}}, steps: [{setWeight: 50}]}}
  notifications: [{name: ci, webhook: {uri: "http://h/"}}]
`)); err == nil || !strings.Contains(err.Error(), "spec.notifications[0].webhook") {
		t.Fatalf("an unknown field: %v", err)
	}
}
