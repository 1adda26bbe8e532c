package dashboard_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/dashboard"
	"github.com/chromedp/chromedp"
)

// judgedSpec is a canary of the sample app, both versions failing 5% of
// their requests, judged in the background by the statistical judge (slow
// means slower than 500ms, which the app never is), waiting for a human
// at 20%.
func judgedSpec(exe, version, listen string) *v1alpha1.Rollout {
	i32 := func(v int32) *int32 { return &v }
	grace := int64(2)
	ro := &v1alpha1.Rollout{Spec: v1alpha1.RolloutSpec{
		Replicas: i32(1),
		Template: &v1alpha1.ProcessTemplate{
			Command:        []string{exe, "sample-app", "--version", version, "--latency", "GET /=2ms", "--error-rate", "GET /=0.05"},
			ReadinessProbe: &v1alpha1.Probe{HTTPGet: &v1alpha1.HTTPGetAction{Path: "/healthz"}, PeriodSeconds: 1, FailureThreshold: 2},
		},
		TerminationGracePeriodSeconds: &grace,
		Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			TrafficRouting: &v1alpha1.TrafficRouting{Proxy: &v1alpha1.ProxyRouting{Listen: listen}},
			Steps:          []v1alpha1.CanaryStep{{SetWeight: i32(20)}, {Pause: &v1alpha1.RolloutPause{}}, {SetWeight: i32(100)}},
			Analysis: &v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{
				Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "judge"}},
			}},
		}},
		AnalysisTemplates: []v1alpha1.NamedAnalysisTemplate{{
			Name: "judge",
			AnalysisTemplateSpec: v1alpha1.AnalysisTemplateSpec{Judge: &v1alpha1.Judge{
				MaxCanaryFailures: 500,
				Latency:           &v1alpha1.JudgeLatency{Threshold: &v1alpha1.Duration{Duration: 500 * time.Millisecond}},
			}},
		}},
	}}
	ro.APIVersion, ro.Kind, ro.Name = v1alpha1.APIVersion, v1alpha1.KindRollout, "web"
	return ro
}

// TestBrowserJudgeEvidence drives headless Chromium against a real daemon
// during a real rollout judged by the statistical judge: the evidence
// panel appears with the judge's numbers (the same as the run's status
// holds), and they update live as windows are judged.
func TestBrowserJudgeEvidence(t *testing.T) {
	chrome := chromium(t)
	if testing.Short() {
		t.Skip("runs a daemon, replicas and a browser")
	}
	e := startDaemon(t)
	listen := freeAddr(t)
	e.apply(judgedSpec(e.exe, "v1", listen))
	e.await("v1 healthy", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.PhaseHealthy })
	load(t, "http://"+listen+"/", 100)
	e.apply(judgedSpec(e.exe, "v2", listen))
	e.await("v2 at 20%, paused", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CanaryWeight == 20 && ro.Status.Phase == v1alpha1.PhasePaused
	})

	b := newBrowser(t, chrome)
	b.do(t, chromedp.Navigate(loginURL(t, e, "/dashboard/rollouts/web")))
	b.wait(t, "the evidence panel with a judged window", `(() => {
		const j = document.querySelector('#evidence .judge[data-judge="judge"]');
		return j && !document.getElementById('evidence-section').hidden && Number(j.dataset.windows) > 0;
	})()`)
	b.do(t, chromedp.Evaluate[chromedp.Void](`window.fledgeNoReload = 'still here'`))

	// Numbers: both checks, each version's rate, the confidence sequence
	// and the evidence against the boundary, the budget.
	b.wait(t, "the errors row with both rates and a bounded relative risk", `(() => {
		const row = document.querySelector('#evidence tr[data-test="errors"]');
		return row && /\d%/.test(row.querySelector('.rate-canary').textContent)
			&& /\d%/.test(row.querySelector('.rate-stable').textContent)
			&& /\d×.*to.*\d×/.test(row.querySelector('.rr').textContent)
			&& row.querySelector('svg.sketch line.ci') !== null
			&& row.querySelector('svg.sketch circle.estimate') !== null;
	})()`)
	if !b.evalBool(t, `document.querySelector('#evidence tr[data-test="slow requests"]') !== null`) {
		t.Error("no slow-requests row: the judge's latency test is on")
	}
	if !b.evalBool(t, `/of 500 excess failures spent/.test(document.querySelector('#evidence .budget').textContent)`) {
		t.Errorf("the budget is not shown against its limit of 500: %s", b.eval(t, `document.querySelector('#evidence .budget')?.textContent`))
	}

	// The page shows what the judge persisted: compare with the run's status.
	runs, err := e.d.Runs(context.Background(), "web")
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs: %v (%d)", err, len(runs))
	}
	first := windowsShown(t, b)
	if first <= 0 {
		t.Fatalf("windows shown: %d", first)
	}

	// Live: more windows are judged and the panel follows without a reload.
	b.wait(t, "the evidence updated with later windows", `Number(document.querySelector('#evidence .judge').dataset.windows) > `+strconv.Itoa(first+2))
	if mark := b.eval(t, `window.fledgeNoReload`); mark != `"still here"` {
		t.Fatalf("the page reloaded (marker %s): the evidence must update live", mark)
	}
	b.wait(t, "the shown canary requests match the judge's, within a window", `(() => {
		const j = document.querySelector('#evidence .judge');
		return j && Number(j.querySelector('.canary-requests').textContent) > 100;
	})()`)
	shown := windowsShown(t, b)
	judge := judgeResult(t, e)
	if judge == nil || judge.Windows < int64(shown)-2 || judge.Windows > int64(shown)+5 {
		t.Errorf("the page shows %d windows, the run's judge has judged %+v", shown, judge)
	}
	if v := b.eval(t, `document.querySelector('#evidence .judge').dataset.verdict`); !strings.Contains(`"Pass""Wait""Fail"`, v) {
		t.Errorf("verdict shown %s, want one of the judge's", v)
	}
	b.screenshot(t, chromedp.Screenshot(chromedp.CSS("#evidence-section")), "evidence.png")

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.errors {
		t.Errorf("the page's script failed: %s", m)
	}
}

func windowsShown(t *testing.T, b *browser) int {
	t.Helper()
	n, err := strconv.Atoi(strings.Trim(b.eval(t, `document.querySelector('#evidence .judge').dataset.windows`), `"`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// judgeResult is the judge's latest result in the newest run.
func judgeResult(t *testing.T, e *daemon) *v1alpha1.JudgeResult {
	t.Helper()
	runs, err := e.d.Runs(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		for _, mr := range r.Status.MetricResults {
			if mr.Judge != nil && r.Status.Phase == v1alpha1.AnalysisRunning {
				return mr.Judge
			}
		}
	}
	return nil
}

func (b *browser) evalBool(t *testing.T, expr string) bool {
	t.Helper()
	return b.eval(t, "!!("+expr+")") == "true"
}

// noUndo is the daemon as a source that cannot undo, as the cluster's.
type noUndo struct{ dashboard.Control }

func (noUndo) Unsupported() map[string]string {
	return map[string]string{"undo": "no undo in this mode"}
}

// TestBrowserWithoutMetricsSource drives Chromium against a dashboard that
// has no request counters and cannot undo (what cluster mode serves), over
// a real daemon during a real rollout: the page says "no metrics source"
// instead of drawing empty charts, and the Undo button is disabled with
// the reason as its tooltip while the others work.
func TestBrowserWithoutMetricsSource(t *testing.T) {
	chrome := chromium(t)
	if testing.Short() {
		t.Skip("runs a daemon, replicas and a browser")
	}
	e := startDaemon(t)
	listen := freeAddr(t)
	e.apply(spec(e.exe, "v1", listen))
	e.await("v1 healthy", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.PhaseHealthy })
	e.apply(spec(e.exe, "v2", listen))
	e.await("v2 at 20%, paused", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CanaryWeight == 20 && ro.Status.Phase == v1alpha1.PhasePaused
	})

	dash := dashboard.New(dashboard.Config{Token: e.token, Control: noUndo{e.d}, Mode: "cluster", NoMetrics: "nothing counts requests in this mode."})
	srv := httptest.NewServer(dash)
	t.Cleanup(srv.Close)
	link := dash.NewLoginLink(strings.TrimPrefix(srv.URL, "http://"))

	b := newBrowser(t, chrome)
	b.do(t, chromedp.Navigate(link.URL+"&next="+url.QueryEscape("/dashboard/rollouts/web")))
	b.wait(t, "the page at 20% in cluster mode", `document.getElementById('weight')?.textContent === '20%' && document.getElementById('main').dataset.mode === 'cluster'`)
	b.wait(t, "no metrics source instead of charts", `document.querySelector('#charts #no-metrics')?.textContent.includes('No metrics source') && document.querySelectorAll('#charts canvas').length === 0`)
	b.wait(t, "no observed split", `document.querySelector('#split-observed .bar.empty')?.textContent === 'no metrics source'`)
	b.wait(t, "undo disabled with why", `(() => {
		const u = document.querySelector('#actions button[data-cmd="undo"]');
		const p = document.querySelector('#actions button[data-cmd="promote"]');
		return u.disabled && u.title === 'no undo in this mode' && !p.disabled && p.title === '';
	})()`)
	b.screenshot(t, chromedp.CaptureScreenshot(), "no-metrics.png")

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.errors {
		t.Errorf("the page's script failed: %s", m)
	}
}
