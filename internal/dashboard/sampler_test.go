package dashboard

import (
	"math"
	"testing"
	"time"

	"fledge.dev/fledge/internal/metrics"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The first sample is a baseline: traffic from before the dashboard is not
// drawn as one spike. Each later sample is the interval's rates, the
// routes of a version summed.
func TestSamplerRates(t *testing.T) {
	reg := metrics.New()
	web1 := metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}
	for range 500 {
		reg.Observe(web1, false, time.Millisecond) // before the dashboard
	}
	s := NewSampler(reg, time.Second, time.Minute)
	t0 := time.Unix(1_000_000, 0)
	s.Sample(t0)
	if got := s.Series("web", 0); len(got) != 0 {
		t.Fatalf("the baseline drew points: %v", got)
	}
	for i := range 80 {
		reg.Observe(web1, false, 10*time.Millisecond)
		reg.Observe(metrics.Key{Rollout: "web", Revision: "1", Route: "POST /login"}, i < 20, 10*time.Millisecond)
	}
	for range 10 {
		reg.Observe(metrics.Key{Rollout: "web", Revision: "2", Route: "GET /"}, false, 200*time.Millisecond)
	}
	reg.Observe(metrics.Key{Rollout: "api", Revision: "7", Route: "GET /"}, false, time.Millisecond)
	s.Sample(t0.Add(2 * time.Second))

	series := s.Series("web", 0)
	if len(series) != 2 || len(series["1"]) != 1 || len(series["2"]) != 1 {
		t.Fatalf("want one point for each of revisions 1 and 2 of web, got %v", series)
	}
	p := series["1"][0]
	if p.T != 1_000_002 || p.Requests != 160 || p.Errors != 20 || !near(p.RPS, 80, 1e-9) || !near(*p.ErrorRate, 0.125, 1e-9) {
		t.Errorf("revision 1: %+v", p)
	}
	// The histogram's buckets are within 19% of the truth.
	if !near(*p.P50Ms, 10, 2) || !near(*p.P99Ms, 10, 2) {
		t.Errorf("revision 1 latency p50 %v p99 %v, want about 10ms", *p.P50Ms, *p.P99Ms)
	}
	if q := series["2"][0]; !near(*q.P99Ms, 200, 40) || *q.ErrorRate != 0 {
		t.Errorf("revision 2: %+v", q)
	}
	if got := s.Observed("web", 10*time.Second); got["1"] != 160 || got["2"] != 10 || len(got) != 2 {
		t.Errorf("observed %v", got)
	}
}

// An interval without requests is a zero rate with no error rate or
// latency (nothing to measure), not a zero error rate.
func TestSamplerIdleInterval(t *testing.T) {
	reg := metrics.New()
	k := metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}
	reg.Observe(k, false, time.Millisecond)
	s := NewSampler(reg, time.Second, time.Minute)
	t0 := time.Unix(1_000_000, 0)
	s.Sample(t0)
	s.Sample(t0.Add(time.Second))
	p := s.Series("web", 0)["1"][0]
	if p.RPS != 0 || p.ErrorRate != nil || p.P50Ms != nil || p.P99Ms != nil {
		t.Errorf("idle point %+v", p)
	}
}

// A version forgotten and counted anew starts from zero, not from a
// negative difference.
func TestSamplerForgottenVersion(t *testing.T) {
	reg := metrics.New()
	k := metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}
	for range 100 {
		reg.Observe(k, false, time.Millisecond)
	}
	s := NewSampler(reg, time.Second, time.Minute)
	t0 := time.Unix(1_000_000, 0)
	s.Sample(t0)
	reg.Forget("web", "1")
	for range 3 {
		reg.Observe(k, false, time.Millisecond)
	}
	s.Sample(t0.Add(time.Second))
	if p := s.Series("web", 0)["1"][0]; p.Requests != 3 {
		t.Errorf("want the 3 new requests, got %+v", p)
	}
}

func TestSamplerRetentionAndSince(t *testing.T) {
	reg := metrics.New()
	reg.Observe(metrics.Key{Rollout: "web", Revision: "1", Route: "GET /"}, false, time.Millisecond)
	s := NewSampler(reg, time.Second, 10*time.Second)
	t0 := time.Unix(1_000_000, 0)
	for i := range 30 {
		s.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	ps := s.Series("web", 0)["1"]
	if len(ps) != 11 || ps[0].T != 1_000_019 || ps[len(ps)-1].T != 1_000_029 {
		t.Fatalf("want the last 10s of points, got %d from %v", len(ps), ps[0].T)
	}
	if got := s.Series("web", 1_000_027)["1"]; len(got) != 2 {
		t.Errorf("since: want the 2 points after it, got %d", len(got))
	}
}

func TestSamplerChanged(t *testing.T) {
	s := NewSampler(metrics.New(), time.Second, time.Minute)
	ch := s.Changed()
	select {
	case <-ch:
		t.Fatal("closed before any sample")
	default:
	}
	s.Sample(time.Now())
	select {
	case <-ch:
	default:
		t.Fatal("not closed after a sample")
	}
}

func TestSamplerWithoutMetrics(t *testing.T) {
	s := NewSampler(nil, time.Second, time.Minute)
	s.Sample(time.Now())
	s.Sample(time.Now())
	if got := s.Series("web", 0); len(got) != 0 {
		t.Errorf("points without a registry: %v", got)
	}
}
