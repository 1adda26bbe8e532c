package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var metaRollout = metav1.TypeMeta{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.KindRollout}

func objectMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

const validSpec = `apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  template:
    command: ["./app", "v2"]
  strategy:
    canary:
      trafficRouting:
        proxy: {listen: "127.0.0.1:8080"}
      steps:
      - setWeight: 20
      - pause: {}
`

const invalidSpec = `apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata:
  name: Web_Shop
spec:
  replicas: -1
  template:
    command: []
  strategy:
    canary:
      steps:
      - setWeight: 150
`

// startServer runs a server on a loopback port until the test ends and
// returns a client holding the token.
func startServer(t *testing.T, ctl Control, reg *metrics.Registry) (*Server, *Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := New(Config{Addr: "127.0.0.1:0", Token: testToken, Control: ctl, Metrics: reg, NotFound: func(err error) bool { return errors.Is(err, errNotFound) }})
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start returned %v after a clean shutdown", err)
		}
	})
	return srv, &Client{BaseURL: "http://" + srv.Addr(), Token: testToken}
}

func TestTokenRequired(t *testing.T) {
	ctl := newFake("web")
	srv, _ := startServer(t, ctl, metrics.New())
	base := "http://" + srv.Addr()
	cases := map[string]struct {
		method, path, auth string
		want               int
	}{
		"no token":             {"GET", "/api/v1/rollouts", "", 401},
		"wrong token":          {"GET", "/api/v1/rollouts", "Bearer " + strings.Repeat("0", 64), 401},
		"token prefix":         {"GET", "/api/v1/rollouts", "Bearer " + testToken[:10], 401},
		"not bearer":           {"GET", "/api/v1/rollouts", "Basic " + testToken, 401},
		"wrong token, command": {"POST", "/api/v1/rollouts/web/abort", "Bearer nope", 401},
		"wrong token, unknown": {"GET", "/api/v1/nothing", "Bearer nope", 401},
		"right token":          {"GET", "/api/v1/rollouts", "Bearer " + testToken, 200},
		"healthz, no token":    {"GET", "/healthz", "", 200},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, base+c.path, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
			if c.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	if calls := ctl.Calls(); len(calls) != 0 {
		t.Errorf("unauthorised requests reached the control: %v", calls)
	}
	// /metrics needs no token (it reads the rollouts, their runs and events).
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/metrics without a token: status %d, want 200", resp.StatusCode)
	}
}

func TestEmptyTokenRefusesEverything(t *testing.T) {
	srv := New(Config{Control: newFake("web")})
	for _, auth := range []string{"", "Bearer ", "Bearer  "} {
		req, _ := http.NewRequest("GET", "/api/v1/rollouts", nil)
		req.Header.Set("Authorization", auth)
		rec := &recorder{header: http.Header{}}
		srv.Handler().ServeHTTP(rec, req)
		if rec.status != 401 {
			t.Errorf("Authorization %q with no configured token: status %d", auth, rec.status)
		}
	}
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(s int)           { r.status = s }

// Every verb of the client reaches the control with its arguments.
func TestEveryVerbReachesControl(t *testing.T) {
	ctl := newFake("web")
	_, c := startServer(t, ctl, nil)
	ctx := context.Background()
	cmds := []rollout.Command{rollout.CommandPromote, rollout.CommandPromoteFull, rollout.CommandAbort, rollout.CommandRetry, rollout.CommandPause, rollout.CommandResume}
	for _, cmd := range cmds {
		if err := c.Command(ctx, "web", cmd); err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
	}
	steps := []func() error{
		func() error { return c.Undo(ctx, "web", "") },
		func() error { return c.Undo(ctx, "web", "3") },
		func() error { _, err := c.History(ctx, "web"); return err },
		func() error { _, err := c.Runs(ctx, "web"); return err },
		func() error { _, err := c.Events(ctx, "web"); return err },
		func() error { _, err := c.Apply(ctx, []byte(validSpec), "/srv/web"); return err },
		func() error { return c.Delete(ctx, "web") },
	}
	for i, f := range steps {
		if err := f(); err != nil {
			t.Errorf("step %d: %v", i, err)
		}
	}
	want := []string{
		"promote web", "promote-full web", "abort web", "retry web", "pause web", "resume web",
		`undo web to=""`, `undo web to="3"`, "history web", "runs web", "events web", "apply web dir=/srv/web", "delete web",
	}
	if got := ctl.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
}

func TestReads(t *testing.T) {
	ctl := newFake("web", "api")
	_, c := startServer(t, ctl, nil)
	ctx := context.Background()
	rs, err := c.List(ctx)
	if err != nil || len(rs) != 2 || rs[0].Name != "api" || rs[1].Name != "web" {
		t.Fatalf("List = %v, %v", rs, err)
	}
	ro, err := c.Get(ctx, "web")
	if err != nil || ro.Name != "web" || ro.Status.StableRevision != "1" {
		t.Errorf("Get = %+v, %v", ro, err)
	}
	revs, err := c.History(ctx, "web")
	if err != nil || len(revs) != 2 || revs[1].Template.Command[1] != "v2" {
		t.Errorf("History = %+v, %v", revs, err)
	}
	evs, err := c.Events(ctx, "web")
	if err != nil || len(evs) != 1 || evs[0].Actor != "user" {
		t.Errorf("Events = %+v, %v", evs, err)
	}
	runs, err := c.Runs(ctx, "web")
	if err != nil || runs == nil || len(runs) != 0 {
		t.Errorf("Runs = %#v, %v (want an empty list)", runs, err)
	}
}

func TestNotFound(t *testing.T) {
	ctl := newFake("web")
	_, c := startServer(t, ctl, nil)
	ctx := context.Background()
	calls := map[string]func() error{
		"get":     func() error { _, err := c.Get(ctx, "nope"); return err },
		"promote": func() error { return c.Command(ctx, "nope", rollout.CommandPromote) },
		"undo":    func() error { return c.Undo(ctx, "nope", "") },
		"history": func() error { _, err := c.History(ctx, "nope"); return err },
		"runs":    func() error { _, err := c.Runs(ctx, "nope"); return err },
		"events":  func() error { _, err := c.Events(ctx, "nope"); return err },
		"delete":  func() error { return c.Delete(ctx, "nope") },
	}
	for name, f := range calls {
		err := f()
		if !IsNotFound(err) {
			t.Errorf("%s: error %v, want a 404", name, err)
			continue
		}
		if err.Error() != `rollout "nope" not found` {
			t.Errorf("%s: message %q", name, err)
		}
	}
	err := c.do(ctx, "POST", "/api/v1/rollouts/web/launch", "", nil, nil)
	if !IsNotFound(err) || !strings.Contains(err.Error(), `unknown command "launch"`) {
		t.Errorf("unknown command: %v", err)
	}
}

func TestApplyInvalidAppliesNothing(t *testing.T) {
	ctl := newFake()
	_, c := startServer(t, ctl, nil)
	_, err := c.Apply(context.Background(), []byte(invalidSpec), "/srv")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("error %v, want a 422", err)
	}
	_, want := v1alpha1.Load([]byte(invalidSpec))
	if got := strings.Join(apiErr.Details, "\n"); got != want.Error() {
		t.Errorf("details:\n%s\nwant every message of Load:\n%s", got, want)
	}
	if len(apiErr.Details) < 4 {
		t.Errorf("only %d details: %q", len(apiErr.Details), apiErr.Details)
	}
	if calls := ctl.Calls(); len(calls) != 0 {
		t.Errorf("an invalid spec reached the control: %v", calls)
	}
}

func TestApplyResults(t *testing.T) {
	ctl := newFake()
	_, c := startServer(t, ctl, nil)
	ctx := context.Background()
	for _, want := range []string{"created", "configured"} {
		items, err := c.Apply(ctx, []byte(validSpec), "/srv/web")
		if err != nil || len(items) != 1 || items[0] != (Applied{Name: "web", Action: want}) {
			t.Errorf("Apply = %+v, %v; want web %s", items, err, want)
		}
	}
	if _, err := c.Apply(ctx, []byte(validSpec), "relative/dir"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative dir: %v", err)
	}
	// The daemon's own checks (an address in use) come back as 422 with
	// every message.
	ctl.applyErr = errors.Join(
		&v1alpha1.FieldError{Path: "spec.strategy.trafficRouting.proxy", Reason: "cannot listen on 127.0.0.1:8080: address in use"},
		v1alpha1.ErrorList{{Path: "spec.template", Reason: "required in local mode"}},
	)
	_, err := c.Apply(ctx, []byte(validSpec), "")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 422 || len(apiErr.Details) != 2 {
		t.Errorf("control validation error: %#v", err)
	}
}

func TestCommandRefusedIsConflict(t *testing.T) {
	ctl := newFake("web")
	ctl.refuse = errors.New("web: nothing to retry: the rollout is not aborted")
	_, c := startServer(t, ctl, nil)
	err := c.Command(context.Background(), "web", rollout.CommandRetry)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict || apiErr.Message != ctl.refuse.Error() {
		t.Errorf("refused command: %#v", err)
	}
}

func TestUndoBody(t *testing.T) {
	ctl := newFake("web")
	srv, _ := startServer(t, ctl, nil)
	req, _ := http.NewRequest("POST", "http://"+srv.Addr()+"/api/v1/rollouts/web/undo", strings.NewReader(`{"revison": "2"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "revison") {
		t.Errorf("misspelt field: %d %s", resp.StatusCode, body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	reg := metrics.New()
	reg.Observe(metrics.Key{Rollout: "web", Revision: "2", Route: "GET /"}, false, time.Millisecond)
	ctl := newFake("web")
	ctl.rollouts["web"].Status = v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseProgressing, CanaryWeight: 20, CurrentStepIndex: 1}
	srv, _ := startServer(t, ctl, reg)
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		`fledge_requests_total{rollout="web",revision="2",route="GET /"} 1`,
		`fledge_rollout_phase{rollout="web",phase="Progressing"} 1`,
		`fledge_rollout_phase{rollout="web",phase="Healthy"} 0`,
		`fledge_rollout_canary_weight{rollout="web"} 20`,
		`fledge_rollout_step{rollout="web"} 1`,
		"# TYPE fledge_rollout_phase gauge",
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	srv, _ := startServer(t, newFake(), nil)
	second := New(Config{Addr: srv.Addr(), Token: testToken, Control: newFake()})
	err := second.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), srv.Addr()) {
		t.Errorf("second Start on %s: %v", srv.Addr(), err)
	}
}

func TestClientUnreachable(t *testing.T) {
	c := &Client{BaseURL: "http://127.0.0.1:1", Token: testToken}
	if _, err := c.List(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot reach the fledge daemon") {
		t.Errorf("unreachable daemon: %v", err)
	}
}
