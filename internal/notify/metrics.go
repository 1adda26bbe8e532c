package notify

import (
	"cmp"
	"io"
	"maps"
	"slices"

	"fledge.dev/fledge/internal/metrics"
)

// Stats are the counts of one sink.
type Stats struct {
	Kind Kind
	// Target is the scheme and host of its URL.
	Target string
	// Sent were delivered; Failed were given up on (after the last attempt,
	// or at an answer retrying would not change); Dropped were never tried
	// (the queue was full, or the daemon stopped).
	Sent, Failed, Dropped uint64
	// Queued wait to be sent.
	Queued int
}

// Stats returns the counts of every sink, the rollouts' own included (and
// those stopped when idle), those of sinks with the same kind and target
// added up, sorted.
func (n *Notifier) Stats() []Stats {
	byTarget := map[[2]string]*Stats{}
	var out []*Stats
	add := func(kind Kind, target string, sent, failed, dropped uint64, queued int) {
		key := [2]string{string(kind), target}
		st := byTarget[key]
		if st == nil {
			st = &Stats{Kind: kind, Target: target}
			byTarget[key] = st
			out = append(out, st)
		}
		st.Sent += sent
		st.Failed += failed
		st.Dropped += dropped
		st.Queued += queued
	}
	n.mu.Lock()
	sinks := slices.Concat(n.sinks, slices.Collect(maps.Values(n.pool)))
	for _, r := range n.retired {
		add(r.Kind, r.Target, r.Sent, r.Failed, r.Dropped, 0)
	}
	n.mu.Unlock()
	for _, s := range sinks {
		add(s.Kind, Redact(s.URL), s.sent.Load(), s.failed.Load(), s.dropped.Load(), s.queued())
	}
	slices.SortFunc(out, func(a, b *Stats) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Target, b.Target)) })
	res := make([]Stats, len(out))
	for i, s := range out {
		res[i] = *s
	}
	return res
}

// WritePrometheus writes the notifier's counters in the Prometheus text
// format, labelled by sink kind and target (scheme and host).
func (n *Notifier) WritePrometheus(w io.Writer) {
	stats := n.Stats()
	family := func(name, typ, help string, value func(Stats) float64) {
		samples := make([]metrics.Sample, len(stats))
		for i, s := range stats {
			samples[i] = metrics.Sample{Labels: []metrics.Label{{Name: "kind", Value: string(s.Kind)}, {Name: "target", Value: s.Target}}, Value: value(s)}
		}
		metrics.WriteFamily(w, name, typ, help, samples)
	}
	family("fledge_notifications_sent_total", "counter", "Notifications delivered, by sink.", func(s Stats) float64 { return float64(s.Sent) })
	family("fledge_notifications_failed_total", "counter", "Notifications given up on after their last attempt, by sink.", func(s Stats) float64 { return float64(s.Failed) })
	family("fledge_notifications_dropped_total", "counter", "Notifications dropped unsent: the sink's queue was full, or the daemon stopped.", func(s Stats) float64 { return float64(s.Dropped) })
	family("fledge_notifications_queued", "gauge", "Notifications waiting to be sent, by sink.", func(s Stats) float64 { return float64(s.Queued) })
}
