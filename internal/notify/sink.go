package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Kind is a kind of receiver; each encodes a Message its own way.
type Kind string

// The kinds of sinks.
const (
	// Webhook receives the Message as JSON.
	Webhook Kind = "webhook"
	// Slack is a Slack-compatible incoming webhook (Slack, Mattermost,
	// Rocket.Chat): {"text": "..."}.
	Slack Kind = "slack"
)

// encoders are the body each kind of sink receives.
var encoders = map[Kind]func(Message) ([]byte, error){
	Webhook: func(m Message) ([]byte, error) { return json.Marshal(m) },
	Slack:   func(m Message) ([]byte, error) { return json.Marshal(map[string]string{"text": SlackText(m)}) },
}

// Sink is a receiver of notifications.
type Sink struct {
	Kind Kind
	// URL is where to POST; it may hold a secret, and is never logged whole.
	URL string
}

// Target is the sink's kind with the scheme and host of its URL, without
// the path or query that may hold a secret: what logs and metrics show.
func (s Sink) Target() string { return string(s.Kind) + " " + Redact(s.URL) }

// Redact keeps a URL's scheme and host: the rest (user info, path, query)
// may be a secret.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}

// check says what is wrong with a sink, without its secret.
func (s Sink) check() error {
	if encoders[s.Kind] == nil {
		return fmt.Errorf("notification sink kind %q: one of webhook, slack", s.Kind)
	}
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%s notification URL %s: want an absolute http or https URL", s.Kind, Redact(s.URL))
	}
	return nil
}

// slackEscaper escapes what Slack's mrkdwn reads as markup.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// verbs say each event in a few words.
var verbs = map[Event]string{
	Started:        "started",
	Step:           "stepped",
	Paused:         "paused",
	AnalysisFailed: "failed its analysis",
	Aborted:        "aborted",
	Promoted:       "promoted",
}

// SlackText is the one-line text of a message, e.g.
// "fledge: rollout *web* promoted (revision 3, 100%): revision 3 is stable".
func SlackText(m Message) string {
	name := m.Rollout
	if m.Namespace != "" {
		name = m.Namespace + "/" + name
	}
	rev := m.Revision.Canary
	if rev == "" {
		rev = m.Revision.Stable
	}
	verb := verbs[m.Event]
	if verb == "" {
		verb = string(m.Event)
	}
	text := fmt.Sprintf("fledge: rollout *%s* %s (revision %s, canary %d%%, %s): %s", name, verb, rev, m.Weight, m.Phase, m.Message)
	return slackEscaper.Replace(text)
}
