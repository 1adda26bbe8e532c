package metrics

import (
	"bufio"
	"cmp"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// exportEvery thins the histogram for scrapers: every 4th bound doubles the
// latency, 21 buckets from 100µs to 105s, instead of 81 series per key.
const exportEvery = 4

// WritePrometheus writes every series in the Prometheus text exposition
// format (version 0.0.4): fledge_requests_total, fledge_request_errors_total
// and the fledge_request_duration_seconds histogram, labelled by rollout,
// revision and route. Series are sorted, so the output is stable.
func (r *Registry) WritePrometheus(w io.Writer) {
	snap := r.Snapshot(nil)
	keys := make([]Key, 0, len(snap))
	for k := range snap {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.Rollout, b.Rollout), cmp.Compare(a.Revision, b.Revision), cmp.Compare(a.Route, b.Route))
	})
	bw := bufio.NewWriter(w)
	defer bw.Flush()

	header(bw, "fledge_requests_total", "counter", "Requests served through the proxy, by rollout, revision and route.")
	for _, k := range keys {
		sample(bw, "fledge_requests_total", keyLabels(k), float64(snap[k].Requests))
	}
	header(bw, "fledge_request_errors_total", "counter", "Requests that failed (5xx or no response), by rollout, revision and route.")
	for _, k := range keys {
		sample(bw, "fledge_request_errors_total", keyLabels(k), float64(snap[k].Errors))
	}
	const h = "fledge_request_duration_seconds"
	header(bw, h, "histogram", "Latency of requests through the proxy, in seconds.")
	for _, k := range keys {
		c := snap[k]
		labels := keyLabels(k)
		var cum, total uint64
		for i, n := range c.Buckets {
			cum += n
			if i < len(Buckets) && i%exportEvery == 0 {
				sample(bw, h+"_bucket", append(labels, Label{"le", formatFloat(Buckets[i])}), float64(cum))
			}
		}
		total = cum
		sample(bw, h+"_bucket", append(labels, Label{"le", "+Inf"}), float64(total))
		sample(bw, h+"_sum", labels, c.SumSeconds)
		sample(bw, h+"_count", labels, float64(total))
	}
}

// Label is one name="value" pair of a sample.
type Label struct {
	Name, Value string
}

// Gauge is one sample of a gauge family.
type Gauge struct {
	Labels []Label
	Value  float64
}

// WriteGauges writes one gauge family in the text format, for values that
// are read when scraped rather than counted (a rollout's phase, its weight).
func WriteGauges(w io.Writer, name, help string, gauges []Gauge) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	header(bw, name, "gauge", help)
	for _, g := range gauges {
		sample(bw, name, g.Labels, g.Value)
	}
}

func keyLabels(k Key) []Label {
	return []Label{{"rollout", k.Rollout}, {"revision", k.Revision}, {"route", k.Route}}
}

func header(w *bufio.Writer, name, typ, help string) {
	w.WriteString("# HELP " + name + " " + helpEscaper.Replace(help) + "\n")
	w.WriteString("# TYPE " + name + " " + typ + "\n")
}

func sample(w *bufio.Writer, name string, labels []Label, v float64) {
	w.WriteString(name)
	if len(labels) > 0 {
		w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(l.Name + `="` + labelEscaper.Replace(l.Value) + `"`)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

// The text format escapes backslash and newline everywhere, and the double
// quote inside label values.
var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Sample is one line of a family that WriteFamily writes. Suffix is added
// to the family's name: "_bucket", "_sum" and "_count" for a histogram,
// "" for a counter or a gauge.
type Sample struct {
	Suffix string
	Labels []Label
	Value  float64
}

// WriteFamily writes one family of any type ("counter", "gauge",
// "histogram") in the text format, for values kept outside a Registry (the
// daemon's own counters, its decision times).
func WriteFamily(w io.Writer, name, typ, help string, samples []Sample) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	header(bw, name, typ, help)
	for _, s := range samples {
		sample(bw, name+s.Suffix, s.Labels, s.Value)
	}
}
