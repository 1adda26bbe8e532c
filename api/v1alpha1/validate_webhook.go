package v1alpha1

import (
	"net/url"
	"slices"
	"time"
)

// webhooks checks the gates of a strategy: unique names, a known type, an
// absolute http(s) URL and a positive timeout of at most a minute (a gate is
// polled while the rollout waits on it; a longer call only delays the answer).
func (v *validator) webhooks(p path, hooks []Webhook) {
	seen := map[string]bool{}
	for i := range hooks {
		h := &hooks[i]
		hp := p.index(i)
		if v.required(hp.field("name"), h.Name) {
			if seen[h.Name] {
				v.addf(hp.field("name"), "duplicate %q", h.Name)
			}
			seen[h.Name] = true
		}
		if !slices.Contains(WebhookTypes, h.Type) {
			v.addf(hp.field("type"), "must be one of %v, got %q", WebhookTypes, h.Type)
		}
		if v.required(hp.field("url"), h.URL) {
			if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.addf(hp.field("url"), "must be an absolute http or https URL, got %q", h.URL)
			}
		}
		if t := h.Timeout; t != nil && (t.Duration <= 0 || t.Duration > time.Minute) {
			v.addf(hp.field("timeout"), "must be more than 0 and at most 1m, got %s", t.Duration)
		}
	}
}
