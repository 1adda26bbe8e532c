package builtin

import (
	"runtime"
	"testing"
	"time"
	"weak"

	"fledge.dev/fledge/internal/metrics"
)

// counted is a snapshot whose one series has seen n requests.
func counted(n uint64) map[metrics.Key]metrics.Counts {
	return map[metrics.Key]metrics.Counts{{Rollout: "web", Revision: "1", Route: "GET /"}: {Requests: n}}
}

func requests(s snapshot) uint64 {
	return s.counts[metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}].Requests
}

// TestHistoryThins records three hours of one snapshot a second, with a
// measured window ending every 10 minutes, and checks what is kept.
func TestHistoryThins(t *testing.T) {
	h := &history{}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const seconds = 3 * 3600
	for i := 0; i <= seconds; i++ {
		h.record(start.Add(time.Duration(i)*time.Second), counted(uint64(i)), i%600 == 7)
	}
	now := start.Add(seconds * time.Second)

	// 120 a second, 112 of 15s, (3h - 30m) / 5m = 30, plus marks: bounded.
	if n := len(h.snaps); n < 250 || n > 300 {
		t.Errorf("kept %d snapshots of %d, want about 120 + 112 + 30 + marks", n, seconds+1)
	}
	for i := 1; i < len(h.snaps); i++ {
		if h.snaps[i].at.Before(h.snaps[i-1].at) || requests(h.snaps[i]) < requests(h.snaps[i-1]) {
			t.Fatalf("snapshot %d goes back in time or counts", i)
		}
	}
	tests := map[string]struct {
		at   time.Time
		want time.Time
	}{
		"recent: every second":     {at: now.Add(-90*time.Second - 300*time.Millisecond), want: now.Add(-91 * time.Second)},
		"within 30m: every 15s":    {at: now.Add(-25*time.Minute + 10*time.Second), want: now.Add(-25 * time.Minute)},
		"older: every 5m":          {at: now.Add(-115*time.Minute + time.Minute), want: now.Add(-115 * time.Minute)},
		"a mark is kept exactly":   {at: start.Add(2*time.Hour + 7*time.Second), want: start.Add(2*time.Hour + 7*time.Second)},
		"before the history":       {at: start.Add(-time.Hour), want: start},
		"the start of the history": {at: start, want: start},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := h.before(tc.at); !got.at.Equal(tc.want) || requests(got) != uint64(got.at.Sub(start)/time.Second) {
				t.Errorf("before(now%v) = now%v, want now%v", tc.at.Sub(now), got.at.Sub(now), tc.want.Sub(now))
			}
		})
	}

	// Twelve hours later only what the last tier keeps is left.
	h.record(now.Add(13*time.Hour), counted(seconds+1), false)
	if n := len(h.snaps); n != 1 {
		t.Errorf("after 13 idle hours kept %d snapshots, want only the new one", n)
	}
}

// TestHistoryOrder checks that a snapshot is never stored before a later
// one: a window end in the future holds the sampler's times back.
func TestHistoryOrder(t *testing.T) {
	reg := metrics.New()
	h := &history{}
	now := time.Now()
	h.record(now, reg.Snapshot(nil), false)
	_, to := h.window(reg, now, now.Add(time.Minute))
	if !to.mark || !to.at.Equal(now.Add(time.Minute)) {
		t.Fatalf("window end %+v, want a mark at now+1m", to)
	}
	h.record(now.Add(time.Second), reg.Snapshot(nil), false)
	if got := h.snaps[len(h.snaps)-1].at; got.Before(now.Add(time.Minute)) {
		t.Errorf("a later sample stored at now%v, before the window end", got.Sub(now))
	}
	// An end older than the history is read from it.
	from, to := h.window(reg, now.Add(-time.Hour), now.Add(time.Millisecond))
	if !from.at.Equal(now) || !to.at.Equal(now) {
		t.Errorf("window (now-1h, now+1ms) = (now%v, now%v), want (now, now)", from.at.Sub(now), to.at.Sub(now))
	}
}

// TestWindowEndRacesTheSampler checks that a window ending now keeps its
// requests when the sampler snapshots between the measurement's reading of
// the clock and its asking for the window: on a history that young the
// snapshot before the end is the one the window starts from.
func TestWindowEndRacesTheSampler(t *testing.T) {
	reg := metrics.New()
	h := &history{}
	start := time.Now()
	h.record(start, reg.Snapshot(nil), false)
	key := metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}
	for range 5 {
		reg.Observe(key, false, time.Millisecond)
	}
	end := time.Now()
	for !time.Now().After(end) {
	}
	h.record(time.Now(), reg.Snapshot(nil), false) // the sampler's tick
	from, to := h.window(reg, start, end)
	if got := requests(to) - requests(from); got != 5 {
		t.Errorf("window (start, end) holds %d requests, want the 5 sent", got)
	}
	if !to.at.After(end) {
		t.Errorf("window end stamped end%v, want the time the snapshot was taken (after end)", to.at.Sub(end))
	}
}

// TestSamplerStopsWithRegistry checks that the sampler of a registry nobody
// uses any more stops.
func TestSamplerStopsWithRegistry(t *testing.T) {
	reg := metrics.New()
	historyOf(reg)
	wp := weak.Make(reg)
	if historyOf(reg) != historyOf(reg) {
		t.Fatal("two histories for one registry")
	}
	reg = nil
	deadline := time.Now().Add(10 * sampleEvery)
	for {
		runtime.GC()
		samplers.Lock()
		_, running := samplers.m[wp]
		samplers.Unlock()
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the sampler still runs after its registry was collected")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
