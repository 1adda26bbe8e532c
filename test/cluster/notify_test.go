package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// hookReceiver is a real HTTP receiver on loopback that keeps every body;
// a held one answers no request until the test ends.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	// firstDone is set once the first request has been answered (or, held,
	// given up by the client).
	firstDone bool
}

func newHookReceiver(t *testing.T, held bool) *hookReceiver {
	h := &hookReceiver{}
	hold := make(chan struct{})
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		first := len(h.bodies) == 1
		h.mu.Unlock()
		if held {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}
		if first {
			h.mu.Lock()
			h.firstDone = true
			h.mu.Unlock()
		}
	}))
	t.Cleanup(h.Close)
	t.Cleanup(func() { close(hold) }) // before Close: it waits for the held requests
	return h
}

func (h *hookReceiver) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// events are the "event" of the JSON notifications about namespace ns.
func (h *hookReceiver) events(ns string) []string {
	var out []string
	for _, b := range h.all() {
		var m struct{ Namespace, Event string }
		if json.Unmarshal([]byte(b), &m) == nil && m.Namespace == ns {
			out = append(out, m.Event)
		}
	}
	return out
}

// limitedKubeconfig applies config/rbac and returns a kubeconfig that
// impersonates its ServiceAccount: the controller gets the role's rights
// only.
func limitedKubeconfig(t *testing.T) string {
	t.Helper()
	sys := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fledge-system"}}
	if err := kube.Create(ctx, sys); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, f := range []string{"role.yaml", "bindings.yaml"} {
		serverApply(t, filepath.Join(root, "config", "rbac", f))
	}
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		u.Impersonate = "system:serviceaccount:fledge-system:fledge-controller"
	}
	limited := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, limited); err != nil {
		t.Fatal(err)
	}
	return limited
}

// startNotifyingController runs the controller with extra flags, as the
// ServiceAccount of config/rbac, until the test ends.
func startNotifyingController(t *testing.T, flags ...string) *proc {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), "controller-*.log")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"controller", "--kubeconfig", limitedKubeconfig(t), "--metrics-bind-address", "0",
		"--health-probe-bind-address", freeAddr(t), "--leader-election-id", "fledge-test",
		"--leader-election-namespace", "fledge-system", "--log-level", "debug"}, flags...)
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logf.Name()}
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("controller log:\n%s", tail(string(b), 80))
		}
	})
	return p
}

// TestRolloutNotifications takes a Rollout with its own notifications (a
// plain URL, a Slack URL read from a Secret, a receiver that never answers,
// a Secret that is not there) through a canary with a controller that has
// a --notify-webhook of its own, running with config/rbac's rights: each
// receiver is told what it asked for, the held one holds nothing up, the
// missing Secret is a Warning event, and no URL's secret is logged.
func TestRolloutNotifications(t *testing.T) {
	const token = "T0K3N-S3CR3T"
	plain, fromSecret, held, global := newHookReceiver(t, false), newHookReceiver(t, false), newHookReceiver(t, true), newHookReceiver(t, false)
	ns := namespace(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "slack", Namespace: ns},
		StringData: map[string]string{"url": fromSecret.URL + "/services/T0/B0/" + token + "\n"}}
	if err := kube.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	p := startNotifyingController(t, "--notify-webhook", global.URL+"/all?token="+token, "--notify-events", "promoted")

	dir := filepath.Join(root, "examples", "kubernetes", "gateway-api")
	for _, f := range []string{"deployment.yaml", "services.yaml", "httproute.yaml"} {
		applyFile(t, ns, filepath.Join(dir, f))
	}
	applyYAML(t, ns, fmt.Sprintf(`
apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 2
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  strategy:
    canary:
      scaleDownDelaySeconds: 0
      trafficRouting:
        gatewayAPI: {httpRoute: web}
      steps:
      - setWeight: 50
      - pause: {duration: 1s}
  notifications:
  - name: ci
    webhook: {url: %q}
    events: [started, promoted]
  - name: team
    slack:
      urlFrom: {secretKeyRef: {name: slack, key: url}}
  - name: held
    webhook: {url: %q}
  - name: missing
    webhook:
      urlFrom: {secretKeyRef: {name: not-there, key: url}}
    events: [promoted]
`, plain.URL+"/hooks/"+token, held.URL))
	if len(rolloutOf(t, ns, "web").Spec.Notifications) != 4 {
		t.Fatal("the API server dropped spec.notifications: the installed Rollout CRD is older than api/v1alpha1 " +
			"(make manifests; kubectl apply --server-side --force-conflicts -f config/crd/bases)")
	}
	first := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	setText(t, ns, "web", "v2")
	st := waitStatus(t, ns, "web", "v2 promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.CanaryRevision == "" && st.StableRevision != first
	})
	// The held receiver was told the release started and has not answered
	// (the notifier gives an attempt 10s): the release went on all the same.
	held.mu.Lock()
	calls, answered := len(held.bodies), held.firstDone
	held.mu.Unlock()
	if calls == 0 || answered {
		t.Errorf("the held receiver got %d requests by the promotion, the first given up: %v; want the first still held", calls, answered)
	}

	eventually(t, 20*time.Second, "every receiver told", func() (bool, string) {
		// The Slack receiver hears every step; only its last message, the
		// promotion, says it has heard them all.
		slackDone := strings.Contains(strings.Join(fromSecret.all(), "\n"), fmt.Sprintf("rollout *%s/web* promoted", ns))
		return len(plain.events(ns)) >= 2 && len(global.events(ns)) >= 1 && slackDone,
			fmt.Sprintf("plain %v, global %v, from the Secret %v", plain.events(ns), global.events(ns), fromSecret.all())
	})
	if got := plain.events(ns); strings.Join(got, ",") != "started,promoted" {
		t.Errorf("the plain URL got %v, want started,promoted", got)
	}
	var m struct {
		Rollout, Namespace string
		Revision           struct{ Stable, Canary string }
	}
	json.Unmarshal([]byte(plain.all()[len(plain.all())-1]), &m)
	if m.Rollout != "web" || m.Namespace != ns || m.Revision.Stable != st.StableRevision || m.Revision.Canary != "" {
		t.Errorf("promoted payload %+v, want web in %s, stable %s", m, ns, st.StableRevision)
	}
	if got := global.events(ns); strings.Join(got, ",") != "promoted" {
		t.Errorf("the --notify-webhook got %v, want promoted only (--notify-events)", got)
	}
	texts := strings.Join(fromSecret.all(), "\n")
	for _, want := range []string{
		fmt.Sprintf(`{"text":"fledge: rollout *%s/web* started`, ns),
		fmt.Sprintf(`{"text":"fledge: rollout *%s/web* stepped`, ns),
		fmt.Sprintf(`{"text":"fledge: rollout *%s/web* paused`, ns),
		fmt.Sprintf(`{"text":"fledge: rollout *%s/web* promoted`, ns),
	} {
		if !strings.Contains(texts, want) {
			t.Errorf("the Slack URL from the Secret lacks %s; got:\n%s", want, texts)
		}
	}

	msg := eventFor(t, ns, "web", "NotificationFailed")
	if !strings.Contains(msg, "spec.notifications[missing]") || !strings.Contains(msg, `"not-there" not found`) {
		t.Errorf("NotificationFailed event %q, want the notification and the missing Secret named", msg)
	}
	p.stop(syscall.SIGTERM)
	logs, _ := os.ReadFile(p.log)
	if strings.Contains(string(logs), token) {
		t.Errorf("the controller logged a URL's secret:\n%s", tail(string(logs), 40))
	}
}
