package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// eventAPI is an API server's Events in memory; fail, when set, answers a
// call before it is applied.
type eventAPI struct {
	mu    sync.Mutex
	calls []string // "create NAME" or "patch NAME", in the order applied
	kept  map[string]bool
	fail  func(call string) error
}

func (a *eventAPI) do(verb string, e *corev1.Event) (*corev1.Event, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	call := verb + " " + e.Name
	if a.fail != nil {
		if err := a.fail(call); err != nil {
			return nil, err
		}
	}
	switch {
	case verb == "create" && a.kept[e.Name]:
		return nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "events"}, e.Name)
	case verb == "patch" && !a.kept[e.Name]:
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "events"}, e.Name)
	}
	a.kept[e.Name] = true
	a.calls = append(a.calls, call)
	return e, nil
}

func (a *eventAPI) Create(e *corev1.Event) (*corev1.Event, error) { return a.do("create", e) }
func (a *eventAPI) Update(e *corev1.Event) (*corev1.Event, error) { return a.do("update", e) }
func (a *eventAPI) Patch(e *corev1.Event, _ []byte) (*corev1.Event, error) {
	return a.do("patch", e)
}

func (a *eventAPI) written() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

func newTestSink(t *testing.T, api *eventAPI) *eventSink {
	t.Helper()
	api.kept = map[string]bool{}
	s := newEventSink(api, logr.Discard())
	s.backoff = time.Millisecond
	return s
}

func drained(t *testing.T, s *eventSink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.close(ctx)
	if ctx.Err() != nil {
		t.Fatal("the writers did not finish")
	}
}

func ev(name string) *corev1.Event {
	return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
}

// A repeat is a patch of the Event created before it: both go to one
// writer, in order, whatever the other writers do meanwhile.
func TestEventSinkKeepsAnEventsWritesInOrder(t *testing.T) {
	api := &eventAPI{}
	s := newTestSink(t, api)
	for i := range 200 {
		name := fmt.Sprintf("e%d", i%20)
		if i < 20 {
			s.Create(ev(name))
		} else {
			s.Patch(ev(name), []byte(`{}`))
		}
	}
	drained(t, s)
	got := api.written()
	if len(got) != 200 {
		t.Fatalf("%d writes, want 200: %v", len(got), got)
	}
	for i := range 20 {
		var mine []string
		for _, c := range got {
			if c == fmt.Sprintf("create e%d", i) || c == fmt.Sprintf("patch e%d", i) {
				mine = append(mine, c)
			}
		}
		if len(mine) != 10 || mine[0] != fmt.Sprintf("create e%d", i) {
			t.Errorf("e%d written as %v, want its create then 9 patches", i, mine)
		}
	}
}

// A patch of an Event that is gone (expired after an hour) creates it.
func TestEventSinkCreatesWhatAPatchFindsGone(t *testing.T) {
	api := &eventAPI{}
	s := newTestSink(t, api)
	s.Patch(ev("old"), []byte(`{}`))
	drained(t, s)
	if got := api.written(); !slices.Equal(got, []string{"create old"}) {
		t.Errorf("written %v, want the Event created", got)
	}
}

func TestEventSinkRetries(t *testing.T) {
	tests := map[string]struct {
		err   error
		tries int // calls made for the one Event
		kept  bool
	}{
		"a transport error, then written": {err: errors.New("connection refused"), tries: 3, kept: true},
		"overloaded, then written":        {err: apierrors.NewTooManyRequests("slow down", 1), tries: 3, kept: true},
		"always away: given up":           {err: errors.New("connection refused"), tries: eventTries},
		"a terminating namespace: final": {
			err:   apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "e", errors.New("namespace ns is being terminated")),
			tries: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			api := &eventAPI{}
			tries := 0
			api.fail = func(string) error {
				tries++
				if tt.kept && tries == tt.tries {
					return nil
				}
				return tt.err
			}
			s := newTestSink(t, api)
			s.Create(ev("e"))
			drained(t, s)
			if tries != tt.tries {
				t.Errorf("%d tries, want %d", tries, tt.tries)
			}
			if got := len(api.written()) == 1; got != tt.kept {
				t.Errorf("written %v, want %v", got, tt.kept)
			}
		})
	}
}

// A full queue drops the Event at once rather than hold up the recorder.
func TestEventSinkDropsWhenBehind(t *testing.T) {
	api := &eventAPI{}
	release := make(chan struct{})
	api.fail = func(string) error { <-release; return nil }
	s := newTestSink(t, api)
	// One name, one writer: it takes the first Event and blocks on it, the
	// queue holds eventQueue more, the rest are dropped.
	extra := 10
	for range eventQueue + 1 + extra {
		s.Patch(ev("same"), []byte(`{}`))
	}
	if got := s.dropped.Load(); got < int64(extra) || got > int64(extra+1) {
		t.Errorf("%d dropped, want %d (or one more, if the writer had not yet taken the first)", got, extra)
	}
	close(release)
	drained(t, s)
}

// The flush mark is the recorder's own: never written, it tells stop that
// every Event recorded before it has been taken.
func TestEventSinkTakesTheFlushMark(t *testing.T) {
	api := &eventAPI{}
	s := newTestSink(t, api)
	s.Create(ev("before"))
	mark := ev("flush")
	mark.InvolvedObject.UID = flushUID
	s.Create(mark)
	select {
	case <-s.flushed:
	default:
		t.Fatal("the flush mark did not close flushed")
	}
	s.Patch(mark, []byte(`{}`)) // a second stop's mark, counted on the first
	drained(t, s)
	if got := api.written(); !slices.Equal(got, []string{"create before"}) {
		t.Errorf("written %v, want only the Event before the mark", got)
	}
}
