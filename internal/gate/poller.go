package gate

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
)

// DefaultInterval is how often a wanted gate is checked again.
const DefaultInterval = 3 * time.Second

// Config configures a Poller.
type Config struct {
	// Caller makes the calls; the zero Caller has the defaults.
	Caller Caller
	// Interval between two checks of a wanted gate; default DefaultInterval.
	Interval time.Duration
	// Changed is called (from the Poller's goroutines) when a gate's answer
	// changes, to ask for a decision; it must not block.
	Changed func()
	Logger  *slog.Logger
}

// Poller checks the gates the engine waits on, off the decision loop.
type Poller struct {
	cfg  Config
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	polling map[v1alpha1.WebhookType]context.CancelFunc
	obs     map[v1alpha1.WebhookType]rollout.GateObservation
	hooks   []v1alpha1.Webhook
	payload Payload
}

// NewPoller returns a Poller whose calls end when ctx does or Stop is called.
func NewPoller(ctx context.Context, cfg Config) *Poller {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Changed == nil {
		cfg.Changed = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, stop := context.WithCancel(ctx)
	return &Poller{cfg: cfg, ctx: ctx, stop: stop,
		polling: map[v1alpha1.WebhookType]context.CancelFunc{}, obs: map[v1alpha1.WebhookType]rollout.GateObservation{}}
}

// Want sets the gates to check: those of types, with the rollout's webhooks
// and the payload's current state. A gate no longer wanted stops being
// checked and forgets its answer, so that the next time it is wanted (the
// next weight increase) it must answer again. post-rollout is called once
// per Want that lists it, and its answer is only logged. It never blocks.
func (p *Poller) Want(types []v1alpha1.WebhookType, hooks []v1alpha1.Webhook, payload Payload) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hooks, p.payload = hooks, payload
	for t, cancel := range p.polling {
		if !slices.Contains(types, t) {
			cancel()
			delete(p.polling, t)
			delete(p.obs, t)
		}
	}
	for _, t := range types {
		if _, ok := p.polling[t]; ok || p.ctx.Err() != nil {
			continue
		}
		if t == v1alpha1.WebhookPostRollout {
			p.wg.Add(1)
			go p.postRollout(ofType(hooks, t), payload)
			continue
		}
		ctx, cancel := context.WithCancel(p.ctx)
		p.polling[t] = cancel
		p.wg.Add(1)
		go p.poll(ctx, t)
	}
}

// Observations returns the last answer of every gate being checked.
func (p *Poller) Observations() map[v1alpha1.WebhookType]rollout.GateObservation {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[v1alpha1.WebhookType]rollout.GateObservation, len(p.obs))
	for t, o := range p.obs {
		out[t] = o
	}
	return out
}

// Stop ends every call and waits for the goroutines.
func (p *Poller) Stop() {
	p.stop()
	p.wg.Wait()
}

// poll checks the gate of type t every interval until ctx ends.
func (p *Poller) poll(ctx context.Context, t v1alpha1.WebhookType) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		hooks, payload := ofType(p.hooks, t), p.payload
		p.mu.Unlock()
		o := p.check(ctx, hooks, payload)
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		prev, had := p.obs[t]
		_, wanted := p.polling[t]
		if wanted {
			p.obs[t] = o
		}
		p.mu.Unlock()
		if wanted && (!had || prev.Open != o.Open || prev.Failed != o.Failed || prev.Message != o.Message) {
			p.cfg.Changed()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.cfg.Interval):
		}
	}
}

// check calls every webhook of a gate: the gate is open when all answer
// 2xx, failed when one does not after its retries.
func (p *Poller) check(ctx context.Context, hooks []v1alpha1.Webhook, payload Payload) rollout.GateObservation {
	o := rollout.GateObservation{Open: true}
	var msgs []string
	for _, h := range hooks {
		r := p.cfg.Caller.Call(ctx, h, payload)
		if !r.OK {
			o.Open, o.Failed = false, true
		}
		msgs = append(msgs, r.Message)
	}
	o.Message, o.CheckedAt = strings.Join(msgs, "; "), time.Now()
	return o
}

// postRollout tells the post-rollout webhooks that the rollout is done.
func (p *Poller) postRollout(hooks []v1alpha1.Webhook, payload Payload) {
	defer p.wg.Done()
	for _, h := range hooks {
		r := p.cfg.Caller.Call(p.ctx, h, payload)
		p.cfg.Logger.Info("post-rollout webhook called", "webhook", h.Name, "ok", r.OK, "answer", r.Message)
	}
}

func ofType(hooks []v1alpha1.Webhook, t v1alpha1.WebhookType) []v1alpha1.Webhook {
	var out []v1alpha1.Webhook
	for _, h := range hooks {
		if h.Type == t {
			out = append(out, h)
		}
	}
	return out
}
