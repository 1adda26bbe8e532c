package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fledge.dev/fledge/internal/server"
)

// hookRecorder is a real receiver on loopback that keeps every body.
type hookRecorder struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newHook(t *testing.T) *hookRecorder {
	h := &hookRecorder{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookRecorder) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// `fledge serve --notify-*` tells a webhook and a Slack-compatible hook the
// events asked for, logs (even at debug level) and labels their URLs by
// scheme and host only, and counts what it sent on /metrics.
func TestServeNotifies(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	const secret = "XoXb-SeCrEt"
	hook, slack := newHook(t), newHook(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	d := startDaemon(t, stateDir, "serve", "--admin-addr", "127.0.0.1:0",
		"--notify-webhook", hook.URL+"/hook?token="+secret,
		"--notify-slack", slack.URL+"/services/T0/B0/"+secret,
		"--notify-events", "started,paused")
	port := freePort(t)
	spec := func(arg string) string {
		return writeFile(t, "web.yaml", fmt.Sprintf(`apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 1
  terminationGracePeriodSeconds: 5
  template: {command: [%q, %q]}
  strategy:
    canary:
      trafficRouting: {proxy: {listen: "127.0.0.1:%d"}}
      steps: [{setWeight: 50}, {pause: {}}]
`, sleep, arg, port))
	}
	if _, errOut, code := fledge(t, stateDir, "apply", "-f", spec("600")); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	eventually(t, "v1 stable", func() (bool, string) {
		out, _, _ := fledge(t, stateDir, "status", "web", "-o", "json")
		var st summary
		json.Unmarshal([]byte(out), &st)
		return st.Phase == "Healthy", out
	})
	if _, errOut, code := fledge(t, stateDir, "apply", "-f", spec("601")); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	eventually(t, "started and paused told to both", func() (bool, string) {
		return len(hook.all()) == 2 && len(slack.all()) == 2, fmt.Sprint(hook.all(), slack.all())
	})

	var events []string
	for _, b := range hook.all() {
		var m struct{ Rollout, Event, Reason string }
		json.Unmarshal([]byte(b), &m)
		events = append(events, m.Rollout+" "+m.Event+" "+m.Reason)
	}
	if want := []string{"web started RolloutStarted", "web paused CanaryPauseStep"}; strings.Join(events, ",") != strings.Join(want, ",") {
		t.Errorf("webhook got %v, want %v (the step filtered out)", events, want)
	}
	if got := slack.all(); !strings.HasPrefix(got[0], `{"text":"fledge: rollout *web* started (revision 2, canary 0%, Progressing)`) {
		t.Errorf("slack got %v", got)
	}

	info, _ := server.ReadInfo(stateDir)
	resp, err := http.Get("http://" + info.Address + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`fledge_notifications_sent_total{kind="slack",target=%q} 2`, slack.URL),
		fmt.Sprintf(`fledge_notifications_sent_total{kind="webhook",target=%q} 2`, hook.URL),
		`fledge_rollout_events_total{rollout="web",reason="RolloutStarted"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), secret) {
		t.Errorf("/metrics shows the URLs' secret")
	}

	d.stop(t)
	logs := d.logs()
	if strings.Contains(logs, secret) {
		t.Errorf("the logs show the URLs' secret:\n%s", logs)
	}
	if want := "sinks=\"webhook " + hook.URL + ", slack " + slack.URL + "\""; !strings.Contains(logs, want) {
		t.Errorf("the logs do not say where notifications go (%s):\n%s", want, logs)
	}
}

func TestNotifyFlagsRefused(t *testing.T) {
	cases := map[string][]string{
		"not http":      {"--notify-webhook", "ftp://example.com/SECRET"},
		"relative":      {"--notify-slack", "/services/SECRET"},
		"unknown event": {"--notify-webhook", "https://example.com/SECRET", "--notify-events", "started,deployed"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := fledge(t, t.TempDir(), append([]string{"serve", "--admin-addr", "127.0.0.1:0"}, args...)...)
			if code == 0 || !strings.Contains(errOut, "--notify") {
				t.Errorf("exit %d, %q: want refused", code, errOut)
			}
			if strings.Contains(errOut, "SECRET") {
				t.Errorf("the error shows the URL's secret: %s", errOut)
			}
		})
	}
}
