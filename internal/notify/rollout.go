package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
)

// A rollout's own notifications (spec.notifications) are sent along with
// the flags' sinks. Their sinks come and go with the specs, so they are
// pooled by kind and URL: rollouts naming the same URL share one queue and
// one sender, which starts on the first message and stops once idle.

// SecretReader returns the value of a key of a Secret in the rollout's
// namespace (Kubernetes mode). Its errors must not hold the value.
type SecretReader func(ctx context.Context, ref v1alpha1.SecretKeyRef) (string, error)

// NotifyRollout queues the notifications of a decision for the flags' sinks
// (as Notify) and for the rollout's own, own being its spec.notifications.
// A URL from a Secret is read with read (nil in local mode, where the spec
// has none), and only for a notification that has something to send: a
// decision that changes nothing reads nothing. A message goes once to a
// URL that several settings name. It never waits on a receiver; the error
// names each notification it could not send and why, never a URL.
func (n *Notifier) NotifyRollout(ctx context.Context, c Change, own []v1alpha1.Notification, read SecretReader) error {
	msgs := Messages(c)
	if len(msgs) == 0 {
		return nil
	}
	sent := map[Sink]map[Event]bool{}
	for _, m := range msgs {
		if !n.events[m.Event] {
			continue
		}
		n.Send(m)
		for _, s := range n.sinks {
			mark(sent, s.Sink, m.Event)
		}
	}
	var errs []error
	for i := range own {
		note := &own[i]
		var todo []Message
		for _, m := range msgs {
			if len(note.Events) == 0 || slices.Contains(note.Events, v1alpha1.NotificationEvent(m.Event)) {
				todo = append(todo, m)
			}
		}
		if len(todo) == 0 {
			continue
		}
		sk, err := sinkOf(ctx, note, read)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.notifications[%s]: %w", note.Name, err))
			continue
		}
		var fresh []Message
		for _, m := range todo {
			if !sent[sk][m.Event] {
				fresh = append(fresh, m)
				mark(sent, sk, m.Event)
			}
		}
		if err := n.sendPooled(sk, fresh); err != nil {
			errs = append(errs, fmt.Errorf("spec.notifications[%s]: %w", note.Name, err))
		}
	}
	return errors.Join(errs...)
}

func mark(sent map[Sink]map[Event]bool, s Sink, ev Event) {
	if sent[s] == nil {
		sent[s] = map[Event]bool{}
	}
	sent[s][ev] = true
}

// sinkOf is the sink a notification names, its URL read from its Secret if
// it has one. Errors never hold the URL.
func sinkOf(ctx context.Context, note *v1alpha1.Notification, read SecretReader) (Sink, error) {
	kind, t := Webhook, note.Webhook
	if note.Slack != nil {
		kind, t = Slack, note.Slack
	}
	switch {
	case t == nil:
		return Sink{}, errors.New("no webhook or slack")
	case t.URLFrom == nil:
		return Sink{Kind: kind, URL: t.URL}, nil
	case read == nil:
		return Sink{}, fmt.Errorf("%s.urlFrom: Secrets are read in Kubernetes mode only", kind)
	}
	ref := t.URLFrom.SecretKeyRef
	v, err := read(ctx, ref)
	if err != nil {
		return Sink{}, fmt.Errorf("%s.urlFrom: %w", kind, err)
	}
	s := Sink{Kind: kind, URL: strings.TrimSpace(v)}
	if err := s.check(); err != nil {
		return Sink{}, fmt.Errorf("%s.urlFrom: the value of key %q of Secret %q: %w", kind, ref.Key, ref.Name, err)
	}
	return s, nil
}

// sendPooled queues msgs for the pooled sink sk, creating it (and starting
// its sender, if the notifier runs) on first use.
func (n *Notifier) sendPooled(sk Sink, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.pool[sk]
	if s == nil {
		if err := sk.check(); err != nil {
			return err
		}
		s = &sink{Sink: sk, target: sk.Target(), wake: make(chan struct{}, 1)}
		n.pool[sk] = s
		n.log.Debug("notification sink added", "sink", s.target)
		n.startPooled(s)
	}
	for _, m := range msgs {
		if s.push(m, n.cfg.QueueSize) {
			n.log.Warn("notification queue full: dropped the oldest message", "sink", s.target, "dropped", s.dropped.Load())
		}
	}
	if n.stopped {
		s.dropped.Add(uint64(len(s.drain()))) // no sender will take them
	}
	return nil
}

// startPooled starts the sender of a pooled sink once the notifier runs;
// n.mu is held.
func (n *Notifier) startPooled(s *sink) {
	if n.ctx == nil || n.stopped || s.running {
		return
	}
	s.running = true
	n.wg.Go(func() { n.run(n.ctx, s, n.cfg.IdleTimeout) })
}

// retire removes a pooled sink that has nothing queued, keeping its
// counts, and tells whether it did; messages come in under n.mu, so none
// can reach a retired sink.
func (n *Notifier) retire(s *sink) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pool[s.Sink] != s || s.queued() > 0 {
		return false
	}
	delete(n.pool, s.Sink)
	key := [2]string{string(s.Kind), Redact(s.URL)}
	r := n.retired[key]
	if r == nil {
		r = &Stats{Kind: s.Kind, Target: key[1]}
		n.retired[key] = r
	}
	r.Sent += s.sent.Load()
	r.Failed += s.failed.Load()
	r.Dropped += s.dropped.Load()
	n.log.Debug("idle notification sink stopped", "sink", s.target)
	return true
}
