package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/dashboard"
	"fledge.dev/fledge/internal/rollout"
	"github.com/chromedp/chromedp"
)

// minInk is the share of non-background pixels below which the rollout
// page counts as blank. The page measured about 0.35 when written; its
// header alone is under 0.05.
const minInk = 0.15

// TestBrowser drives headless Chromium against a real daemon during a
// real rollout: the dashboard refuses a browser that has not logged in;
// logged in by a one-time link, the rollout page follows the weight live
// (no reload); the page is not blank; and Abort, confirmed, rolls back.
func TestBrowser(t *testing.T) {
	chrome := chromium(t)
	if testing.Short() {
		t.Skip("runs a daemon, replicas and a browser")
	}
	e := startDaemon(t)
	listen := freeAddr(t)
	e.apply(spec(e.exe, "v1", listen))
	e.await("v1 healthy", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.PhaseHealthy })
	load(t, "http://"+listen+"/", 100)
	e.apply(spec(e.exe, "v2", listen))
	e.await("v2 at 20%, paused", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CanaryWeight == 20 && ro.Status.Phase == v1alpha1.PhasePaused
	})

	b := newBrowser(t, chrome)

	t.Run("refused without login", func(t *testing.T) {
		for _, path := range []string{"/", "/dashboard/", "/dashboard/rollouts/web", "/dashboard/api/rollouts"} {
			resp, err := http.Get(e.url(path))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s without login: %s, want 401", path, resp.Status)
			}
		}
		b.do(t, chromedp.Navigate(e.url("/dashboard/rollouts/web")))
		b.wait(t, "the login form", `document.getElementById('login-form') !== null && document.getElementById('main') === null`)
	})

	t.Run("live weight", func(t *testing.T) {
		b.do(t, chromedp.Navigate(loginURL(t, e, "/dashboard/rollouts/web")))
		b.wait(t, "the page at 20%", `document.getElementById('weight')?.textContent === '20%' && document.getElementById('main').dataset.phase === 'Paused'`)
		b.wait(t, "the current step marked", `document.querySelector('#steps li[data-state="current"]')?.textContent.includes('pause')`)
		b.do(t, chromedp.Evaluate[chromedp.Void](`window.fledgeNoReload = 'still here'`))

		if err := e.d.Command(context.Background(), "web", rollout.CommandPromote); err != nil {
			t.Fatal(err)
		}
		b.wait(t, "the page at 60%", `document.getElementById('weight')?.textContent === '60%'`)
		if mark := b.eval(t, `window.fledgeNoReload`); mark != `"still here"` {
			t.Fatalf("the page reloaded (marker %s): the weight must change live", mark)
		}
		b.wait(t, "the weight change among the events", `[...document.querySelectorAll('#markers tr[data-reason="WeightChanged"]')].some(r => r.textContent.includes('20% -> 60%'))`)
	})

	t.Run("screenshot is not blank", func(t *testing.T) {
		b.wait(t, "the four charts and observed traffic", `document.querySelectorAll('#charts canvas').length >= 4 && !document.querySelector('#split-observed .bar.empty')`)
		b.wait(t, "a few seconds of chart points", `document.querySelectorAll('#chart-rps .u-series').length >= 3`)
		time.Sleep(3 * time.Second) // lets the charts gather points; what is asserted is awaited above
		shot := b.screenshot(t, chromedp.CaptureScreenshot(), "rollout.png")
		if ink := inkShare(shot); ink < minInk {
			t.Errorf("the rollout page looks blank: %.3f of its pixels differ from the background, want >= %.2f", ink, minInk)
		} else {
			t.Logf("rollout page ink share %.3f", ink)
		}
		charts := b.screenshot(t, chromedp.Screenshot(chromedp.CSS("#chart-rps canvas")), "chart-rps.png")
		if ink := inkShare(charts); ink < 0.01 {
			t.Errorf("the requests/s chart is empty: ink share %.4f", ink)
		}
	})

	t.Run("abort from the dashboard", func(t *testing.T) {
		b.do(t, chromedp.Click(chromedp.CSS(`#actions button[data-cmd="abort"]`)))
		b.wait(t, "the confirmation", `document.getElementById('confirm').open && document.getElementById('confirm-text').textContent.includes('stable revision')`)
		if ro, _ := e.d.Get(context.Background(), "web"); ro.Status.Abort {
			t.Fatal("aborted before the confirmation")
		}
		b.do(t, chromedp.Click(chromedp.CSS(`#confirm-ok`)))
		ro := e.await("aborted, weight 0", func(ro *v1alpha1.Rollout) bool { return ro.Status.Abort && ro.Status.CanaryWeight == 0 })
		if ro.Status.Phase != v1alpha1.PhaseDegraded {
			t.Errorf("after abort: phase %s, want Degraded", ro.Status.Phase)
		}
		b.wait(t, "the page rolled back", `document.getElementById('main').dataset.phase === 'Degraded' && document.getElementById('weight').textContent === '0%'`)
		b.wait(t, "the abort marked as the dashboard's", `document.querySelector('#markers tr[data-reason="Aborted"]')?.dataset.who === 'dashboard'`)
		b.screenshot(t, chromedp.CaptureScreenshot(), "aborted.png")
	})

	t.Run("list", func(t *testing.T) {
		b.do(t, chromedp.Click(chromedp.CSS(`.crumbs a`)))
		b.wait(t, "the rollout listed as aborted at 0%", `(() => {
			const row = document.querySelector('#rollouts tr[data-name="web"]');
			return row && row.textContent.includes('Degraded') && row.querySelector('.weight').textContent === '0%' && row.textContent.includes('rev 2');
		})()`)
		b.screenshot(t, chromedp.CaptureScreenshot(), "list.png")
	})

	t.Run("log out, log in with the token", func(t *testing.T) {
		b.do(t, chromedp.Click(chromedp.CSS(`#logout`)))
		b.wait(t, "the login form", `document.getElementById('login-form') !== null`)
		b.do(t, chromedp.Navigate(e.url("/dashboard/")))
		b.wait(t, "still logged out", `document.getElementById('login-form') !== null && document.getElementById('main') === null`)
		b.do(t, chromedp.SendKeys(chromedp.CSS(`#login-form input[name="token"]`), e.token))
		b.do(t, chromedp.Click(chromedp.CSS(`#login-form button`)))
		b.wait(t, "the list, logged in", `document.querySelector('#rollouts tr[data-name="web"]') !== null`)
	})

	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.errors {
		t.Errorf("the page's script failed: %s", m)
	}
}

// loginURL asks for a one-time login link, as `fledge dashboard --url`
// does, that leads to next.
func loginURL(t *testing.T, e *daemon, next string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url("/dashboard/api/login-links"), nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var link dashboard.LoginLink
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &link) != nil {
		t.Fatalf("login link: %s %s", resp.Status, body)
	}
	return link.URL + "&next=" + url.QueryEscape(next)
}

// browser is one headless Chromium tab, and the script errors it saw.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 2000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	// The first action starts the browser, which lives as long as the
	// context of that action: it must have no timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Exceptions and console.error calls; the browser's own log
			// (a 401 while logged out) is expected.
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source == "" {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *browser) do(t *testing.T, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, a); err != nil {
		t.Fatalf("browser: %v\n%s", err, b.describe())
	}
}

// eval returns an expression's value as JSON.
func (b *browser) eval(t *testing.T, expr string) string {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return string(v)
}

// wait polls a JavaScript condition in the page until it holds. An error
// while the page navigates (its script context is being replaced) is
// polled through too.
func (b *browser) wait(t *testing.T, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: not within 45s (last error: %v)\n%s", what, last, b.describe())
}

// describe is what the page shows, for a failure's message.
func (b *browser) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + (document.body ? document.body.innerText.slice(0, 3000) : '')`))
	if err != nil {
		return "(cannot read the page: " + err.Error() + ")"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return "page: " + text + "\nscript errors: " + strings.Join(b.errors, "\n")
}

// screenshot takes a PNG, saved under $FLEDGE_SCREENSHOT_DIR if set.
func (b *browser) screenshot(t *testing.T, a chromedp.Action[[]byte], name string) image.Image {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	data, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if dir := os.Getenv("FLEDGE_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Errorf("save screenshot: %v", err)
		}
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	return img
}

// The blank-page check itself: a blank page and a page with only its
// header are caught, a page with content is not.
func TestInkShare(t *testing.T) {
	page := func(draw func(img *image.RGBA)) image.Image {
		img := image.NewRGBA(image.Rect(0, 0, 200, 400))
		for i := range img.Pix {
			img.Pix[i] = 0xf4
		}
		draw(img)
		return img
	}
	fill := func(img *image.RGBA, r image.Rectangle, c color.RGBA) {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				img.Set(x, y, c)
			}
		}
	}
	tests := map[string]struct {
		draw  func(*image.RGBA)
		blank bool
	}{
		"blank":       {draw: func(*image.RGBA) {}, blank: true},
		"header only": {draw: func(img *image.RGBA) { fill(img, image.Rect(0, 0, 200, 16), color.RGBA{0x1d, 0x24, 0x33, 255}) }, blank: true},
		"content": {draw: func(img *image.RGBA) {
			fill(img, image.Rect(0, 0, 200, 16), color.RGBA{0x1d, 0x24, 0x33, 255})
			for i := range 8 {
				fill(img, image.Rect(10, 30+45*i, 190, 60+45*i), color.RGBA{255, 255, 255, 255})
			}
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ink := inkShare(page(tt.draw))
			if blank := ink < minInk; blank != tt.blank {
				t.Errorf("ink share %.3f: blank %v, want %v", ink, blank, tt.blank)
			}
		})
	}
}
