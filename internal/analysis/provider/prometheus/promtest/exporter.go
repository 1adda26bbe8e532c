package promtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Exporter is a real metrics endpoint for a test's Prometheus to scrape:
// counters and histogram buckets in the Prometheus text format, on a
// loopback port, changed by the test as an application's would be.
type Exporter struct {
	// Addr is its host:port, a target for Start.
	Addr string

	mu     sync.Mutex
	series map[string]float64 // `name{labels}` -> value
}

// NewExporter serves an empty exporter until the test ends.
func NewExporter(t testing.TB) *Exporter {
	t.Helper()
	e := &Exporter{series: map[string]float64{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(e.text()))
	}))
	t.Cleanup(srv.Close)
	e.Addr = strings.TrimPrefix(srv.URL, "http://")
	return e
}

// Add adds v to a series, written `name{a="b"}` (created at 0).
func (e *Exporter) Add(series string, v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.series[series] += v
}

// Set sets a series to v.
func (e *Exporter) Set(series string, v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.series[series] = v
}

// Observe counts one observation of v in histogram name with the given
// labels (`a="b"`, possibly empty) and bucket bounds: name_bucket{le} for
// every bound at or above v and +Inf, name_count and name_sum.
func (e *Exporter) Observe(name, labels string, bounds []float64, v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sep := ""
	if labels != "" {
		sep = ","
	}
	for _, b := range bounds {
		key := fmt.Sprintf(`%s_bucket{%s%sle="%s"}`, name, labels, sep, strconv.FormatFloat(b, 'g', -1, 64))
		e.series[key] += 0 // every bucket is exposed, as a client library does
		if v <= b {
			e.series[key]++
		}
	}
	e.series[fmt.Sprintf(`%s_bucket{%s%sle="+Inf"}`, name, labels, sep)]++
	e.series[fmt.Sprintf(`%s_count{%s}`, name, labels)]++
	e.series[fmt.Sprintf(`%s_sum{%s}`, name, labels)] += v
}

// Reset sets every series whose text contains match to 0, as a restarted
// process starts its counters again.
func (e *Exporter) Reset(match string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := range e.series {
		if strings.Contains(k, match) {
			e.series[k] = 0
		}
	}
}

// text is the exposition, one series a line, sorted.
func (e *Exporter) text() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	lines := make([]string, 0, len(e.series))
	for k, v := range e.series {
		lines = append(lines, k+" "+strconv.FormatFloat(v, 'g', -1, 64))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
