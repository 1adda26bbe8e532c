package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWritePrometheusParses(t *testing.T) {
	r := New()
	web := Key{Rollout: "web", Revision: "2", Route: "GET /login"}
	odd := Key{Rollout: "web", Revision: "1", Route: "GET /a\"b\\c\nd"}
	r.Observe(web, false, 150*time.Microsecond) // between the first two exported bounds
	r.Observe(web, true, time.Second)
	r.Observe(web, false, 200*time.Second) // beyond the last bound: +Inf only
	r.Observe(odd, false, time.Millisecond)

	var buf bytes.Buffer
	r.WritePrometheus(&buf)
	fams, err := parseText(buf.String())
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, buf.String())
	}
	if got := fams["fledge_requests_total"].typ; got != "counter" {
		t.Errorf("fledge_requests_total type %q", got)
	}
	webLabels := `revision="2",rollout="web",route="GET /login"`
	oddLabels := `revision="1",rollout="web",route="GET /a\"b\\c\nd"` // no comma inside
	checks := map[string]struct {
		family, labels string
		want           float64
	}{
		"requests":            {"fledge_requests_total", webLabels, 3},
		"errors":              {"fledge_request_errors_total", webLabels, 1},
		"escaped route":       {"fledge_requests_total", oddLabels, 1},
		"first bound":         {"fledge_request_duration_seconds_bucket", webLabels + `,le="0.0001"`, 0},
		"second bound":        {"fledge_request_duration_seconds_bucket", webLabels + `,le="0.0002"`, 1},
		"last finite bound":   {"fledge_request_duration_seconds_bucket", webLabels + `,le="104.8576"`, 2},
		"+Inf":                {"fledge_request_duration_seconds_bucket", webLabels + `,le="+Inf"`, 3},
		"count":               {"fledge_request_duration_seconds_count", webLabels, 3},
		"sum":                 {"fledge_request_duration_seconds_sum", webLabels, 201.00015},
		"escaped route count": {"fledge_request_duration_seconds_count", oddLabels, 1},
	}
	for name, c := range checks {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(c.family, "_bucket"), "_sum"), "_count")
		labels := strings.Split(c.labels, ",")
		sort.Strings(labels)
		got, ok := fams[base].samples[c.family+"{"+strings.Join(labels, ",")+"}"]
		if !ok {
			t.Errorf("%s: no sample %s{%s}", name, c.family, c.labels)
			continue
		}
		if math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: %s{%s} = %v, want %v", name, c.family, c.labels, got, c.want)
		}
	}
	if n := strings.Count(buf.String(), "fledge_request_duration_seconds_bucket{rollout=\"web\",revision=\"2\""); n != 22 {
		t.Errorf("%d buckets exported per series, want 21 bounds and +Inf", n)
	}
}

func TestWriteGaugesParses(t *testing.T) {
	var buf bytes.Buffer
	WriteGauges(&buf, "fledge_rollout_canary_weight", "Weight\\of the canary\nin percent.", []Gauge{
		{Labels: []Label{{"rollout", `we"b`}}, Value: 25},
	})
	fams, err := parseText(buf.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	f := fams["fledge_rollout_canary_weight"]
	if f.typ != "gauge" || f.samples[`fledge_rollout_canary_weight{rollout="we\"b"}`] != 25 {
		t.Errorf("parsed %+v from\n%s", f, buf.String())
	}
}

// family is what parseText learned of one metric family.
type family struct {
	typ     string
	samples map[string]float64 // name{sorted labels} -> value
}

// parseText checks text in the Prometheus exposition format strictly enough
// to catch what a scraper rejects: a sample before its TYPE, a family
// declared twice, a bad name, label or escape, a value that is not a float,
// histogram buckets that are not cumulative or disagree with _count.
func parseText(text string) (map[string]*family, error) {
	fams := map[string]*family{}
	var cur string
	sc := bufio.NewScanner(strings.NewReader(text))
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			f := strings.SplitN(l, " ", 4)
			if len(f) < 4 || !validName(f[2]) {
				return nil, fmt.Errorf("line %d: bad comment %q", line, l)
			}
			if f[1] == "TYPE" {
				if _, dup := fams[f[2]]; dup {
					return nil, fmt.Errorf("line %d: family %s declared twice", line, f[2])
				}
				switch f[3] {
				case "counter", "gauge", "histogram", "summary", "untyped":
				default:
					return nil, fmt.Errorf("line %d: bad type %q", line, f[3])
				}
				fams[f[2]] = &family{typ: f[3], samples: map[string]float64{}}
				cur = f[2]
			}
			continue
		}
		name, labels, value, err := parseSample(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v: %q", line, err, l)
		}
		f := fams[cur]
		base := name
		if f != nil && f.typ == "histogram" {
			base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		}
		if f == nil || base != cur {
			return nil, fmt.Errorf("line %d: sample %s outside its family (TYPE missing)", line, name)
		}
		key := name + "{" + strings.Join(labels, ",") + "}"
		if _, dup := f.samples[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate sample %s", line, key)
		}
		f.samples[key] = value
	}
	for name, f := range fams {
		if f.typ == "histogram" {
			if err := checkHistogram(name, f); err != nil {
				return nil, err
			}
		}
	}
	return fams, nil
}

func validName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// parseSample reads `name{a="x",b="y"} value`, returning labels sorted as
// `a="x"` with their escapes kept.
func parseSample(l string) (string, []string, float64, error) {
	i := strings.IndexAny(l, "{ ")
	if i <= 0 || !validName(l[:i]) {
		return "", nil, 0, fmt.Errorf("bad metric name")
	}
	name, rest := l[:i], l[i:]
	var labels []string
	if rest[0] == '{' {
		rest = rest[1:]
		for rest != "" && rest[0] != '}' {
			eq := strings.Index(rest, `="`)
			if eq <= 0 || !validName(rest[:eq]) {
				return "", nil, 0, fmt.Errorf("bad label name")
			}
			j := eq + 2
			for ; j < len(rest) && rest[j] != '"'; j++ {
				if rest[j] == '\\' {
					if j+1 >= len(rest) || !strings.ContainsRune(`\"n`, rune(rest[j+1])) {
						return "", nil, 0, fmt.Errorf("bad escape in label value")
					}
					j++
				}
			}
			if j >= len(rest) {
				return "", nil, 0, fmt.Errorf("unterminated label value")
			}
			labels = append(labels, rest[:j+1])
			rest = rest[j+1:]
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
			}
		}
		if rest == "" {
			return "", nil, 0, fmt.Errorf("unterminated labels")
		}
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, " ") {
		return "", nil, 0, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
	if err != nil {
		return "", nil, 0, fmt.Errorf("bad value: %v", err)
	}
	sort.Strings(labels)
	return name, labels, v, nil
}

// checkHistogram checks that each series' buckets grow with le and end in
// +Inf equal to _count.
func checkHistogram(name string, f *family) error {
	type bucket struct{ le, n float64 }
	series := map[string][]bucket{}
	for key, v := range f.samples {
		if !strings.HasPrefix(key, name+"_bucket{") {
			continue
		}
		var le float64
		var rest []string
		for _, l := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(key, name+"_bucket{"), "}"), ",") {
			if strings.HasPrefix(l, `le="`) {
				var err error
				if le, err = strconv.ParseFloat(strings.Trim(l[3:], `"`), 64); err != nil {
					return fmt.Errorf("%s: bad le in %s", name, key)
				}
				continue
			}
			rest = append(rest, l)
		}
		id := strings.Join(rest, ",")
		series[id] = append(series[id], bucket{le, v})
	}
	for id, bs := range series {
		sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
		for i := 1; i < len(bs); i++ {
			if bs[i].n < bs[i-1].n {
				return fmt.Errorf("%s{%s}: bucket le=%v has %v < %v", name, id, bs[i].le, bs[i].n, bs[i-1].n)
			}
		}
		last := bs[len(bs)-1]
		count, ok := f.samples[name+"_count{"+id+"}"]
		if !math.IsInf(last.le, 1) || !ok || count != last.n {
			return fmt.Errorf("%s{%s}: +Inf bucket %v, count %v", name, id, last, count)
		}
		if _, ok := f.samples[name+"_sum{"+id+"}"]; !ok {
			return fmt.Errorf("%s{%s}: no _sum", name, id)
		}
	}
	return nil
}

// The checker itself must reject what a scraper rejects, or the tests above
// prove nothing.
func TestParseTextRejects(t *testing.T) {
	cases := map[string]string{
		"no TYPE":           "x_total 1\n",
		"raw quote":         "# TYPE x gauge\nx{a=\"b\"c\"} 1\n",
		"bad escape":        "# TYPE x gauge\nx{a=\"b\\tc\"} 1\n",
		"bad value":         "# TYPE x gauge\nx 1,5\n",
		"not cumulative":    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
		"count disagrees":   "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
		"declared twice":    "# TYPE x gauge\n# TYPE x gauge\n",
		"other family":      "# TYPE x gauge\ny 1\n",
		"unterminated":      "# TYPE x gauge\nx{a=\"b} 1\n",
		"duplicate samples": "# TYPE x gauge\nx{a=\"b\"} 1\nx{a=\"b\"} 2\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := parseText(text); err == nil {
				t.Errorf("accepted %q", text)
			}
		})
	}
}

// BenchmarkWritePrometheus measures a scrape of 2 revisions × 64 routes.
func BenchmarkWritePrometheus(b *testing.B) {
	r := New()
	for rev := 0; rev < 2; rev++ {
		for route := 0; route < MaxRoutes; route++ {
			r.Observe(Key{Rollout: "web", Revision: fmt.Sprint(rev), Route: fmt.Sprintf("GET /r%d", route)}, false, time.Millisecond)
		}
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		r.WritePrometheus(&buf)
	}
	b.ReportMetric(float64(buf.Len()), "bytes/scrape")
}
