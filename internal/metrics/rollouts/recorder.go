package rollouts

import (
	"cmp"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/runner/store"
)

// decisionBuckets are the upper bounds, in seconds, of the decision-time
// histogram: a pass gathers, decides, persists and applies, from a
// millisecond to seconds when it starts processes.
var decisionBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Recorder counts what a scrape cannot read back from the rollouts: the
// events of each rollout by reason, and how long its decisions take. The
// edges that decide feed it; a nil Recorder records nothing and writes the
// families empty (with the stored markers).
type Recorder struct {
	mu        sync.Mutex
	events    map[eventKey]*eventCount
	decisions map[ID]*histogram
}

type eventKey struct {
	id     ID
	reason string
}

type eventCount struct {
	n    uint64
	last time.Time
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{events: map[eventKey]*eventCount{}, decisions: map[ID]*histogram{}}
}

// Record counts the events one decision pass of a rollout stored and the
// time it took.
func (r *Recorder) Record(id ID, events []store.Event, took time.Duration) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range events {
		k := eventKey{id, e.Reason}
		c := r.events[k]
		if c == nil {
			c = &eventCount{}
			r.events[k] = c
		}
		c.n++
		if e.Time.After(c.last) {
			c.last = e.Time
		}
	}
	h := r.decisions[id]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(decisionBuckets)+1)}
		r.decisions[id] = h
	}
	sec := took.Seconds()
	i, _ := slices.BinarySearch(decisionBuckets, sec)
	h.counts[i]++
	h.sum += sec
	h.n++
}

// Write writes the counts of the rollouts in rs (a deleted rollout's are
// forgotten), with the time of each rollout's last event of each reason
// merged with stored's, its events kept elsewhere: the markers of events
// older than this process, or recorded outside a decision, are there too.
func (r *Recorder) Write(w io.Writer, rs []*v1alpha1.Rollout, name Naming, stored map[ID][]store.Event) {
	last := map[eventKey]time.Time{}
	counts := map[eventKey]uint64{}
	hists := map[ID]histogram{}
	live := map[ID]bool{}
	for _, ro := range rs {
		id := name(ro)
		live[id] = true
		for _, e := range stored[id] {
			if k := (eventKey{id, e.Reason}); e.Time.After(last[k]) {
				last[k] = e.Time
			}
		}
	}
	if r != nil {
		r.mu.Lock()
		for k, c := range r.events {
			switch {
			case !live[k.id]:
				delete(r.events, k)
			default:
				counts[k] = c.n
				if c.last.After(last[k]) {
					last[k] = c.last
				}
			}
		}
		for id, h := range r.decisions {
			if !live[id] {
				delete(r.decisions, id)
				continue
			}
			hists[id] = histogram{counts: slices.Clone(h.counts), sum: h.sum, n: h.n}
		}
		r.mu.Unlock()
	}

	var total, stamps, decided []metrics.Sample
	for _, k := range sortedKeys(counts) {
		total = append(total, metrics.Sample{Labels: k.labels(), Value: float64(counts[k])})
	}
	for _, k := range sortedKeys(last) {
		stamps = append(stamps, metrics.Sample{Labels: k.labels(), Value: float64(last[k].UnixMilli()) / 1000})
	}
	for _, id := range slices.SortedFunc(maps.Keys(hists), compareIDs) {
		decided = append(decided, hists[id].samples(id)...)
	}
	metrics.WriteFamily(w, "fledge_rollout_events_total", "counter", "Events the rollout's decisions recorded since the daemon started, by reason (RolloutStarted, WeightChanged, Promoted, Aborted, ...).", total)
	metrics.WriteFamily(w, "fledge_rollout_event_timestamp_seconds", "gauge", "Unix time of the rollout's last event of each reason: deployment markers (changes() or timestamp() draw them as annotations).", stamps)
	metrics.WriteFamily(w, "fledge_rollout_decision_duration_seconds", "histogram", "Time of one decision pass of a rollout's worker: gather observations, decide, persist, apply.", decided)
}

func (k eventKey) labels() []metrics.Label {
	return k.id.with(metrics.Label{Name: "reason", Value: k.reason})
}

// samples are the histogram's lines: cumulative buckets, sum and count.
func (h histogram) samples(id ID) []metrics.Sample {
	le := func(v string) []metrics.Label { return id.with(metrics.Label{Name: "le", Value: v}) }
	var out []metrics.Sample
	var cum uint64
	for i, b := range decisionBuckets {
		cum += h.counts[i]
		out = append(out, metrics.Sample{Suffix: "_bucket", Labels: le(strconv.FormatFloat(b, 'g', -1, 64)), Value: float64(cum)})
	}
	out = append(out,
		metrics.Sample{Suffix: "_bucket", Labels: le("+Inf"), Value: float64(h.n)},
		metrics.Sample{Suffix: "_sum", Labels: id.labels(), Value: h.sum},
		metrics.Sample{Suffix: "_count", Labels: id.labels(), Value: float64(h.n)})
	return out
}

func compareIDs(a, b ID) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

func sortedKeys[V any](m map[eventKey]V) []eventKey {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b eventKey) int {
		return cmp.Or(compareIDs(a.id, b.id), cmp.Compare(a.reason, b.reason))
	})
	return keys
}
