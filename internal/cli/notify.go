package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/notify"
	"fledge.dev/fledge/internal/runner"
	"fledge.dev/fledge/internal/runner/store"
	"fledge.dev/fledge/internal/server"
	"github.com/spf13/pflag"
)

// notifyFlags are serve's and run's notification flags.
type notifyFlags struct {
	webhooks, slacks, events []string
}

func (f *notifyFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.webhooks, "notify-webhook", nil, "POST a JSON notification to this URL on each rollout event (repeatable; see docs/notifications.md)")
	fs.StringArrayVar(&f.slacks, "notify-slack", nil, "post a one-line notification to this Slack-compatible incoming webhook URL (repeatable)")
	names := make([]string, len(notify.Events))
	for i, e := range notify.Events {
		names[i] = string(e)
	}
	fs.StringSliceVar(&f.events, "notify-events", names, "the events to notify: "+strings.Join(names, ","))
}

// notifier builds the notifier the flags ask for. It is there even when
// they name no sink: a rollout may name its own (spec.notifications). URLs
// may hold secrets: errors and logs show their scheme and host.
func (f *notifyFlags) notifier(log *slog.Logger) (*notify.Notifier, error) {
	cfg := notify.Config{Logger: log}
	if f == nil || len(f.webhooks)+len(f.slacks) == 0 {
		return notify.New(cfg)
	}
	for _, u := range f.webhooks {
		cfg.Sinks = append(cfg.Sinks, notify.Sink{Kind: notify.Webhook, URL: u})
	}
	for _, u := range f.slacks {
		cfg.Sinks = append(cfg.Sinks, notify.Sink{Kind: notify.Slack, URL: u})
	}
	for _, e := range f.events {
		if e = strings.TrimSpace(e); e != "" {
			cfg.Events = append(cfg.Events, notify.Event(e))
		}
	}
	n, err := notify.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("--notify-*: %w", err)
	}
	targets := make([]string, len(cfg.Sinks))
	for i, s := range cfg.Sinks {
		targets[i] = s.Target()
	}
	log.Info("notifications on", "sinks", strings.Join(targets, ", "), "events", strings.Join(f.events, ","))
	return n, nil
}

// observers feed the daemon's decisions to the metrics recorder and, if
// set, the notifier: the flags' sinks and the rollout's own, read from st.
func observers(rec *server.Recorder, n *notify.Notifier, st *store.Store, log *slog.Logger) []runner.Observer {
	out := []runner.Observer{runner.ObserverFunc(func(p runner.Pass) { rec.Record(p.Rollout, p.Events, p.Took) })}
	if n != nil {
		out = append(out, runner.ObserverFunc(func(p runner.Pass) { notifyPass(n, st, log, p) }))
	}
	return out
}

// notifyPass queues the notifications of one pass. The rollout's own
// settings are read from the store (which the pass has just written) only
// when the pass has something to tell: most passes change nothing.
func notifyPass(n *notify.Notifier, st *store.Store, log *slog.Logger, p runner.Pass) {
	c := notify.Change{Rollout: p.Rollout, Previous: p.Previous, Status: p.Status, Events: p.Events, Time: time.Now()}
	if len(notify.Messages(c)) == 0 {
		return
	}
	var own []v1alpha1.Notification
	if ro, err := st.Rollout(p.Rollout); err != nil {
		log.Warn("cannot read the rollout's own notifications; sending the flags' only", "rollout", p.Rollout, "err", err)
	} else {
		own = ro.Spec.Notifications
	}
	if err := n.NotifyRollout(context.Background(), c, own, nil); err != nil {
		log.Warn("notification not sent", "rollout", p.Rollout, "err", err)
	}
}
