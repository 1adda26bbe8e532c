package builtin

import (
	"sort"
	"sync"
	"time"
	"weak"

	"fledge.dev/fledge/internal/metrics"
)

// sampleEvery is the sampler's period.
const sampleEvery = time.Second

// tiers say how densely the history keeps snapshots as they age: all of
// them up to the first age, then the first of each period.
var tiers = []struct{ upTo, every time.Duration }{
	{2 * time.Minute, 0},
	{30 * time.Minute, 15 * time.Second},
	{12 * time.Hour, 5 * time.Minute},
}

// maxMarks bounds the window ends kept exactly, beyond the densest tier.
const maxMarks = 256

// snapshot is the cumulative counters of every series at a time.
type snapshot struct {
	at     time.Time
	counts map[metrics.Key]metrics.Counts
	// mark says the snapshot ends a measured window: the next window of the
	// same metric starts there, so it is kept beyond its tier's density.
	mark bool
}

// history is the snapshots of one registry, oldest first. Snapshots are
// taken under mu in the order they are stored, so counters never decrease
// along it (except across metrics.Registry.Forget, which the window
// arithmetic tolerates).
type history struct {
	mu    sync.Mutex
	snaps []snapshot
}

// samplers holds the history of each registry a provider was built on.
var samplers = struct {
	sync.Mutex
	m map[weak.Pointer[metrics.Registry]]*history
}{m: map[weak.Pointer[metrics.Registry]]*history{}}

// historyOf returns the history of reg, starting its sampler on first use.
func historyOf(reg *metrics.Registry) *history {
	wp := weak.Make(reg)
	samplers.Lock()
	defer samplers.Unlock()
	if h := samplers.m[wp]; h != nil {
		return h
	}
	h := &history{}
	h.record(time.Now(), reg.Snapshot(nil), false)
	samplers.m[wp] = h
	go h.sample(wp)
	return h
}

// sample snapshots the registry every second until it is collected.
func (h *history) sample(wp weak.Pointer[metrics.Registry]) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for range t.C {
		if !h.tick(wp) {
			samplers.Lock()
			delete(samplers.m, wp)
			samplers.Unlock()
			return
		}
	}
}

// tick takes one snapshot; false once the registry is gone.
func (h *history) tick(wp weak.Pointer[metrics.Registry]) bool {
	reg := wp.Value()
	if reg == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.record(time.Now(), reg.Snapshot(nil), false)
	return true
}

// window returns the snapshots bounding [start, end]: a fresh one when end
// is now (the usual case), else the one at or before end; and the one at
// or before start (the oldest when start is older than the history).
//
// End is now when it is not older than the history, or when it is less
// than a sampling period old: the measurement read the clock, and the
// sampler snapshotted before the window was asked for. Taking the
// sampler's predecessor then would cut up to a second off the window, all
// of it when the history is that young (a run resumed after a restart,
// whose first window would hold no request). The fresh snapshot is
// stamped with the time it is taken, so the window's length stays true.
func (h *history) window(reg *metrics.Registry, start, end time.Time) (from, to snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	last, now := h.snaps[len(h.snaps)-1], time.Now()
	switch {
	case !end.Before(last.at):
		to = snapshot{at: end, counts: reg.Snapshot(nil), mark: true}
		h.record(to.at, to.counts, true)
	case now.Sub(end) < sampleEvery && !last.at.After(now):
		to = snapshot{at: now, counts: reg.Snapshot(nil), mark: true}
		h.record(to.at, to.counts, true)
	default:
		to = h.before(end)
	}
	from = h.before(start)
	if from.at.After(to.at) {
		from = to
	}
	return from, to
}

// before returns the latest snapshot at or before t, or the oldest one.
func (h *history) before(t time.Time) snapshot {
	i := sort.Search(len(h.snaps), func(i int) bool { return h.snaps[i].at.After(t) })
	if i == 0 {
		return h.snaps[0]
	}
	return h.snaps[i-1]
}

// record appends a snapshot (never before the last one, so that the order
// of times is the order of counts) and thins the history. h.mu is held.
func (h *history) record(at time.Time, counts map[metrics.Key]metrics.Counts, mark bool) {
	if n := len(h.snaps); n > 0 && at.Before(h.snaps[n-1].at) {
		at = h.snaps[n-1].at
	}
	h.snaps = append(h.snaps, snapshot{at: at, counts: counts, mark: mark})
	h.thin(at)
}

// thin drops the snapshots the tiers do not keep. Keeping the first of
// each period makes the choice stable: a snapshot kept once stays kept
// until it is too old for its tier's next, coarser period.
func (h *history) thin(now time.Time) {
	marks := 0
	for _, s := range h.snaps {
		if s.mark {
			marks++
		}
	}
	kept := h.snaps[:0]
	lastPeriod := make([]int64, len(tiers))
	for i := range lastPeriod {
		lastPeriod[i] = -1
	}
	for _, s := range h.snaps {
		if s.mark {
			marks--
		}
		tier := -1
		for i, t := range tiers {
			if now.Sub(s.at) < t.upTo {
				tier = i
				break
			}
		}
		switch {
		case tier < 0: // too old
			continue
		case tiers[tier].every == 0:
		case s.mark && marks < maxMarks: // among the newest marks
		default:
			p := s.at.UnixNano() / int64(tiers[tier].every)
			if p == lastPeriod[tier] {
				continue
			}
			lastPeriod[tier] = p
		}
		kept = append(kept, s)
	}
	clear(h.snaps[len(kept):])
	h.snaps = kept
}

// sum returns the counts of the series keep selects over the window from
// -> to.
func sum(from, to snapshot, keep func(metrics.Key) bool) metrics.Counts {
	var total metrics.Counts
	for k, c := range to.counts {
		if !keep(k) {
			continue
		}
		if prev, ok := from.counts[k]; ok && c.Requests >= prev.Requests {
			c = c.Sub(prev)
		} // else the series is new in the window, or was forgotten and started again
		total = total.Add(c)
	}
	return total
}
