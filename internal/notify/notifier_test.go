package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/internal/runner/store"
)

// receiver is a real HTTP server on loopback that records what it is sent
// and answers with the status codes it is told, in turn (then 200).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	answers []int
	got     chan []byte // every request's body, answered or not
	hold    chan struct{}
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{answers: answers, got: make(chan []byte, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		code := http.StatusOK
		if len(r.answers) > 0 {
			code, r.answers = r.answers[0], r.answers[1:]
		}
		r.bodies = append(r.bodies, body)
		r.headers = append(r.headers, req.Header.Clone())
		hold := r.hold
		r.mu.Unlock()
		r.got <- body
		if hold != nil {
			select {
			case <-hold: // stuck until the test lets it go
			case <-req.Context().Done():
			}
		}
		w.WriteHeader(code)
		fmt.Fprintln(w, "answer")
	}))
	t.Cleanup(r.Close)
	return r
}

// stuck makes the receiver hold every request until release is closed.
func (r *receiver) stuck() (release func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hold = make(chan struct{})
	var once sync.Once
	h := r.hold
	return func() { once.Do(func() { close(h) }) }
}

// next waits for the next request's body.
func (r *receiver) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-r.got:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got nothing within 10s")
		return nil
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// start runs a notifier until the test ends.
func start(t *testing.T, cfg Config) *Notifier {
	t.Helper()
	if cfg.Backoff == 0 {
		cfg.Backoff = 10 * time.Millisecond
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

// waitStats polls the notifier's counts until ok holds.
func waitStats(t *testing.T, n *Notifier, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := n.Stats()[0]
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never as wanted: %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sample(i int) Message {
	return Message{Rollout: "web", Event: Step, Reason: "WeightChanged", Message: fmt.Sprintf("message %d", i),
		Revision: Revisions{Stable: "1", Canary: "2"}, Weight: int32(i), Step: 1, Phase: "Progressing",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestWebhookPayload(t *testing.T) {
	r := newReceiver(t)
	n := start(t, Config{Sinks: []Sink{{Kind: Webhook, URL: r.URL + "/hook"}}})
	n.Notify(Change{Rollout: "web", Time: time.Now(),
		Previous: status("Healthy"), Status: status("Progressing"),
		Events: []store.Event{ev("RolloutStarted", "releasing revision 2 (stable is 1)")}})
	body := r.next(t)
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	want := map[string]any{
		"rollout": "web", "namespace": "", "event": "started", "reason": "RolloutStarted",
		"message":  "releasing revision 2 (stable is 1)",
		"revision": map[string]any{"stable": "1", "canary": "2"},
		"weight":   0.0, "step": 0.0, "phase": "Progressing", "time": "2026-01-02T03:04:05Z",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("payload\n got  %v\n want %v", got, want)
	}
	h := r.headers[0]
	if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "fledge-notify" {
		t.Errorf("headers %v", h)
	}
	waitStats(t, n, func(s Stats) bool { return s.Sent == 1 })
}

func TestSlackPayload(t *testing.T) {
	r := newReceiver(t)
	n := start(t, Config{Sinks: []Sink{{Kind: Slack, URL: r.URL + "/services/T0/B0/x"}}})
	m := sample(20)
	m.Event, m.Message = Aborted, "rollout aborted: analysis a failed: 2 of 3 <0.99"
	n.Send(m)
	var got map[string]string
	dec := json.NewDecoder(bytes.NewReader(r.next(t)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("not a Slack body: %v", err)
	}
	want := "fledge: rollout *web* aborted (revision 2, canary 20%, Progressing): rollout aborted: analysis a failed: 2 of 3 &lt;0.99"
	if len(got) != 1 || got["text"] != want {
		t.Errorf("body %q, want text %q", got, want)
	}
}

func TestRetriedUntilDelivered(t *testing.T) {
	r := newReceiver(t, 500, 503)
	n := start(t, Config{Sinks: []Sink{{Kind: Webhook, URL: r.URL}}, Attempts: 3})
	n.Send(sample(1))
	s := waitStats(t, n, func(s Stats) bool { return s.Sent+s.Failed > 0 })
	if s.Sent != 1 || s.Failed != 0 || r.count() != 3 {
		t.Errorf("sent %d failed %d after %d requests, want delivered at the 3rd", s.Sent, s.Failed, r.count())
	}
	for i := 1; i < 3; i++ {
		if !bytes.Equal(r.bodies[i], r.bodies[0]) {
			t.Errorf("retry %d sent another body", i)
		}
	}
}

func TestGivesUp(t *testing.T) {
	cases := map[string]struct {
		answers  []int
		attempts int
	}{
		"after the last attempt":  {[]int{500, 502, 503, 500, 500}, 3},
		"at once on a 4xx":        {[]int{404}, 1},
		"a redirect is not taken": {[]int{302}, 1},
		"429 is retried":          {[]int{429, 429, 429}, 3},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := newReceiver(t, c.answers...)
			n := start(t, Config{Sinks: []Sink{{Kind: Webhook, URL: r.URL}}, Attempts: 3})
			n.Send(sample(1))
			s := waitStats(t, n, func(s Stats) bool { return s.Sent+s.Failed > 0 })
			if s.Failed != 1 || s.Sent != 0 || r.count() != c.attempts {
				t.Errorf("sent %d failed %d after %d requests, want failed after %d", s.Sent, s.Failed, r.count(), c.attempts)
			}
		})
	}
}

// A receiver that does not answer holds no caller: Notify only queues, and
// the queue drops its oldest messages when full.
func TestStuckReceiverNeverBlocks(t *testing.T) {
	slow := newReceiver(t)
	release := slow.stuck()
	defer release()
	fast := newReceiver(t)
	n := start(t, Config{Sinks: []Sink{{Kind: Webhook, URL: slow.URL}, {Kind: Slack, URL: fast.URL}}, QueueSize: 4})

	n.Send(sample(0))
	slow.next(t) // the slow sink's worker is now stuck in that request

	sent := make(chan struct{})
	go func() {
		for i := 1; i <= 10; i++ {
			n.Send(sample(i))
		}
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("Send blocked on a stuck receiver")
	}
	// The other sink is not held up by the stuck one: it delivers up to
	// the last message (its own queue may have dropped some meanwhile).
	for !strings.HasSuffix(string(fast.next(t)), `: message 10"}`) {
	}
	var st Stats
	for _, s := range n.Stats() {
		if s.Kind == Webhook {
			st = s
		}
	}
	if st.Queued != 4 || st.Dropped != 6 || st.Sent != 0 {
		t.Errorf("stuck sink: %+v, want 4 queued, 6 dropped, none sent", st)
	}
	if slow.count() != 1 {
		t.Errorf("the stuck receiver got %d requests, want 1", slow.count())
	}

	release()
	var got []string
	for range 4 {
		var m Message
		json.Unmarshal(slow.next(t), &m)
		got = append(got, m.Message)
	}
	if want := "message 7,message 8,message 9,message 10"; strings.Join(got, ",") != want {
		t.Errorf("after the release the receiver got %v, want the newest: %s", got, want)
	}
}

func TestStopDropsWhatIsQueued(t *testing.T) {
	slow := newReceiver(t)
	release := slow.stuck()
	defer release()
	n, err := New(Config{Sinks: []Sink{{Kind: Webhook, URL: slow.URL}}, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Start(ctx); close(done) }()
	for i := range 3 {
		n.Send(sample(i))
	}
	slow.next(t)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return after its context ended")
	}
	s := n.Stats()[0]
	if s.Failed != 1 || s.Dropped != 2 || s.Sent != 0 {
		t.Errorf("%+v: want the request in flight failed and the 2 queued dropped", s)
	}
}

// Sink URLs carry secrets (Slack's path is one): no log line, error or
// metric label shows more than the scheme and host.
func TestSecretsStayOutOfLogs(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ok := newReceiver(t, 500)
	refused := newReceiver(t, 403)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there: the connection is refused
	const secret = "SeCrEt-T0K3N"
	sinks := []Sink{
		{Kind: Slack, URL: ok.URL + "/services/T0/B0/" + secret},
		{Kind: Webhook, URL: "http://user:" + secret + "@" + strings.TrimPrefix(refused.URL, "http://") + "/hook?token=" + secret},
		{Kind: Webhook, URL: "http://" + dead + "/" + secret},
	}
	n := start(t, Config{Sinks: sinks, Attempts: 2, Logger: log})
	n.Send(sample(1))
	waitStatsAll(t, n, func(s []Stats) bool {
		done := 0
		for _, st := range s {
			done += int(st.Sent + st.Failed)
		}
		return done == 3
	})
	var metrics bytes.Buffer
	n.WritePrometheus(&metrics)
	out := logs.String() + metrics.String()
	if strings.Contains(out, secret) {
		t.Errorf("the secret leaked:\n%s", out)
	}
	for _, want := range []string{"retrying", "not delivered", "connection refused", "403", ok.URL, "http://" + dead} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

func waitStatsAll(t *testing.T, n *Notifier, ok func([]Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(n.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats never as wanted: %+v", n.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEventsFilter(t *testing.T) {
	r := newReceiver(t)
	n := start(t, Config{Sinks: []Sink{{Kind: Webhook, URL: r.URL}}, Events: []Event{Promoted}})
	n.Notify(Change{Rollout: "web", Previous: status("Healthy"), Status: status("Progressing"),
		Events: []store.Event{ev("RolloutStarted", "releasing revision 2")}})
	n.Notify(Change{Rollout: "web", Previous: status("Progressing"), Status: status("Healthy"),
		Events: []store.Event{ev("Promoted", "revision 2 is stable")}})
	var m Message
	json.Unmarshal(r.next(t), &m)
	waitStats(t, n, func(s Stats) bool { return s.Sent == 1 })
	if m.Event != Promoted || r.count() != 1 {
		t.Errorf("got %d notifications, the first %q: want only promoted", r.count(), m.Event)
	}
}

// BenchmarkNotify measures what a rollout's worker pays per decision that
// makes a notification, for two sinks: mapping and queueing, no I/O.
func BenchmarkNotify(b *testing.B) {
	n, err := New(Config{Sinks: []Sink{{Kind: Webhook, URL: "http://127.0.0.1:1/a"}, {Kind: Slack, URL: "http://127.0.0.1:1/b"}}})
	if err != nil {
		b.Fatal(err)
	}
	c := Change{Rollout: "web", Previous: status("Progressing"), Status: status("Progressing", weight(50)), Time: time.Now(),
		Events: []store.Event{ev("WeightChanged", "canary weight 20% -> 50%"), ev("StepCompleted", "step 3/5 completed: setWeight 50%")}}
	for b.Loop() {
		n.Notify(c)
	}
}
