package dashboard

import (
	"context"
	"math"
	"sync"
	"time"

	"fledge.dev/fledge/internal/metrics"
)

// Point is one version's traffic over one sampling interval.
type Point struct {
	// T is the end of the interval, in Unix seconds (what the charts plot).
	T float64 `json:"t"`
	// RPS is requests per second.
	RPS float64 `json:"rps"`
	// Requests and Errors are the counts of the interval.
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	// ErrorRate, P50Ms and P99Ms are nil when the interval had no request.
	ErrorRate *float64 `json:"errorRate"`
	P50Ms     *float64 `json:"p50Ms"`
	P99Ms     *float64 `json:"p99Ms"`
}

// pointOf turns one interval's counts into a point.
func pointOf(end time.Time, d metrics.Counts, dt time.Duration) Point {
	p := Point{T: float64(end.UnixMilli()) / 1e3, Requests: d.Requests, Errors: d.Errors}
	if dt > 0 {
		p.RPS = float64(d.Requests) / dt.Seconds()
	}
	if d.Requests > 0 {
		p.ErrorRate = ptr(float64(d.Errors) / float64(d.Requests))
	}
	if q := d.Quantile(0.5); !math.IsNaN(q) {
		p.P50Ms = ptr(q * 1e3)
	}
	if q := d.Quantile(0.99); !math.IsNaN(q) {
		p.P99Ms = ptr(q * 1e3)
	}
	return p
}

func ptr(f float64) *float64 { return &f }

// version is a (rollout, revision) pair: the unit the charts draw.
type version struct{ rollout, revision string }

// Sampler reads the proxies' cumulative counters at a fixed interval and
// keeps, per rollout and revision, a window of points: the counters only
// say "so far", the charts need "over time". It is a runnable: Start
// samples until its context ends.
type Sampler struct {
	reg       *metrics.Registry
	interval  time.Duration
	retention time.Duration

	mu      sync.Mutex
	started bool
	last    time.Time
	prev    map[version]metrics.Counts
	points  map[version][]Point
	changed chan struct{} // closed (and replaced) after each sample
}

// NewSampler samples reg every interval and keeps retention of points.
func NewSampler(reg *metrics.Registry, interval, retention time.Duration) *Sampler {
	return &Sampler{
		reg: reg, interval: interval, retention: retention,
		prev: map[version]metrics.Counts{}, points: map[version][]Point{}, changed: make(chan struct{}),
	}
}

// Start samples until ctx ends.
func (s *Sampler) Start(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	s.Sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s.Sample(now)
		}
	}
}

// Sample reads the counters once. The first call only takes the baseline,
// so that traffic from before the dashboard started is not drawn as one
// spike; a version that appears later starts from zero.
func (s *Sampler) Sample(now time.Time) {
	cur := map[version]metrics.Counts{}
	if s.reg != nil {
		for k, c := range s.reg.Snapshot(nil) {
			v := version{k.Rollout, k.Revision}
			cur[v] = cur[v].Add(c) // the routes of a version, summed
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		dt := now.Sub(s.last)
		for v, c := range cur {
			prev := s.prev[v]
			if c.Requests < prev.Requests { // forgotten and counted anew
				prev = metrics.Counts{}
			}
			s.points[v] = append(s.points[v], pointOf(now, c.Sub(prev), dt))
		}
	}
	s.started, s.last, s.prev = true, now, cur
	s.trim(now)
	close(s.changed)
	s.changed = make(chan struct{})
}

// trim drops points older than the retention, and versions left with none.
func (s *Sampler) trim(now time.Time) {
	oldest := float64(now.Add(-s.retention).UnixMilli()) / 1e3
	for v, ps := range s.points {
		i := 0
		for i < len(ps) && ps[i].T < oldest {
			i++
		}
		if i == len(ps) {
			delete(s.points, v)
			continue
		}
		s.points[v] = ps[i:]
	}
}

// Changed is closed after the next sample.
func (s *Sampler) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Series returns a rollout's points after since (Unix seconds), per revision.
func (s *Sampler) Series(rollout string, since float64) map[string][]Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]Point{}
	for v, ps := range s.points {
		if v.rollout != rollout {
			continue
		}
		var keep []Point
		for _, p := range ps {
			if p.T > since {
				keep = append(keep, p)
			}
		}
		if len(keep) > 0 {
			out[v.revision] = keep
		}
	}
	return out
}

// Observed counts a rollout's requests per revision over the last window:
// the traffic split the users actually got.
func (s *Sampler) Observed(rollout string, window time.Duration) map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := float64(s.last.Add(-window).UnixMilli()) / 1e3
	out := map[string]uint64{}
	for v, ps := range s.points {
		if v.rollout != rollout {
			continue
		}
		for _, p := range ps {
			if p.T > since {
				out[v.revision] += p.Requests
			}
		}
	}
	return out
}
