package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider/prometheus/promtest"
	"fledge.dev/fledge/internal/rollout"
)

// dashboardFile is the Grafana dashboard shipped in the repo.
const dashboardFile = "../../docs/grafana/fledge.json"

// query is a PromQL expression of the dashboard and where it is.
type query struct{ where, expr string }

// dashboardQueries reads every PromQL expression of the dashboard: panel
// targets (rows' panels included), annotations, and the metric of each
// label_values() variable.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Title       string            `json:"title"`
		UID         string            `json:"uid"`
		Panels      []json.RawMessage `json:"panels"`
		Annotations struct {
			List []struct {
				Name string `json:"name"`
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: no title, uid or panels", dashboardFile)
	}
	var out []query
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("panel: %v", err)
			}
			for _, tg := range p.Targets {
				out = append(out, query{"panel " + p.Title, tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out = append(out, query{"annotation " + a.Name, a.Expr})
		}
	}
	labelValues := regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*\w+\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		text, _ := q["query"].(string)
		m := labelValues.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(metric, label)", v.Name, text)
		}
		out = append(out, query{"variable " + v.Name, m[1]})
	}
	return out
}

var (
	promqlStrings = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlBraces  = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlLabels  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlTokens  = regexp.MustCompile(`[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?:ms|[smhdwy])*|[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlWords   = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
		"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "inf", "nan", "Inf", "NaN"}
)

// metricNames are the metrics a PromQL expression selects: what is left
// once strings, matchers, ranges, label lists, numbers, keywords and
// function names are taken out.
func metricNames(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlBraces.ReplaceAllString(s, " ")
	s = promqlLabels.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promqlTokens.FindAllStringIndex(s, -1) {
		tok := s[loc[0]:loc[1]]
		rest := strings.TrimLeft(s[loc[1]:], " \t\n")
		switch {
		case tok[0] >= '0' && tok[0] <= '9', slices.Contains(promqlWords, tok), strings.HasPrefix(rest, "("):
			continue
		}
		if !slices.Contains(names, tok) {
			names = append(names, tok)
		}
	}
	return names
}

// The checker must find the names in the shapes the dashboard uses, or
// the test below proves nothing.
func TestMetricNames(t *testing.T) {
	cases := map[string][]string{
		`histogram_quantile(0.99, sum by (rollout, le) (rate(a_bucket{rollout=~"$rollout"}[$__rate_interval])))`: {"a_bucket"},
		`sum(rate(x_total{a="by (b)"}[5m])) by (c) / on(d) group_left(e) y`:                                      {"x_total", "y"},
		`max by (rollout) ((p{phase="Healthy"} == 1) * 0 + 1 or (p{phase="Paused"} == 1) * 0 + 3)`:               {"p"},
		`changes(ts{reason=~"A|B"}[2m]) > 0`:                                                                     {"ts"},
		`ts{rollout=~"$rollout"} * 1000`:                                                                         {"ts"},
		`1e3 * up offset 5m`:                                                                                     {"up"},
	}
	for expr, want := range cases {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %v, want %v", expr, got, want)
		}
	}
}

// Every query of the Grafana dashboard names metrics that a real daemon
// serves on /metrics, and a real Prometheus scraping that daemon during a
// real release evaluates each one to data.
func TestGrafanaDashboard(t *testing.T) {
	queries := dashboardQueries(t)
	if len(queries) < 10 {
		t.Fatalf("only %d queries in the dashboard", len(queries))
	}

	h := startHost(t)
	h.apply(releaseSpec("v1", h.listen))
	h.await("v1 stable", func(s v1alpha1.RolloutStatus) bool { return s.Phase == v1alpha1.PhaseHealthy })
	h.apply(releaseSpec("v2", h.listen))
	h.await("v2 paused for a human", func(s v1alpha1.RolloutStatus) bool { return s.Phase == v1alpha1.PhasePaused && s.CurrentStepIndex == 2 })
	h.traffic(10)

	served := exported(t, h.scrape())
	for _, q := range queries {
		names := metricNames(q.expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", q.where, q.expr)
		}
		for _, n := range names {
			if !slices.Contains(served, n) {
				t.Errorf("%s: %s is not a metric the daemon exports (%s)", q.where, n, strings.Join(served, ", "))
			}
		}
	}
	if t.Failed() {
		return
	}

	prom := promtest.Start(t, h.api.Addr())
	prom.WaitFor(t, `fledge_rollout_phase{rollout="web"}`, 4)
	// Something happens while Prometheus watches: traffic, then the
	// promotion (a marker, a weight change, a notification).
	h.traffic(10)
	if err := h.d.Command(context.Background(), "web", rollout.CommandPromote); err != nil {
		t.Fatal(err)
	}
	h.await("v2 promoted", func(s v1alpha1.RolloutStatus) bool {
		return s.Phase == v1alpha1.PhaseHealthy && s.StableRevision == "2"
	})
	h.traffic(10)
	h.apply(releaseSpec("v3", h.listen))
	h.await("v3 paused for a human", func(s v1alpha1.RolloutStatus) bool { return s.Phase == v1alpha1.PhasePaused && s.CanaryRevision == "3" })
	if err := h.d.Command(context.Background(), "web", rollout.CommandAbort); err != nil {
		t.Fatal(err)
	}
	h.await("v3 aborted", func(s v1alpha1.RolloutStatus) bool { return s.Phase == v1alpha1.PhaseDegraded })

	grafana := strings.NewReplacer("$__rate_interval", "1m", "$rollout", ".*")
	deadline := time.Now().Add(30 * time.Second)
	for _, q := range queries {
		expr := grafana.Replace(q.expr)
		for {
			n, err := instant(prom.URL, expr)
			if err != nil {
				t.Errorf("%s: Prometheus refuses %q: %v", q.where, expr, err)
				break
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: no data for %q", q.where, expr)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// instant runs an instant query and returns how many series it gave.
func instant(base, expr string) (int, error) {
	resp, err := http.PostForm(base+"/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, &promError{r.Error}
	}
	return len(r.Data.Result), nil
}

type promError struct{ msg string }

func (e *promError) Error() string { return e.msg }
