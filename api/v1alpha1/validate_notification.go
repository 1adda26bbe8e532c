package v1alpha1

import (
	"net/url"
	"regexp"
	"slices"
)

// maxNotifications bounds spec.notifications: each is a queue and a sender.
const maxNotifications = 16

// secretKey is what a Secret's data key may be.
var secretKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// notifications checks a rollout's own notifications: unique names, exactly
// one receiver with exactly one of url or urlFrom, known events. A URL may
// hold a secret (a Slack webhook's path is its credential): messages show
// its scheme and host only, never the rest.
func (v *validator) notifications(p path, s *RolloutSpec) {
	if len(s.Notifications) > maxNotifications {
		v.addf(p, "must have at most %d notifications, got %d", maxNotifications, len(s.Notifications))
	}
	seen := map[string]bool{}
	for i := range s.Notifications {
		n := &s.Notifications[i]
		np := p.index(i)
		if v.required(np.field("name"), n.Name) {
			v.dnsLabel(np.field("name"), n.Name)
			if seen[n.Name] {
				v.addf(np.field("name"), "duplicate %q", n.Name)
			}
			seen[n.Name] = true
		}
		switch {
		case n.Webhook == nil && n.Slack == nil:
			v.addf(np, "must set one of webhook or slack, got neither")
		case n.Webhook != nil && n.Slack != nil:
			v.addf(np, "must set only one of webhook or slack, got both")
		case n.Webhook != nil:
			v.notificationTarget(np.field("webhook"), n.Webhook, s.Template != nil)
		default:
			v.notificationTarget(np.field("slack"), n.Slack, s.Template != nil)
		}
		for j, e := range n.Events {
			switch {
			case !slices.Contains(NotificationEvents, e):
				v.addf(np.field("events").index(j), "must be one of %v, got %q", NotificationEvents, e)
			case slices.Index(n.Events, e) < j:
				v.addf(np.field("events").index(j), "duplicate %q", e)
			}
		}
	}
}

// notificationTarget checks a receiver's URL, or the Secret it is read
// from; local mode has no Secrets.
func (v *validator) notificationTarget(p path, t *NotificationTarget, local bool) {
	switch {
	case t.URL == "" && t.URLFrom == nil:
		v.addf(p, "must set one of url or urlFrom, got neither")
	case t.URL != "" && t.URLFrom != nil:
		v.addf(p, "must set only one of url or urlFrom, got both")
	case t.URL != "":
		if !absoluteHTTP(t.URL) {
			v.addf(p.field("url"), "must be an absolute http or https URL, got %s", redactURL(t.URL))
		}
	case local:
		v.addf(p.field("urlFrom"), "reads a Kubernetes Secret: Kubernetes mode (spec.workloadRef) only; in local mode set url")
	default:
		ref := &t.URLFrom.SecretKeyRef
		rp := p.field("urlFrom").field("secretKeyRef")
		v.objectNameLong(rp.field("name"), ref.Name)
		if v.required(rp.field("key"), ref.Key) && (len(ref.Key) > 253 || !secretKey.MatchString(ref.Key)) {
			v.addf(rp.field("key"), "must be a Secret data key (letters, digits, '-', '_' and '.', at most 253), got %q", ref.Key)
		}
	}
}

var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// objectNameLong checks the name of a Kubernetes object that may be a
// DNS-1123 subdomain (a Secret's).
func (v *validator) objectNameLong(p path, name string) {
	if v.required(p, name) && (len(name) > 253 || !dns1123Subdomain.MatchString(name)) {
		v.addf(p, "must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253), got %q", name)
	}
}

func absoluteHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// redactURL keeps what of a URL is safe to show: its scheme and host, or
// nothing when it does not parse.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "a relative or malformed URL (not shown: it may hold a secret)"
	}
	return u.Scheme + "://" + u.Host + "/... (only the scheme and host are shown)"
}
