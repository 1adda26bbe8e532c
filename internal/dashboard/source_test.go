package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitedControl is a source that cannot undo and has a change feed, as
// the cluster's.
type limitedControl struct {
	*fakeControl
	mu      sync.Mutex
	changed chan struct{}
}

func (l *limitedControl) Unsupported() map[string]string {
	return map[string]string{"undo": "no undo here"}
}

func (l *limitedControl) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *limitedControl) poke() {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
}

// A source without metrics and without undo: the page says so, the undo
// button is refused with the reason, and a change of the source reaches a
// live stream at once rather than at the next poll.
func TestSourceWithoutMetricsOrUndo(t *testing.T) {
	ctl := &limitedControl{fakeControl: newFakeControl(), changed: make(chan struct{})}
	d := New(Config{
		Token: testToken, Control: ctl, Mode: "cluster", NoMetrics: "nothing counts requests here",
		NotFound:     func(err error) bool { return errors.Is(err, errNotFound) },
		PollInterval: time.Hour, // only the change feed can wake the stream
	})
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	h := &harness{t: t, d: d, ctl: ctl.fakeControl, srv: srv}
	cookie, csrf := h.login()

	_, body := h.request("GET", "/dashboard/api/rollouts/web", cookie, nil)
	var det Detail
	if err := json.Unmarshal([]byte(body), &det); err != nil {
		t.Fatal(err)
	}
	if det.Mode != "cluster" || det.NoMetrics != "nothing counts requests here" || det.Disabled["undo"] != "no undo here" || !det.Split.NoSource {
		t.Errorf("detail mode %q noMetrics %q disabled %v noSource %v", det.Mode, det.NoMetrics, det.Disabled, det.Split.NoSource)
	}
	resp, body := h.request("POST", "/dashboard/api/rollouts/web/undo", cookie, nil, csrfHeader, csrf)
	if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(body, "no undo here") {
		t.Errorf("POST undo: %s %s, want 501 with the reason", resp.Status, body)
	}
	if got := ctl.Commands(); len(got) != 0 {
		t.Errorf("commands sent %v, want none", got)
	}

	req, _ := http.NewRequest("GET", srv.URL+"/dashboard/api/rollouts/web/stream", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	lines := make(chan string, 64)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, err := sresp.Body.Read(buf)
			if n > 0 {
				lines <- string(buf[:n])
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	await := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case s, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended before %q", want)
				}
				if strings.Contains(s, want) {
					return
				}
			case <-deadline:
				t.Fatalf("%q not streamed within 10s", want)
			}
		}
	}
	await(`"phase":"Progressing"`)
	ctl.fakeControl.mu.Lock()
	ctl.ro.Status.Message = "changed in the cluster"
	ctl.fakeControl.mu.Unlock()
	ctl.poke()
	await("changed in the cluster")
}
