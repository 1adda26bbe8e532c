package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A rollout's own spec.notifications are sent by the daemon along with the
// flags' sinks, each with its events; a receiver that never answers holds
// the release up in nothing.
func TestServeSendsTheRolloutsOwnNotifications(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	const secret = "PaTh-SeCrEt"
	own, flags := newHook(t), newHook(t)
	// The stuck receiver holds every request until the test ends.
	hold := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(stuck.Close)
	t.Cleanup(func() { close(hold) })

	stateDir := filepath.Join(t.TempDir(), "state")
	d := startDaemon(t, stateDir, "serve", "--admin-addr", "127.0.0.1:0",
		"--notify-webhook", flags.URL+"/flags", "--notify-events", "promoted")
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
  notifications:
  - name: ci
    webhook: {url: %q}
    events: [started, paused, promoted]
  - name: stuck
    slack: {url: %q}
`, sleep, arg, port, own.URL+"/hooks/"+secret, stuck.URL+"/services/"+secret))
	}
	if _, errOut, code := fledge(t, stateDir, "apply", "-f", spec("600")); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	phase := func() (string, string) {
		out, _, _ := fledge(t, stateDir, "status", "web", "-o", "json")
		var st summary
		json.Unmarshal([]byte(out), &st)
		return string(st.Phase), out
	}
	eventually(t, "v1 stable", func() (bool, string) { p, out := phase(); return p == "Healthy", out })
	if _, errOut, code := fledge(t, stateDir, "apply", "-f", spec("601")); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	eventually(t, "v2 paused", func() (bool, string) { p, out := phase(); return p == "Paused", out })
	if _, errOut, code := fledge(t, stateDir, "promote", "web"); code != 0 {
		t.Fatalf("promote: %s", errOut)
	}
	eventually(t, "v2 promoted and told", func() (bool, string) {
		p, out := phase()
		return p == "Healthy" && len(own.all()) == 3 && len(flags.all()) == 1, fmt.Sprint(out, own.all(), flags.all())
	})

	var got []string
	for _, b := range own.all() {
		var m struct{ Rollout, Event string }
		json.Unmarshal([]byte(b), &m)
		got = append(got, m.Rollout+" "+m.Event)
	}
	if want := "web started,web paused,web promoted"; strings.Join(got, ",") != want {
		t.Errorf("the rollout's webhook got %v, want %s (its events only)", got, want)
	}
	if f := flags.all(); !strings.Contains(f[0], `"event":"promoted"`) {
		t.Errorf("the flags' webhook got %v, want promoted only", f)
	}
	d.stop(t)
	if logs := d.logs(); strings.Contains(logs, secret) {
		t.Errorf("the logs show a URL's secret:\n%s", logs)
	}
}

// Local mode has no Secrets: a spec reading a URL from one is refused at
// apply, naming the field.
func TestApplyRefusesSecretURLsLocally(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	serve(t, stateDir)
	file := writeFile(t, "web.yaml", `apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  template: {command: [sleep, "600"]}
  strategy: {canary: {trafficRouting: {proxy: {listen: "127.0.0.1:0"}}, steps: [{setWeight: 50}]}}
  notifications:
  - name: team
    slack: {urlFrom: {secretKeyRef: {name: slack, key: url}}}
`)
	_, errOut, code := fledge(t, stateDir, "apply", "-f", file)
	if code == 0 || !strings.Contains(errOut, "spec.notifications[0].slack.urlFrom: reads a Kubernetes Secret") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// `fledge controller` takes serve's --notify-* flags and refuses a wrong
// one before it connects anywhere, without showing the URL's secret.
func TestControllerNotifyFlagsRefused(t *testing.T) {
	_, errOut, code := fledge(t, t.TempDir(), "controller", "--kubeconfig", "/nonexistent", "--notify-slack", "ftp://hooks.example/SECRET")
	if code == 0 || !strings.Contains(errOut, "--notify-*: slack notification URL ftp://hooks.example: want an absolute http or https URL") {
		t.Errorf("exit %d, %q: want the flag refused", code, errOut)
	}
	if strings.Contains(errOut, "SECRET") {
		t.Errorf("the error shows the URL's secret: %s", errOut)
	}
}
