package cluster

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/browsertest"
	"fledge.dev/fledge/internal/controller"
	"github.com/chromedp/chromedp"
)

// minClusterInk is the share of non-background pixels below which the
// cluster-mode rollout page counts as blank. The page measured about 0.53
// when written (it has no charts, but its white sections cover the grey
// background); its header alone is under 0.05.
const minClusterInk = 0.15

// TestDashboardClusterBrowser drives headless Chromium against `fledge
// dashboard --kubeconfig` while the controller releases a canary through
// an HTTPRoute: logged in with the link `--url` prints, the list shows the
// rollout; its page follows the weight live (no reload) as the controller
// steps 20% -> 40% -> 60%; the page is not blank; and Abort, confirmed,
// aborts the rollout in the cluster (status and HTTPRoute read back).
func TestDashboardClusterBrowser(t *testing.T) {
	chrome := browsertest.Chromium(t)
	if testing.Short() {
		t.Skip("runs the controller, the dashboard and a browser")
	}
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 20
        - pause: {}
        - setWeight: 40
        - pause: {duration: 3s}
        - setWeight: 60
        - pause: {}
`)
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "paused at 20%", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 20
	})
	link := dashboardURL(t, ns)
	b := browsertest.New(t, chrome)

	ok := t.Run("list", func(t *testing.T) {
		b.Do(t, chromedp.Navigate(link))
		b.Wait(t, "the rollout listed, paused at 20%", `(() => {
			const row = document.querySelector('#rollouts tr[data-name="web"]');
			return row && row.textContent.includes('Paused') && row.querySelector('.weight').textContent === '20%';
		})()`)
		b.Screenshot(t, chromedp.CaptureScreenshot(), "cluster-list.png")
		b.Do(t, chromedp.Click(chromedp.CSS(`#rollouts tr[data-name="web"] a`)))
		b.Wait(t, "its page at 20%, in cluster mode", `document.getElementById('weight')?.textContent === '20%'
			&& document.getElementById('main').dataset.mode === 'cluster'
			&& document.getElementById('main').dataset.phase === 'Paused'`)
	})

	ok = ok && t.Run("live weight", func(t *testing.T) {
		// What #weight shows, each change recorded in the page: a reload
		// would lose the record.
		b.Do(t, chromedp.Evaluate[chromedp.Void](`(() => {
			const w = document.getElementById('weight');
			window.fledgeSeen = [w.textContent];
			new MutationObserver(() => { if (fledgeSeen.at(-1) !== w.textContent) fledgeSeen.push(w.textContent); })
				.observe(w, { childList: true, characterData: true, subtree: true });
		})()`))
		command(t, ns, "web", "promote") // as `kubectl fledge promote web` does: not from the page
		waitStatus(t, ns, "web", "paused at 60%", func(st *v1alpha1.RolloutStatus) bool {
			return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 60
		})
		if s, c := weights(t, ns, "web"); s != 40 || c != 60 {
			t.Fatalf("HTTPRoute at 60%%: stable %d canary %d", s, c)
		}
		b.Wait(t, "the page at 60%, paused", `document.getElementById('weight').textContent === '60%' && document.getElementById('main').dataset.phase === 'Paused'`)
		if seen := b.Eval(t, `window.fledgeSeen`); seen != `["20%","40%","60%"]` {
			t.Fatalf("the weights the page showed: %s, want [20%% 40%% 60%%] without a reload", seen)
		}
		b.Wait(t, "the last pause marked current", `document.querySelector('#steps li[data-state="current"]')?.textContent.includes('pause')
			&& document.querySelectorAll('#steps li[data-state="done"]').length === 5`)
		b.Wait(t, "the controller's weight changes among the events", `(() => {
			const rows = [...document.querySelectorAll('#markers tr[data-reason="WeightChanged"]')].map((r) => r.textContent);
			return rows.some((r) => r.includes('20% -> 40%')) && rows.some((r) => r.includes('40% -> 60%'))
				&& document.querySelector('#markers tbody').textContent.includes('step 5/6 completed');
		})()`)
		// The Events of one reconcile share their second: newest first, they
		// are still shown in the order they happened.
		order := b.Eval(t, `(() => {
			const rows = [...document.querySelectorAll('#markers tbody tr')].map((r) => r.textContent);
			return ['step 5/6 completed', '40% -> 60%', 'step 4/6 completed', 'step 3/6 completed', '20% -> 40%']
				.map((s) => rows.findIndex((r) => r.includes(s)));
		})()`)
		if order != "[0,1,2,3,4]" {
			t.Errorf("the newest events at rows %s, want [0,1,2,3,4] (step 5/6, weight 40%%->60%%, step 4/6, step 3/6, weight 20%%->40%%)\n%s", order, b.Describe())
		}
	})

	ok = ok && t.Run("screenshot is not blank", func(t *testing.T) {
		b.Wait(t, "the cluster page drawn", `document.querySelector('#charts #no-metrics') !== null
			&& document.querySelector('#split-applied .bar .seg') !== null`)
		shot := b.Screenshot(t, chromedp.CaptureScreenshot(), "cluster-rollout.png")
		if ink := browsertest.InkShare(shot); ink < minClusterInk {
			t.Errorf("the rollout page looks blank: %.3f of its pixels differ from the background, want >= %.2f", ink, minClusterInk)
		} else {
			t.Logf("cluster rollout page ink share %.3f", ink)
		}
	})

	ok = ok && t.Run("abort from the dashboard", func(t *testing.T) {
		b.Do(t, chromedp.Click(chromedp.CSS(`#actions button[data-cmd="abort"]`)))
		b.Wait(t, "the confirmation", `document.getElementById('confirm').open && document.getElementById('confirm-text').textContent.includes('stable revision')`)
		if ro := rolloutOf(t, ns, "web"); ro.Status.Abort || ro.Annotations[controller.AnnotationCommand] != "" {
			t.Fatalf("a command before the confirmation: abort %v, annotation %q", ro.Status.Abort, ro.Annotations[controller.AnnotationCommand])
		}
		b.Do(t, chromedp.Click(chromedp.CSS(`#confirm-ok`)))
		st := waitStatus(t, ns, "web", "aborted by the controller", func(st *v1alpha1.RolloutStatus) bool {
			return st.Abort && st.CanaryWeight == 0
		})
		if st.Phase != v1alpha1.PhaseDegraded {
			t.Errorf("after abort: phase %s, want Degraded", st.Phase)
		}
		eventually(t, 30*time.Second, "the HTTPRoute back to stable", func() (bool, string) {
			s, c := weights(t, ns, "web")
			return s == 100 && c == 0, fmt.Sprintf("stable %d canary %d", s, c)
		})
		eventually(t, 30*time.Second, "the command annotation removed once applied", func() (bool, string) {
			got := rolloutOf(t, ns, "web").Annotations[controller.AnnotationCommand]
			return got == "", got
		})
		b.Wait(t, "the page rolled back", `document.getElementById('main').dataset.phase === 'Degraded'
			&& document.getElementById('weight').textContent === '0%'
			&& document.querySelector('#steps li[data-state="aborted"]') !== null
			&& document.querySelector('#actions button[data-cmd="abort"]').disabled
			&& !document.querySelector('#actions button[data-cmd="retry"]').disabled`)
		b.Screenshot(t, chromedp.CaptureScreenshot(), "cluster-aborted.png")
	})

	ok = ok && t.Run("list after abort", func(t *testing.T) {
		b.Do(t, chromedp.Click(chromedp.CSS(`.crumbs a`)))
		b.Wait(t, "the rollout listed as aborted at 0%", `(() => {
			const row = document.querySelector('#rollouts tr[data-name="web"]');
			return row && row.textContent.includes('Degraded') && row.querySelector('.weight').textContent === '0%';
		})()`)
	})

	for _, m := range b.ScriptErrors() {
		t.Errorf("the page's script failed: %s", m)
	}
}

// dashboardURL runs `fledge dashboard --kubeconfig --url` on ns and returns
// the one-time login link it prints, unused.
func dashboardURL(t *testing.T, ns string) string {
	t.Helper()
	cmd := exec.Command(binary, "dashboard", "--kubeconfig", kubeconfig, "-n", ns, "--state-dir", t.TempDir(), "--url")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.CreateTemp(t.TempDir(), "dashboard-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("dashboard log:\n%s", tail(string(b), 40))
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-lines:
		if !strings.HasPrefix(line, "http://") || !strings.Contains(line, "/dashboard/login?token=") {
			t.Fatalf("fledge dashboard --url printed %q, want only the login link", line)
		}
		return line
	case <-time.After(60 * time.Second):
		t.Fatal("fledge dashboard --url printed no login link within 60s")
	}
	return ""
}
