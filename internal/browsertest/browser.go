package browsertest

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// WaitTimeout bounds Wait: a page follows a change within seconds, so a
// condition still false after this is a failure, not slowness.
const WaitTimeout = 45 * time.Second

// Chromium finds the browser. Without one the test fails, as CI must
// install it (Debian: apt-get install chromium), unless
// FLEDGE_SKIP_BROWSER=1 says to skip it; FLEDGE_CHROMIUM names another.
func Chromium(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("FLEDGE_SKIP_BROWSER") == "1" {
		tb.Skip("FLEDGE_SKIP_BROWSER=1")
	}
	if p := os.Getenv("FLEDGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Fatal("no Chromium found: install it (hack/install-test-deps.sh, or Debian: apt-get install chromium), point FLEDGE_CHROMIUM at it, or set FLEDGE_SKIP_BROWSER=1 to skip the browser tests")
	return ""
}

// Browser is one headless Chromium tab, and the script errors it saw.
type Browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// New starts the browser at path with one blank tab, stopped when the
// test ends.
func New(tb testing.TB, path string) *Browser {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 2000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancel(); cancelAlloc() })
	b := &Browser{ctx: ctx}
	// The first action starts the browser, which lives as long as the
	// context of that action: it must have no timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		tb.Fatalf("start %s: %v", path, err)
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

// Do runs an action, failing the test after 30s.
func (b *Browser) Do(tb testing.TB, a chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, a); err != nil {
		tb.Fatalf("browser: %v\n%s", err, b.Describe())
	}
}

// Eval returns an expression's value as JSON.
func (b *Browser) Eval(tb testing.TB, expr string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return string(v)
}

// Wait polls a JavaScript condition in the page until it holds. An error
// while the page navigates (its script context is being replaced) is
// polled through too.
func (b *Browser) Wait(tb testing.TB, what, cond string) {
	tb.Helper()
	deadline := time.Now().Add(WaitTimeout)
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
	tb.Fatalf("waiting for %s: not within %s (last error: %v)\n%s", what, WaitTimeout, last, b.Describe())
}

// Describe is what the page shows, for a failure's message.
func (b *Browser) Describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + (document.body ? document.body.innerText.slice(0, 3000) : '')`))
	if err != nil {
		return "(cannot read the page: " + err.Error() + ")"
	}
	return "page: " + text + "\nscript errors: " + strings.Join(b.ScriptErrors(), "\n")
}

// ScriptErrors are the exceptions and console errors of the page's
// scripts so far.
func (b *Browser) ScriptErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Screenshot takes a PNG, saved as name under $FLEDGE_SCREENSHOT_DIR if
// set, and decodes it.
func (b *Browser) Screenshot(tb testing.TB, a chromedp.Action[[]byte], name string) image.Image {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	data, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	if dir := os.Getenv("FLEDGE_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			tb.Errorf("save screenshot: %v", err)
		}
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	return img
}
