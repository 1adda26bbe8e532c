package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
)

// dashboardProc is a running `fledge dashboard --kubeconfig`, logged in.
type dashboardProc struct {
	base  string // http://host:port
	http  *http.Client
	csrf  string
	token string
}

// startDashboard runs `fledge dashboard --kubeconfig` on ns and logs in
// through the one-time link it prints, as a browser would.
func startDashboard(t *testing.T, ns string) *dashboardProc {
	t.Helper()
	state := t.TempDir()
	cmd := exec.Command(binary, "dashboard", "--kubeconfig", kubeconfig, "-n", ns, "--state-dir", state)
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
	links := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "http://"); i >= 0 && strings.Contains(sc.Text(), "/dashboard/login?token=") {
				links <- sc.Text()[i:]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var link string
	select {
	case link = <-links:
	case <-time.After(60 * time.Second):
		t.Fatal("fledge dashboard printed no login link within 60s")
	}
	jar, _ := cookiejar.New(nil)
	p := &dashboardProc{base: link[:strings.Index(link, "/dashboard/")], http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	tok, err := os.ReadFile(filepath.Join(state, "token"))
	if err != nil {
		t.Fatal(err)
	}
	p.token = strings.TrimSpace(string(tok))

	resp, err := p.http.Get(link) // follows the redirect to the list, with the cookie
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	const marker = `<meta name="csrf-token" content="`
	i := strings.Index(string(page), marker)
	if resp.StatusCode != http.StatusOK || i < 0 {
		t.Fatalf("login link: %s, page without CSRF token:\n%s", resp.Status, page)
	}
	rest := string(page[i+len(marker):])
	p.csrf = rest[:strings.IndexByte(rest, '"')]
	return p
}

// getJSON reads a dashboard API path into v.
func (p *dashboardProc) getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := p.http.Get(p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// post sends a button's request, as the page does.
func (p *dashboardProc) post(t *testing.T, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.base+path, nil)
	req.Header.Set("X-CSRF-Token", p.csrf)
	resp, err := p.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// detail is the part of the rollout page this test reads.
type detail struct {
	Name      string            `json:"name"`
	Phase     string            `json:"phase"`
	Mode      string            `json:"mode"`
	NoMetrics string            `json:"noMetrics"`
	Disabled  map[string]string `json:"disabled"`
	StepList  []struct {
		State string `json:"state"`
	} `json:"stepList"`
}

// TestDashboardCluster serves the dashboard over a namespace of the real
// control plane: logged in with the one-time link, the list shows a
// Rollout created in the test, its page says cluster mode (no metrics
// source, undo disabled), a status change reaches a live stream through
// the watch, and Abort sets the command annotation for the controller.
func TestDashboardCluster(t *testing.T) {
	ns := namespace(t)
	applyYAML(t, ns, `
apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 2
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  strategy:
    canary:
      trafficRouting:
        gatewayAPI: {httpRoute: web}
      steps:
      - setWeight: 20
      - pause: {}
`)
	d := startDashboard(t, ns)

	t.Run("refused without login", func(t *testing.T) {
		resp, err := http.Get(d.base + "/dashboard/api/rollouts")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /dashboard/api/rollouts without login: %s, want 401", resp.Status)
		}
	})

	t.Run("list", func(t *testing.T) {
		eventually(t, 20*time.Second, "the Rollout listed", func() (bool, string) {
			var rows []struct {
				Name  string `json:"name"`
				Steps int    `json:"steps"`
			}
			code := d.getJSON(t, "/dashboard/api/rollouts", &rows)
			return code == http.StatusOK && len(rows) == 1 && rows[0].Name == "web" && rows[0].Steps == 2, fmt.Sprintf("%d %+v", code, rows)
		})
	})

	t.Run("cluster mode page", func(t *testing.T) {
		var det detail
		if code := d.getJSON(t, "/dashboard/api/rollouts/web", &det); code != http.StatusOK {
			t.Fatalf("GET the rollout: %d", code)
		}
		if det.Mode != "cluster" || det.NoMetrics == "" || det.Disabled["undo"] == "" || len(det.StepList) != 2 {
			t.Errorf("detail %+v: want cluster mode, no metrics source, undo disabled, two steps", det)
		}
		if code, body := d.post(t, "/dashboard/api/rollouts/web/undo"); code != http.StatusNotImplemented || !strings.Contains(body, "undo") {
			t.Errorf("POST undo: %d %s, want 501 with why", code, body)
		}
		var none detail
		if code := d.getJSON(t, "/dashboard/api/rollouts/nope", &none); code != http.StatusNotFound {
			t.Errorf("GET a missing rollout: %d, want 404", code)
		}
	})

	t.Run("watch feeds the stream", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, d.base+"/dashboard/api/rollouts/web/stream", nil)
		resp, err := d.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		phases := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					var det detail
					if json.Unmarshal([]byte(data), &det) == nil && det.Phase != "" {
						phases <- det.Phase
					}
				}
			}
			close(phases)
		}()
		if ph := <-phases; ph == "" {
			t.Fatal("no first detail on the stream")
		}
		// Change the status as a controller would: the page follows.
		// (An update, not a patch: the whole status, whose fields are required.)
		ro := rolloutOf(t, ns, "web")
		ro.Status.Phase, ro.Status.Message = v1alpha1.PhasePaused, "set by the dashboard test"
		if err := kube.Status().Update(ctx, ro); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(20 * time.Second)
		for {
			select {
			case ph, ok := <-phases:
				if !ok {
					t.Fatal("the stream ended")
				}
				if ph == string(v1alpha1.PhasePaused) {
					return
				}
			case <-deadline:
				t.Fatal("the status change did not reach the stream within 20s")
			}
		}
	})

	t.Run("abort sets the command annotation", func(t *testing.T) {
		code, body := d.post(t, "/dashboard/api/rollouts/web/abort")
		if code != http.StatusOK {
			t.Fatalf("POST abort: %d %s", code, body)
		}
		if got := rolloutOf(t, ns, "web").Annotations[controller.AnnotationCommand]; got != "abort" {
			t.Fatalf("annotation %s = %q, want abort", controller.AnnotationCommand, got)
		}
		// No controller runs here: the command waits, and a second one is
		// refused rather than overwriting it.
		if code, body := d.post(t, "/dashboard/api/rollouts/web/promote"); code != http.StatusConflict || !strings.Contains(body, "still waiting") {
			t.Errorf("POST promote over a pending abort: %d %s, want 409", code, body)
		}
	})

	t.Run("POST needs the CSRF token", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, d.base+"/dashboard/api/rollouts/web/resume", nil)
		resp, err := d.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST without the CSRF token: %s, want 403", resp.Status)
		}
	})

	t.Run("log in with the token", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := c.PostForm(d.base+"/dashboard/login", map[string][]string{"token": {d.token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = c.Get(d.base + "/dashboard/api/rollouts")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("logged in with the state dir's token: %s, want 200", resp.Status)
		}
	})
}

// TestDashboardClusterAbortThroughController runs the controller too: a
// canary paused at 20%, shown as such on the dashboard, is aborted from
// the dashboard's button, the controller applies it (and removes the
// annotation), and the dashboard shows the rollback.
func TestDashboardClusterAbortThroughController(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 20
        - pause: {}
`)
	waitStatus(t, ns, "web", "first revision healthy", healthy)
	setText(t, ns, "web", "v2")
	waitStatus(t, ns, "web", "paused at 20%", func(st *v1alpha1.RolloutStatus) bool {
		return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == 20
	})
	d := startDashboard(t, ns)
	shown := func(desc string, cond func(weight int32, phase string, aborted bool) bool) {
		t.Helper()
		eventually(t, 60*time.Second, desc, func() (bool, string) {
			var det struct {
				Phase        string `json:"phase"`
				CanaryWeight int32  `json:"canaryWeight"`
				Aborted      bool   `json:"aborted"`
			}
			code := d.getJSON(t, "/dashboard/api/rollouts/web", &det)
			return code == http.StatusOK && cond(det.CanaryWeight, det.Phase, det.Aborted), fmt.Sprintf("%d %+v", code, det)
		})
	}
	shown("the dashboard at 20%, paused", func(w int32, ph string, _ bool) bool { return w == 20 && ph == "Paused" })

	if code, body := d.post(t, "/dashboard/api/rollouts/web/abort"); code != http.StatusOK {
		t.Fatalf("POST abort: %d %s", code, body)
	}
	st := waitStatus(t, ns, "web", "aborted by the controller", func(st *v1alpha1.RolloutStatus) bool {
		return st.Abort && st.CanaryWeight == 0
	})
	if st.Phase != v1alpha1.PhaseDegraded {
		t.Errorf("after abort: phase %s, want Degraded", st.Phase)
	}
	eventually(t, 30*time.Second, "the command annotation removed once applied", func() (bool, string) {
		got := rolloutOf(t, ns, "web").Annotations[controller.AnnotationCommand]
		return got == "", got
	})
	shown("the dashboard rolled back", func(w int32, _ string, aborted bool) bool { return w == 0 && aborted })
}
