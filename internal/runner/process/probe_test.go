package process

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

func TestThresholdFollowsTheKubelet(t *testing.T) {
	tests := map[string]struct {
		kind                probeKind
		successes, failures int32
		outcomes            string // s = success, f = failure
		want                string // verdict after each outcome: R ready/passed, F failed, ? unknown
	}{
		"readiness starts failed, 1 success suffices":   {readinessProbe, 1, 3, "sff f", "RRRF"},
		"readiness needs successThreshold in a row":     {readinessProbe, 2, 1, "sfssf", "FFFRF"},
		"liveness starts passed, fails at threshold":    {livenessProbe, 1, 3, "ffsfff", "RRRRRF"},
		"startup undecided until a success":             {startupProbe, 1, 3, "ffs", "??R"},
		"startup fails after failureThreshold in a row": {startupProbe, 1, 2, "fsff", "?RRF"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			th := newThreshold(tc.kind, &v1alpha1.Probe{SuccessThreshold: tc.successes, FailureThreshold: tc.failures})
			var got strings.Builder
			for _, o := range strings.ReplaceAll(tc.outcomes, " ", "") {
				v, _ := th.observe(o == 's')
				got.WriteByte(map[result]byte{unknown: '?', success: 'R', failure: 'F'}[v])
			}
			if got.String() != tc.want {
				t.Errorf("verdicts = %s, want %s", got.String(), tc.want)
			}
		})
	}
}

func TestBackoffDoublesCapsAndResets(t *testing.T) {
	const s = time.Second
	tests := map[string]struct {
		runs []time.Duration // how long each run lasted
		want []time.Duration // the back-off after each
	}{
		"doubles from the base": {runs: []time.Duration{0, 0, 0, 0}, want: []time.Duration{s, 2 * s, 4 * s, 8 * s}},
		"capped at max":         {runs: []time.Duration{0, 0, 0, 0, 0, 0}, want: []time.Duration{s, 2 * s, 4 * s, 8 * s, 10 * s, 10 * s}},
		"reset after a long run": {runs: []time.Duration{0, 0, 0, time.Minute, 0},
			want: []time.Duration{s, 2 * s, 4 * s, s, 2 * s}},
		"a run just short of reset keeps growing": {runs: []time.Duration{0, time.Minute - 1}, want: []time.Duration{s, 2 * s}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := backoff{base: s, max: 10 * s, reset: time.Minute}
			for i, r := range tc.runs {
				if got := b.next(r); got != tc.want[i] {
					t.Fatalf("back-off %d = %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestScaleDownOrder(t *testing.T) {
	tests := map[string]struct {
		ready []bool // by creation order
		want  []int  // victims' creation order, first first
	}{
		"newest first":            {ready: []bool{true, true, true}, want: []int{3, 2, 1}},
		"not ready before newest": {ready: []bool{true, false, true}, want: []int{2, 3, 1}},
		"several not ready":       {ready: []bool{false, true, false}, want: []int{3, 1, 2}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var rs []*replica
			for i, ok := range tc.ready {
				rs = append(rs, &replica{seq: uint64(i + 1), ready: ok})
			}
			slices.SortStableFunc(rs, scaleDownFirst)
			for i, r := range rs {
				if int(r.seq) != tc.want[i] {
					t.Fatalf("order %v, want %v", seqs(rs), tc.want)
				}
			}
		})
	}
}

func seqs(rs []*replica) []uint64 {
	var s []uint64
	for _, r := range rs {
		s = append(s, r.seq)
	}
	return s
}

func TestHTTPChecker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			time.Sleep(1500 * time.Millisecond)
		case "/redirect":
			http.Redirect(w, r, "http://127.0.0.1:1/", http.StatusFound)
		default:
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
			w.WriteHeader(code)
		}
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	tests := map[string]struct {
		path    string
		wantErr string
	}{
		"200 passes":                 {path: "/200"},
		"399 passes":                 {path: "/399"},
		"redirect not followed":      {path: "/redirect"},
		"404 fails":                  {path: "/404", wantErr: "statuscode: 404"},
		"500 fails":                  {path: "/500", wantErr: "statuscode: 500"},
		"timeout fails":              {path: "/slow", wantErr: "deadline exceeded"},
		"path without slash is made": {path: "204"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			check := httpChecker(&v1alpha1.HTTPGetAction{Path: tc.path}, port)
			err := (&prober{spec: &v1alpha1.Probe{TimeoutSeconds: 1}, check: check}).probe(context.Background())
			checkErr(t, err, tc.wantErr)
		})
	}
}

func TestTCPChecker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := l.Addr().(*net.TCPAddr).Port
	closed, _ := pickPort(0)
	defer releasePort(closed)
	defer l.Close()
	checkErr(t, tcpChecker(&v1alpha1.TCPSocketAction{}, open)(context.Background()), "")
	checkErr(t, tcpChecker(&v1alpha1.TCPSocketAction{Port: int32(open)}, closed)(context.Background()), "")
	checkErr(t, tcpChecker(&v1alpha1.TCPSocketAction{}, closed)(context.Background()), "connection refused")
}

func TestExecChecker(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		argv    []string
		wantErr string
	}{
		"exit 0 passes":           {argv: []string{"true"}},
		"exit 1 fails":            {argv: []string{"sh", "-c", "echo broken; exit 1"}, wantErr: "exit status 1: broken"},
		"sees env":                {argv: []string{"sh", "-c", `test "$PORT" = 8080`}},
		"timeout kills the group": {argv: []string{"sh", "-c", "sleep 30 & echo $! > bg; wait"}, wantErr: "timed out"},
		"missing command":         {argv: []string{"no-such-command-here"}, wantErr: "not found"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			check := execChecker(tc.argv, []string{"PORT=8080", "PATH=" + os.Getenv("PATH")}, dir)
			start := time.Now()
			err := (&prober{spec: &v1alpha1.Probe{TimeoutSeconds: 1}, check: check}).probe(context.Background())
			checkErr(t, err, tc.wantErr)
			if time.Since(start) > 5*time.Second {
				t.Errorf("probe took %v, want it cut at its timeout", time.Since(start))
			}
		})
	}
	b, err := os.ReadFile(filepath.Join(dir, "bg"))
	if err != nil {
		t.Fatal(err)
	}
	bg, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// SIGKILL is delivered asynchronously: on a busy machine the child may
	// still be scheduled for a moment after the kill returned. Nothing
	// signals its end to this process (it is not our child): poll.
	for deadline := time.Now().Add(5 * time.Second); alive(bg); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the timed-out probe's background child %d survives", bg)
		}
	}
}

func TestResolveCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "local"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh, _ := resolveCommand("sh", "/nonexistent")
	tests := map[string]struct{ name, want string }{
		"absolute":             {"/bin/x", "/bin/x"},
		"relative to dir":      {"./app", filepath.Join(dir, "app")},
		"bare name in dir":     {"local", filepath.Join(dir, "local")},
		"bare name from PATH":  {"sh", sh},
		"nested relative path": {"bin/app", filepath.Join(dir, "bin/app")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := resolveCommand(tc.name, dir)
			if err != nil || got != tc.want {
				t.Errorf("resolveCommand(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
			}
		})
	}
	if !strings.HasSuffix(sh, "/sh") {
		t.Errorf("sh resolved to %q", sh)
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("err = %v, want none", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("err = %v, want one containing %q", err, want)
	}
}
