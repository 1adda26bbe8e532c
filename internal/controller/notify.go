package controller

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/notify"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Notifications tells people and other systems what the Rollouts'
// decisions did (internal/notify): the controller's --notify-* sinks hear
// of every Rollout, each Rollout's spec.notifications of its own. The
// reconciler hands over each persisted decision; queueing never waits on a
// receiver, and only the leader, which alone decides, sends. A URL from a
// Secret (urlFrom) is read from the Rollout's namespace when a notification
// has something to send, straight from the API server: no Secret is cached
// or watched, so the controller needs only get on Secrets.
type Notifications struct {
	notifier *notify.Notifier
	secrets  client.Reader
	events   record.EventRecorder
	log      *slog.Logger
}

var _ manager.LeaderElectionRunnable = (*Notifications)(nil)

// secretTimeout bounds the read of a Secret, which the reconcile waits for.
const secretTimeout = 5 * time.Second

// SetupOption changes what Setup builds.
type SetupOption func(*setupOptions)

type setupOptions struct {
	notifier *notify.Notifier
	events   record.EventRecorder
}

// WithNotifier sends the Rollouts' notifications through n, whose own sinks
// (the --notify-* flags') hear of every Rollout; without it only the
// Rollouts' own are sent.
func WithNotifier(n *notify.Notifier) SetupOption {
	return func(o *setupOptions) { o.notifier = n }
}

// NewNotifications builds the runnable: the notifier of opts, or one with
// no sink of its own; Secrets are read through secrets (the manager's API
// reader), failures recorded as events on the Rollout.
func NewNotifications(secrets client.Reader, events record.EventRecorder, log logr.Logger, opts ...SetupOption) (*Notifications, error) {
	var o setupOptions
	for _, opt := range opts {
		opt(&o)
	}
	slogger := slog.New(logr.ToSlogHandler(log))
	if o.notifier == nil {
		n, err := notify.New(notify.Config{Logger: slogger})
		if err != nil {
			return nil, err
		}
		o.notifier = n
	}
	return &Notifications{notifier: o.notifier, secrets: secrets, events: events, log: slogger}, nil
}

// NeedLeaderElection is true: only the leader decides, so only it sends.
func (n *Notifications) NeedLeaderElection() bool { return true }

// Start delivers what is queued until ctx ends.
func (n *Notifications) Start(ctx context.Context) error { return n.notifier.Start(ctx) }

// decided queues the notifications of one persisted decision: read is the
// Rollout's spec as decided on, with the status the decision started from;
// persisted is the status written. A notification that cannot be sent (its
// Secret missing) is a Warning event on the Rollout, the URL never shown.
func (n *Notifications) decided(ctx context.Context, read *v1alpha1.Rollout, persisted v1alpha1.RolloutStatus, dec rollout.Decision, now time.Time) {
	if n == nil {
		return
	}
	events := make([]store.Event, len(dec.Events))
	for i, e := range dec.Events {
		events[i] = store.Event{Time: now, Type: e.Type, Reason: e.Reason, Message: e.Message, Actor: "fledge"}
	}
	c := notify.Change{Rollout: read.Name, Namespace: read.Namespace, Previous: read.Status, Status: persisted, Events: events, Time: now}
	if err := n.notifier.NotifyRollout(ctx, c, read.Spec.Notifications, n.secretReader(read.Namespace)); err != nil {
		n.log.Warn("notification not sent", "rollout", read.Namespace+"/"+read.Name, "err", err)
		n.events.Eventf(read, corev1.EventTypeWarning, "NotificationFailed", "%v", err)
	}
}

// secretReader reads a key of a Secret in namespace ns. Its errors name the
// Secret and key, never the value.
func (n *Notifications) secretReader(ns string) notify.SecretReader {
	return func(ctx context.Context, ref v1alpha1.SecretKeyRef) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, secretTimeout)
		defer cancel()
		var s corev1.Secret
		if err := n.secrets.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, &s); err != nil {
			return "", fmt.Errorf("read Secret %s/%s: %w", ns, ref.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return "", fmt.Errorf("Secret %s/%s has no key %q", ns, ref.Name, ref.Key)
		}
		return string(v), nil
	}
}
