package stats

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"fledge.dev/fledge/internal/metrics"
)

// TestDecide walks the decision's ordered checks: never pass (nor fail) on
// no data or too little traffic, hold while the bound is above
// PassRelativeRisk, fail for the right reason, pass only with evidence.
func TestDecide(t *testing.T) {
	noLatency := Config{Latency: LatencyConfig{Disabled: true}}
	repeat := func(n int, w Window) []Window {
		out := make([]Window, n)
		for i := range out {
			out[i] = w
		}
		return out
	}
	tests := map[string]struct {
		cfg     Config
		windows []Window
		verdict Verdict
		reason  Reason
		says    string
	}{
		"nothing yet": {
			cfg: noLatency, verdict: Wait, reason: ReasonNoData, says: "no data",
		},
		"stable only": {
			cfg: noLatency, windows: repeat(10, win(0, 0, 1000, 1)), verdict: Wait, reason: ReasonNoData,
		},
		"a handful of requests": {
			cfg: noLatency, windows: repeat(5, win(10, 0, 190, 0)), verdict: Wait, reason: ReasonTooLittle, says: "50 of the 100",
		},
		"no failures on either version": {
			cfg: noLatency, windows: repeat(20, win(10, 0, 190, 0)), verdict: Pass, reason: ReasonWithinTolerance, says: "no failures on either version",
		},
		"few failures: the bound is too wide": {
			cfg: noLatency, windows: repeat(20, win(10, 0, 190, 1)), verdict: Wait, reason: ReasonUncertain, says: "could be up to",
		},
		"enough failures, the same rate": {
			cfg: noLatency, windows: repeat(400, win(100, 1, 1900, 19)), verdict: Pass, reason: ReasonWithinTolerance, says: "relative risk of failures ≤",
		},
		"twice the failures, tolerated up to 3×": {
			cfg:     Config{MaxRelativeRisk: 3, PassRelativeRisk: 4, Latency: LatencyConfig{Disabled: true}},
			windows: repeat(400, win(100, 2, 1900, 19)), verdict: Pass, reason: ReasonWithinTolerance,
		},
		"twice the failures, no worse tolerated": {
			cfg: noLatency, windows: repeat(400, win(100, 2, 1900, 19)), verdict: Fail, reason: ReasonErrors, says: "errors: the canary fails",
		},
		"a bad canary": {
			cfg: Config{}, windows: repeat(10, win(10, 1, 190, 0)), verdict: Fail, reason: ReasonErrors,
		},
		"latency on, no histograms": {
			cfg: Config{}, windows: repeat(20, win(10, 0, 190, 0)), verdict: Wait, reason: ReasonUncertain, says: "no slow-request threshold yet",
		},
		"budget before statistics": {
			cfg: Config{MaxCanaryFailures: 1}, windows: repeat(2, win(100, 3, 1900, 19)), verdict: Fail, reason: ReasonBudget, says: "budget exhausted",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j := mustNew(t, tc.cfg)
			mustAdd(t, j, tc.windows...)
			d := j.Decide()
			if d.Verdict != tc.verdict || d.Reason != tc.reason || !strings.Contains(d.Message, tc.says) {
				t.Fatalf("%s %s %q, want %s %s saying %q", d.Verdict, d.Reason, d.Message, tc.verdict, tc.reason, tc.says)
			}
			if d.HoldWeight() != (d.Verdict != Pass) {
				t.Fatalf("%s holds the weight: %v", d.Verdict, d.HoldWeight())
			}
			if _, err := json.Marshal(d); err != nil {
				t.Fatalf("decision does not marshal: %v", err)
			}
		})
	}
}

// TestResume checks that a judge restored from its JSON state decides
// exactly as one that never stopped, and that a state saved for another
// tolerance is refused.
func TestResume(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	windows := make([]Window, 300)
	for i := range windows {
		nc, ns := poisson(rng, 10), poisson(rng, 190)
		windows[i] = Window{
			Canary: metrics.Counts{Requests: nc, Errors: binomial(rng, nc, 0.02), Buckets: latencies(rng, nc, 0.06)},
			Stable: metrics.Counts{Requests: ns, Errors: binomial(rng, ns, 0.01), Buckets: latencies(rng, ns, 0.05)},
		}
	}
	cfg := Config{MaxCanaryFailures: 50}
	straight := mustNew(t, cfg)
	mustAdd(t, straight, windows...)

	first := mustNew(t, cfg)
	mustAdd(t, first, windows[:150]...)
	saved, err := json.Marshal(first.State())
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(saved, &st); err != nil {
		t.Fatal(err)
	}
	resumed, err := Restore(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, resumed, windows[150:]...)
	if a, b := straight.Decide(), resumed.Decide(); !reflect.DeepEqual(mustJSON(t, a), mustJSON(t, b)) {
		t.Fatalf("resumed judge decides\n%s\nthe uninterrupted one\n%s", mustJSON(t, b), mustJSON(t, a))
	}

	if _, err := Restore(Config{MaxRelativeRisk: 1.5}, st); err == nil || !strings.Contains(err.Error(), "maxRelativeRisk") {
		t.Fatalf("restoring a state of tolerance 1 under 1.5: %v", err)
	}
	st.Errors.LogNorm = st.Errors.LogNorm[:3]
	if _, err := Restore(cfg, st); err == nil {
		t.Fatal("restored a state with a truncated grid")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAddRefusesImpossibleWindows checks that a counter reset (a window
// whose counts wrapped around) or a histogram of another layout is refused
// whole and changes nothing, and that errors beyond requests are capped.
func TestAddRefusesImpossibleWindows(t *testing.T) {
	tests := map[string]struct {
		w    Window
		says string
	}{
		"counter reset": {win(math.MaxUint64-5, 0, 100, 0), "counter reset"},
		"short histogram": {Window{
			Canary: metrics.Counts{Requests: 1, Buckets: []uint64{1}},
			Stable: metrics.Counts{Requests: 1, Buckets: hist(0.01)},
		}, "1 buckets, want 82"},
		"bucket reset": {Window{
			Canary: metrics.Counts{Requests: 1, Buckets: hist(0.01)},
			Stable: metrics.Counts{Requests: 1, Buckets: append(make([]uint64, 81), math.MaxUint64)},
		}, "stable histogram bucket"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j := mustNew(t, Config{})
			before := mustJSON(t, j.State())
			err := j.Add(tc.w)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Add: %v, want an error saying %q", err, tc.says)
			}
			if after := mustJSON(t, j.State()); after != before {
				t.Fatal("a refused window changed the state")
			}
		})
	}

	j := mustNew(t, Config{Latency: LatencyConfig{Disabled: true}})
	mustAdd(t, j, win(10, 50, 100, 0))
	if e := j.Decide().Evidence; e.Budget.CanaryFailures != 10 {
		t.Fatalf("50 errors of 10 requests counted as %d failures", e.Budget.CanaryFailures)
	}
}

// TestConfigValidate checks that each bad field is named.
func TestConfigValidate(t *testing.T) {
	tests := map[string]struct {
		cfg  Config
		says string
	}{
		"alpha":             {Config{Alpha: 0.7}, "alpha:"},
		"negative alpha":    {Config{Alpha: -1}, "alpha:"},
		"tolerance":         {Config{MaxRelativeRisk: 1000}, "maxRelativeRisk:"},
		"pass at tolerance": {Config{MaxRelativeRisk: 1.5, PassRelativeRisk: 1.5}, "passRelativeRisk:"},
		"budget":            {Config{MaxCanaryFailures: math.NaN()}, "maxCanaryFailures:"},
		"threshold":         {Config{Latency: LatencyConfig{Threshold: -1}}, "latency.threshold:"},
		"quantile":          {Config{Latency: LatencyConfig{StableQuantile: 1}}, "latency.stableQuantile:"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("New: %v, want an error naming %q", err, tc.says)
			}
		})
	}
	if err := (Config{}).WithDefaults().Validate(); err != nil {
		t.Fatalf("the defaults are invalid: %v", err)
	}
}

// TestValueJSON checks that infinite and undefined values survive JSON.
func TestValueJSON(t *testing.T) {
	for _, v := range []float64{1.25, 0, math.Inf(1), math.Inf(-1), math.NaN()} {
		b, err := json.Marshal(Value(v))
		if err != nil {
			t.Fatal(err)
		}
		var back Value
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !(float64(back) == v || math.IsNaN(v) && math.IsNaN(float64(back))) {
			t.Fatalf("%g became %s and then %g", v, b, back)
		}
	}
}
