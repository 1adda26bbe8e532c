package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner/store"
)

// The changes of a release, as a rollout's worker hands them over.
var (
	started = Change{Rollout: "web", Previous: status(v1alpha1.PhaseHealthy), Status: status(v1alpha1.PhaseProgressing),
		Events: []store.Event{ev("RolloutStarted", "releasing revision 2 (stable is 1)")}}
	stepped = Change{Rollout: "web", Previous: status(v1alpha1.PhaseProgressing), Status: status(v1alpha1.PhaseProgressing, weight(50)),
		Events: []store.Event{ev("WeightChanged", "canary weight 0% -> 50%")}}
	promoted = Change{Rollout: "web", Previous: status(v1alpha1.PhaseProgressing), Status: v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseHealthy, StableRevision: "2"},
		Events: []store.Event{ev("Promoted", "revision 2 is stable")}}
	nothing = Change{Rollout: "web", Previous: status(v1alpha1.PhaseProgressing), Status: status(v1alpha1.PhaseProgressing)}
)

func webhookTo(name, url string, events ...v1alpha1.NotificationEvent) v1alpha1.Notification {
	return v1alpha1.Notification{Name: name, Webhook: &v1alpha1.NotificationTarget{URL: url}, Events: events}
}

func slackFrom(name, secret, key string, events ...v1alpha1.NotificationEvent) v1alpha1.Notification {
	return v1alpha1.Notification{Name: name, Events: events,
		Slack: &v1alpha1.NotificationTarget{URLFrom: &v1alpha1.URLSource{SecretKeyRef: v1alpha1.SecretKeyRef{Name: secret, Key: key}}}}
}

// secrets is a SecretReader over a map, counting its reads.
type secrets struct {
	values map[string]string // "name/key" -> value
	reads  atomic.Int32
}

func (s *secrets) read(_ context.Context, ref v1alpha1.SecretKeyRef) (string, error) {
	s.reads.Add(1)
	v, ok := s.values[ref.Name+"/"+ref.Key]
	if !ok {
		return "", fmt.Errorf("secret %q has no key %q", ref.Name, ref.Key)
	}
	return v, nil
}

// events decodes the webhook bodies r received, waiting for n of them.
func events(t *testing.T, r *receiver, n int) []string {
	t.Helper()
	var out []string
	for range n {
		var m Message
		if err := json.Unmarshal(r.next(t), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(m.Event))
	}
	return out
}

// A rollout's own notifications go to their receivers, each with its own
// events, alongside the flags' sinks and their filter; a Slack URL read
// from a Secret gets the text.
func TestRolloutNotifications(t *testing.T) {
	flags, ci, team := newReceiver(t), newReceiver(t), newReceiver(t)
	sec := &secrets{values: map[string]string{"slack/url": " " + team.URL + "/services/T0/B0/XYZ\n"}}
	n := start(t, Config{Sinks: []Sink{{Kind: Webhook, URL: flags.URL}}, Events: []Event{Promoted}})
	own := []v1alpha1.Notification{
		webhookTo("ci", ci.URL+"/hooks"), // every event
		slackFrom("team", "slack", "url", v1alpha1.NotifyStarted, v1alpha1.NotifyPromoted),
	}
	for _, c := range []Change{started, stepped, promoted} {
		if err := n.NotifyRollout(context.Background(), c, own, sec.read); err != nil {
			t.Fatal(err)
		}
	}
	if got := events(t, ci, 3); strings.Join(got, ",") != "started,step,promoted" {
		t.Errorf("the rollout's webhook got %v, want every event", got)
	}
	if got := events(t, flags, 1); got[0] != "promoted" {
		t.Errorf("the flags' webhook got %v, want its filter's promoted only", got)
	}
	first := string(team.next(t))
	if !strings.HasPrefix(first, `{"text":"fledge: rollout *web* started`) {
		t.Errorf("the rollout's Slack hook got %s", first)
	}
	if second := string(team.next(t)); !strings.Contains(second, "promoted") {
		t.Errorf("the rollout's Slack hook got %s second, want promoted", second)
	}
	waitStatsAll(t, n, func(s []Stats) bool { return len(s) == 3 && s[0].Sent+s[1].Sent+s[2].Sent == 6 })
	if flags.count() != 1 || team.count() != 2 {
		t.Errorf("flags' receiver got %d, Slack %d: want 1 and 2", flags.count(), team.count())
	}
}

// A decision that tells nothing reads no Secret; nor does one whose events
// the notification does not want.
func TestSecretsReadOnlyWhenSending(t *testing.T) {
	team := newReceiver(t)
	sec := &secrets{values: map[string]string{"slack/url": team.URL + "/services/XYZ"}}
	n := start(t, Config{})
	own := []v1alpha1.Notification{slackFrom("team", "slack", "url", v1alpha1.NotifyPromoted)}
	for _, c := range []Change{nothing, started, stepped} {
		if err := n.NotifyRollout(context.Background(), c, own, sec.read); err != nil {
			t.Fatal(err)
		}
	}
	if r := sec.reads.Load(); r != 0 {
		t.Fatalf("%d Secret reads for decisions with nothing to send to it", r)
	}
	if err := n.NotifyRollout(context.Background(), promoted, own, sec.read); err != nil {
		t.Fatal(err)
	}
	team.next(t)
	if r := sec.reads.Load(); r != 1 {
		t.Fatalf("%d Secret reads, want 1", r)
	}
}

// What cannot be sent is said per notification, with the Secret and key
// but never the URL; the others are sent.
func TestRolloutNotificationErrors(t *testing.T) {
	ci := newReceiver(t)
	const secret = "T0K3N-SECRET"
	sec := &secrets{values: map[string]string{"bad/url": "hooks.example.com/" + secret}}
	var logs bytes.Buffer
	n := start(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	own := []v1alpha1.Notification{
		slackFrom("missing", "slack", "url"),
		slackFrom("malformed", "bad", "url"),
		webhookTo("ci", ci.URL+"/"+secret),
	}
	err := n.NotifyRollout(context.Background(), started, own, sec.read)
	for _, want := range []string{
		`spec.notifications[missing]: slack.urlFrom: secret "slack" has no key "url"`,
		`spec.notifications[malformed]: slack.urlFrom: the value of key "url" of Secret "bad": slack notification URL (invalid URL): want an absolute http or https URL`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %s", err, want)
		}
	}
	events(t, ci, 1)
	if local := n.NotifyRollout(context.Background(), started, own[:1], nil); local == nil || !strings.Contains(local.Error(), "Kubernetes mode only") {
		t.Errorf("a Secret without a reader (local mode): %v", local)
	}
	waitStatsAll(t, n, func(s []Stats) bool { return len(s) == 1 && s[0].Sent == 1 })
	if strings.Contains(err.Error()+logs.String(), secret) {
		t.Errorf("a URL's secret leaked:\n%v\n%s", err, logs.String())
	}
}

// A URL named by the flags and by a rollout, or by two of its settings,
// gets each message once.
func TestSameURLOnce(t *testing.T) {
	r := newReceiver(t)
	n := start(t, Config{Sinks: []Sink{{Kind: Webhook, URL: r.URL}}, Events: []Event{Started}})
	own := []v1alpha1.Notification{webhookTo("a", r.URL), webhookTo("b", r.URL, v1alpha1.NotifyStep)}
	for _, c := range []Change{started, stepped} {
		if err := n.NotifyRollout(context.Background(), c, own, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The flags' sink and the rollout's have a queue each: any order.
	if got := events(t, r, 2); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"started", "step"}) {
		t.Errorf("got %v", got)
	}
	waitStatsAll(t, n, func(s []Stats) bool { return len(s) == 1 && s[0].Sent == 2 })
	if r.count() != 2 {
		t.Errorf("the receiver got %d messages, want 2", r.count())
	}
}

// A rollout's receiver that never answers holds up neither the rollout
// (NotifyRollout returns at once) nor another receiver.
func TestStuckRolloutReceiver(t *testing.T) {
	stuck, ok := newReceiver(t), newReceiver(t)
	release := stuck.stuck()
	defer release()
	n := start(t, Config{QueueSize: 3, Timeout: time.Minute})
	own := []v1alpha1.Notification{webhookTo("stuck", stuck.URL), webhookTo("ok", ok.URL)}
	begin := time.Now()
	for range 20 {
		if err := n.NotifyRollout(context.Background(), stepped, own, nil); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(begin); took > time.Second {
		t.Errorf("20 decisions took %s with a stuck receiver", took)
	}
	stuck.next(t)
	byTarget := func(all []Stats) map[string]Stats {
		m := map[string]Stats{}
		for _, st := range all {
			m[st.Target] = st
		}
		return m
	}
	// The other receiver is sent all it can be (its queue is small too).
	waitStatsAll(t, n, func(all []Stats) bool {
		o := byTarget(all)[Redact(ok.URL)]
		return o.Sent >= 1 && o.Sent+o.Dropped == 20 && o.Queued == 0
	})
	// One is in flight; the queue holds the newest, at most 3.
	if st := byTarget(n.Stats())[Redact(stuck.URL)]; st.Queued+int(st.Dropped) != 19 || st.Queued > 3 || st.Sent != 0 {
		t.Errorf("stuck receiver %+v: want 1 in flight, at most 3 queued and the rest dropped", st)
	}
}

// A rollout's sink stops once idle, keeps its counts, and starts again on
// the next message; messages queued before Start are sent once it runs.
func TestIdleRolloutSinkStopsAndRestarts(t *testing.T) {
	r := newReceiver(t)
	n, err := New(Config{IdleTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	own := []v1alpha1.Notification{webhookTo("ci", r.URL)}
	if err := n.NotifyRollout(context.Background(), started, own, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Start(ctx); close(done) }()
	events(t, r, 1)
	pooled := func() int {
		n.mu.Lock()
		defer n.mu.Unlock()
		return len(n.pool)
	}
	deadline := time.Now().Add(5 * time.Second)
	for pooled() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle sink was not stopped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := n.Stats(); len(s) != 1 || s[0].Sent != 1 {
		t.Errorf("stats after the sink stopped: %+v, want its 1 sent kept", s)
	}
	if err := n.NotifyRollout(context.Background(), promoted, own, nil); err != nil {
		t.Fatal(err)
	}
	if got := events(t, r, 1); got[0] != "promoted" {
		t.Errorf("after a restart got %v", got)
	}
	waitStatsAll(t, n, func(s []Stats) bool { return len(s) == 1 && s[0].Sent == 2 })
	cancel()
	<-done
	if err := n.NotifyRollout(context.Background(), started, own, nil); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats(); len(s) != 1 || s[0].Dropped != 1 || s[0].Queued != 0 {
		t.Errorf("after Start returned: %+v, want the message dropped", s)
	}
	if err := n.Start(context.Background()); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("a second Start: %v", err)
	}
}

// The API's event names are the notifier's.
func TestEventNamesMatchTheAPI(t *testing.T) {
	if len(v1alpha1.NotificationEvents) != len(Events) {
		t.Fatalf("API %v, notifier %v", v1alpha1.NotificationEvents, Events)
	}
	for i, e := range Events {
		if string(v1alpha1.NotificationEvents[i]) != string(e) {
			t.Errorf("event %d: API %q, notifier %q", i, v1alpha1.NotificationEvents[i], e)
		}
	}
}
