package controller

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// Events are written by their own writers, so that a release of many
// Rollouts at once keeps them all. client-go's broadcaster hands Events to
// one goroutine that writes them one at a time and drops what does not fit
// in a queue of 1,000 behind it: when 1,000 Rollouts stepped together
// (bench/controller) about 60% of their Events were never written.
const (
	eventWriters = 8
	// eventQueue is each writer's backlog: 8 x 2,048 Events, a few MB at
	// most, enough for every transition of a burst of thousands of steps.
	eventQueue = 2048
	// eventQPS limits the Events' own client, apart from the controller's:
	// in a burst the status and router writes go first, the Events follow.
	eventQPS, eventBurst = 100, 200
	eventTries           = 6
)

// correlatorOptions: client-go's default correlator lets one object have
// 25 Events, then one every 5 minutes, and folds the 11th similar Event in
// 10 minutes into its predecessor: a canary of 30 steps kept only its first
// 22 Events, not its promotion's (TestEveryTransitionHasAnEvent), and a
// second release within the hour lost most of its own. Every transition is
// an Event here (two a step, a few more a release); the limits stay for a
// runaway, which the work queue's backoff already slows.
var correlatorOptions = record.CorrelatorOptions{
	BurstSize: 200,     // events a Rollout may emit at once
	QPS:       1.0 / 6, // then 10 a minute
	MaxEvents: 100,     // similar events (one reason) kept apart in 10 minutes
}

// NewEventRecorder records Events as component, written by eventWriters
// writers through a client of their own. stop stops taking Events and
// waits, until ctx is done, for those taken to be written.
func NewEventRecorder(cfg *rest.Config, scheme *runtime.Scheme, component string, log logr.Logger) (rec record.EventRecorder, stop func(context.Context), err error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = eventQPS, eventBurst
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, nil, err
	}
	sink := newEventSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")}, log)
	b := record.NewBroadcaster(record.WithCorrelatorOptions(correlatorOptions))
	b.StartRecordingToSink(sink)
	rec = b.NewRecorder(scheme, corev1.EventSource{Component: component})
	stop = func(ctx context.Context) {
		// The broadcaster's shutdown abandons what its watcher has not
		// handed on yet; a mark recorded last reaches the sink after every
		// Event recorded before it.
		rec.Event(flushMark(), corev1.EventTypeNormal, "Flush", "every earlier Event is in the writers' queues")
		select {
		case <-sink.flushed:
		case <-ctx.Done():
		}
		b.Shutdown()
		sink.close(ctx)
	}
	return rec, stop, nil
}

// WithEvents records the Rollouts' Events through rec (NewEventRecorder's)
// rather than the manager's recorder.
func WithEvents(rec record.EventRecorder) SetupOption {
	return func(o *setupOptions) { o.events = rec }
}

// flushUID marks the Event that stop records last, which the sink takes as
// the sign that it holds every other, never writes.
const flushUID = types.UID("fledge.dev/events-flushed")

func flushMark() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fledge-events-flushed", UID: flushUID}}
}

// eventSink is a record.EventSink that takes an Event at once and writes it
// later: each Event goes to the writer its name hashes to, so an Event's
// creation and its later patches (a repeat counted on it) stay in order.
// What it returns is the Event as given, which is all the broadcaster's
// correlator keeps of it (its name, to patch it later).
type eventSink struct {
	api     record.EventSink
	log     logr.Logger
	mu      sync.RWMutex // closed and the queues' closing
	closed  bool
	queues  []chan eventWrite
	wg      sync.WaitGroup
	dropped atomic.Int64
	flushed chan struct{} // closed when the flush mark arrives
	flush   sync.Once
	backoff time.Duration // the first retry's wait, longer each try
}

// eventWrite is one Event to create, or to patch (patch set).
type eventWrite struct {
	event *corev1.Event
	patch []byte
}

var _ record.EventSink = (*eventSink)(nil)

func newEventSink(api record.EventSink, log logr.Logger) *eventSink {
	s := &eventSink{api: api, log: log, flushed: make(chan struct{}), backoff: time.Second}
	for range eventWriters {
		q := make(chan eventWrite, eventQueue)
		s.queues = append(s.queues, q)
		s.wg.Add(1)
		go s.write(q)
	}
	return s
}

func (s *eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	return s.take(eventWrite{event: e.DeepCopy()})
}

func (s *eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	return nil, errors.New("event sink: Update is not used by the broadcaster")
}

func (s *eventSink) Patch(e *corev1.Event, patch []byte) (*corev1.Event, error) {
	return s.take(eventWrite{event: e.DeepCopy(), patch: patch})
}

// take queues w to its writer. A full queue drops the Event (as client-go
// would, far sooner) rather than block the broadcaster.
func (s *eventSink) take(w eventWrite) (*corev1.Event, error) {
	if w.event.InvolvedObject.UID == flushUID {
		s.flush.Do(func() { close(s.flushed) })
		return w.event, nil
	}
	h := fnv.New32a()
	h.Write([]byte(w.event.Namespace + "/" + w.event.Name))
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.log.Info("Event recorded after the writers stopped, not written", "reason", w.event.Reason, "object", w.event.InvolvedObject.Name)
		return w.event, nil
	}
	select {
	case s.queues[h.Sum32()%uint32(len(s.queues))] <- w:
	default:
		if n := s.dropped.Add(1); n == 1 || n%1000 == 0 {
			s.log.Info("Events dropped: their writers are behind", "dropped", n, "reason", w.event.Reason)
		}
	}
	return w.event, nil
}

// write writes a queue's Events until it is closed.
func (s *eventSink) write(q chan eventWrite) {
	defer s.wg.Done()
	for w := range q {
		for try := 1; ; try++ {
			err := s.writeOnce(w)
			if err == nil || !retryable(err) {
				if err != nil && !apierrors.IsAlreadyExists(err) {
					s.log.Error(err, "Event rejected", "reason", w.event.Reason, "object", w.event.InvolvedObject.Name)
				}
				break
			}
			if try == eventTries {
				s.log.Error(err, "Event not written, giving up", "reason", w.event.Reason, "object", w.event.InvolvedObject.Name, "tries", try)
				break
			}
			time.Sleep(time.Duration(try) * s.backoff) // the API server is away: back off
		}
	}
}

// writeOnce creates or patches an Event; a patch of an Event that is gone
// (expired, or its creation dropped) creates it, as client-go does.
func (s *eventSink) writeOnce(w eventWrite) error {
	if w.patch != nil {
		_, err := s.api.Patch(w.event, w.patch)
		if !apierrors.IsNotFound(err) {
			return err
		}
	}
	e := w.event.DeepCopy()
	e.ResourceVersion = ""
	_, err := s.api.Create(e)
	return err
}

// retryable: the server's refusals are final (a terminating namespace, a
// malformed Event), transport errors and overload are not.
func retryable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true
	}
	return apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

// close stops taking Events and waits until the writers are done or ctx is.
func (s *eventSink) close(ctx context.Context) {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for _, q := range s.queues {
			close(q)
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Info("Events still being written at shutdown were left unwritten")
	}
}
