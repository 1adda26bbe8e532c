package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Notifier; zero fields take the defaults.
type Config struct {
	Sinks []Sink
	// Events filters what is sent; empty: every event.
	Events []Event
	// QueueSize bounds each sink's queue (default 100); when it is full the
	// oldest message is dropped.
	QueueSize int
	// Attempts is how many times a message is tried (default 5).
	Attempts int
	// Backoff is the wait before the first retry (default 1s); it doubles at
	// each retry up to MaxBackoff (default 30s), each wait between half and
	// all of it, at random, so that retries do not come in lockstep.
	Backoff, MaxBackoff time.Duration
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// IdleTimeout is how long a rollout's own sink (NotifyRollout) stays
	// without a message before its sender stops and its queue is freed
	// (default 10m); the next message starts it again.
	IdleTimeout time.Duration
	// Client sends the requests; default: one that follows no redirect.
	Client *http.Client
	Logger *slog.Logger
}

// Notifier queues notifications and delivers them; Start runs it.
type Notifier struct {
	cfg    Config
	log    *slog.Logger
	sinks  []*sink
	events map[Event]bool

	// The rollouts' own sinks (spec.notifications) come and go with the
	// specs: pooled by kind and URL, each sender started on first use and
	// stopped once idle (rollout.go).
	mu      sync.Mutex
	ctx     context.Context // set by Start; nil before
	stopped bool            // Start returned: nothing more is started
	wg      sync.WaitGroup
	pool    map[Sink]*sink
	retired map[[2]string]*Stats // the counts of stopped pooled sinks, by kind and target
}

// sink is a Sink with its queue and counts.
type sink struct {
	Sink
	target string

	mu    sync.Mutex
	queue []Message
	wake  chan struct{}
	// running is set once a pooled sink's sender is started (under the
	// Notifier's mu).
	running bool

	sent, failed, dropped atomic.Uint64
}

// New checks the sinks and events and builds a Notifier.
func New(cfg Config) (*Notifier, error) {
	cfg.QueueSize = cmpOr(cfg.QueueSize, 100)
	cfg.Attempts = cmpOr(cfg.Attempts, 5)
	cfg.Backoff = cmpOr(cfg.Backoff, time.Second)
	cfg.MaxBackoff = cmpOr(cfg.MaxBackoff, 30*time.Second)
	cfg.Timeout = cmpOr(cfg.Timeout, 10*time.Second)
	if cfg.Client == nil {
		// A receiver that redirects is misconfigured; following it would
		// turn the POST into a GET and send the body nowhere.
		cfg.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.IdleTimeout = cmpOr(cfg.IdleTimeout, 10*time.Minute)
	n := &Notifier{cfg: cfg, log: cfg.Logger, events: map[Event]bool{}, pool: map[Sink]*sink{}, retired: map[[2]string]*Stats{}}
	var errs []error
	for _, s := range cfg.Sinks {
		if err := s.check(); err != nil {
			errs = append(errs, err)
			continue
		}
		n.sinks = append(n.sinks, &sink{Sink: s, target: s.Target(), wake: make(chan struct{}, 1)})
	}
	want := cfg.Events
	if len(want) == 0 {
		want = Events
	}
	for _, e := range want {
		if !slices.Contains(Events, e) {
			errs = append(errs, fmt.Errorf("notification event %q: one of %s", e, eventNames()))
		}
		n.events[e] = true
	}
	return n, errors.Join(errs...)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func eventNames() string {
	names := make([]string, len(Events))
	for i, e := range Events {
		names[i] = string(e)
	}
	return strings.Join(names, ", ")
}

// Notify queues the notifications of a decision for every sink. It never
// blocks: it does no I/O, and a full queue drops its oldest message.
func (n *Notifier) Notify(c Change) {
	for _, m := range Messages(c) {
		if n.events[m.Event] {
			n.Send(m)
		}
	}
}

// Send queues one message for every sink, whatever its event; it never
// blocks.
func (n *Notifier) Send(m Message) {
	for _, s := range n.sinks {
		if s.push(m, n.cfg.QueueSize) {
			n.log.Warn("notification queue full: dropped the oldest message", "sink", s.target, "dropped", s.dropped.Load())
		}
	}
}

// push queues m and tells whether the oldest message was dropped for it.
func (s *sink) push(m Message, limit int) bool {
	s.mu.Lock()
	full := len(s.queue) >= limit
	if full {
		copy(s.queue, s.queue[1:])
		s.queue = s.queue[:len(s.queue)-1]
		s.dropped.Add(1)
	}
	s.queue = append(s.queue, m)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return full
}

func (s *sink) pop() (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return Message{}, false
	}
	m := s.queue[0]
	s.queue = s.queue[1:]
	return m, true
}

// drain empties the queue and returns what it held.
func (s *sink) drain() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

func (s *sink) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Start delivers queued messages, each sink from its own goroutine so that
// a slow receiver delays no other, until ctx is done; messages still queued
// then are counted as dropped.
func (n *Notifier) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.ctx != nil {
		n.mu.Unlock()
		return errors.New("notifier: already started")
	}
	n.ctx = ctx
	for _, s := range n.sinks {
		n.wg.Go(func() { n.run(ctx, s, 0) })
	}
	for _, s := range n.pool {
		n.startPooled(s)
	}
	n.mu.Unlock()
	<-ctx.Done()
	n.mu.Lock()
	n.stopped = true // no sender starts after this: wg.Wait below sees them all
	n.mu.Unlock()
	n.wg.Wait()
	return nil
}

// run delivers s's messages until ctx is done or, when idle is set, s has
// had nothing to send for that long and could be retired.
func (n *Notifier) run(ctx context.Context, s *sink, idle time.Duration) {
	for {
		m, ok := s.pop()
		if !ok {
			if n.wait(ctx, s, idle) {
				return
			}
			continue
		}
		if ctx.Err() != nil {
			s.dropped.Add(uint64(1 + s.queued()))
			return
		}
		n.deliver(ctx, s, m)
	}
}

// wait waits for a message to s and tells whether its sender should end:
// ctx is done, or s was idle for idle (when set) and is retired.
func (n *Notifier) wait(ctx context.Context, s *sink, idle time.Duration) bool {
	var idleC <-chan time.Time
	if idle > 0 {
		t := time.NewTimer(idle)
		defer t.Stop()
		idleC = t.C
	}
	select {
	case <-ctx.Done():
		return true
	case <-s.wake:
		return false
	case <-idleC:
		return n.retire(s)
	}
}

// deliver posts m to s, retrying what may succeed later (no answer, 408,
// 429, 5xx) with back-off.
func (n *Notifier) deliver(ctx context.Context, s *sink, m Message) {
	body, err := encoders[s.Kind](m)
	if err != nil {
		s.failed.Add(1)
		n.log.Error("cannot encode a notification", "sink", s.target, "err", err)
		return
	}
	log := n.log.With("sink", s.target, "rollout", m.Rollout, "event", m.Event)
	for attempt := 1; ; attempt++ {
		err := n.post(ctx, s, body)
		if err == nil {
			s.sent.Add(1)
			log.Debug("notification sent", "attempts", attempt)
			return
		}
		var final *finalError
		if errors.As(err, &final) || attempt >= n.cfg.Attempts || ctx.Err() != nil {
			s.failed.Add(1)
			log.Warn("notification not delivered", "attempts", attempt, "err", err)
			return
		}
		wait := n.backoff(attempt)
		log.Debug("notification failed; retrying", "attempt", attempt, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			s.failed.Add(1)
			return
		}
	}
}

// backoff is the wait after the attempt-th failure: Backoff doubled each
// time up to MaxBackoff, then a random share of it from half to all.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.cfg.Backoff
	for i := 1; i < attempt && d < n.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, n.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// finalError is an answer that retrying will not change (a 4xx but 408 and 429).
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() + " (not retried)" }
func (e *finalError) Unwrap() error { return e.err }

// post sends body once. Its errors never hold the URL's path or query.
func (n *Notifier) post(ctx context.Context, s *sink, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return &finalError{fmt.Errorf("build the request to %s", s.target)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fledge-notify")
	resp, err := n.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error's text holds the whole URL
		}
		return fmt.Errorf("POST %s: %w", Redact(s.URL), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so that the connection is reused
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	err = fmt.Errorf("POST %s: receiver answered %s: %q", Redact(s.URL), resp.Status, strings.TrimSpace(string(snippet)))
	if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 {
		return err
	}
	return &finalError{err}
}
