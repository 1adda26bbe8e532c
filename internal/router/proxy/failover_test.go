package proxy

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
)

// echoBackend answers with its name and the request's body.
func echoBackend(t *testing.T, name string, status int) *backend {
	return newBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(status)
		io.WriteString(w, name+":"+string(b))
	})
}

func TestFailoverHidesCanaryServerErrors(t *testing.T) {
	tests := map[string]struct {
		failover    *v1alpha1.CanaryFailover
		method      string
		wantStatus  int
		wantBody    string
		wantUserErr uint64 // canary errors users saw
	}{
		"GET is replayed on stable": {
			method: "GET", wantStatus: 200, wantBody: "stable:",
		},
		"POST is not, by default": {
			method: "POST", wantStatus: 500, wantBody: "canary:payload", wantUserErr: 1,
		},
		"POST is when listed, with its body": {
			failover: &v1alpha1.CanaryFailover{Methods: []string{"GET", "post"}},
			method:   "POST", wantStatus: 200, wantBody: "stable:payload",
		},
		"nothing is when disabled": {
			failover: &v1alpha1.CanaryFailover{Enabled: new(bool)},
			method:   "GET", wantStatus: 500, wantBody: "canary:", wantUserErr: 1,
		},
		"POST larger than maxBodyBytes is not": {
			failover: &v1alpha1.CanaryFailover{Methods: []string{"POST"}, MaxBodyBytes: ptr(int64(3))},
			method:   "POST", wantStatus: 500, wantBody: "canary:payload", wantUserErr: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stable, canary := echoBackend(t, "stable", 200), echoBackend(t, "canary", 500)
			var opts []proxyOption
			if tc.failover != nil {
				opts = append(opts, withFailover(*tc.failover))
			}
			p, reg := startProxy(t, opts...)
			p.SetEndpoints("stable", []string{stable.addr()})
			p.SetEndpoints("canary", []string{canary.addr()})
			setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 100})

			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader("payload")
			}
			res, err := client().Do(newRequest(t, tc.method, "http://"+p.Addr()+"/buy", body))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.wantStatus || string(got) != tc.wantBody {
				t.Fatalf("user got %d %q, want %d %q", res.StatusCode, got, tc.wantStatus, tc.wantBody)
			}
			if c := counts(reg, "canary"); c.Requests != 1 || c.Errors != 1 {
				t.Errorf("canary metrics %d requests, %d errors; want the failure recorded once", c.Requests, c.Errors)
			}
			wantStable := uint64(1) - tc.wantUserErr
			if s := counts(reg, "stable"); s.Requests != wantStable || s.Errors != 0 {
				t.Errorf("stable metrics %d requests, %d errors; want %d, 0", s.Requests, s.Errors, wantStable)
			}
			st := p.Stats()
			if st.UserErrors["canary"] != tc.wantUserErr || st.Failovers != wantStable {
				t.Errorf("stats %+v: want %d canary user errors and %d failovers", st, tc.wantUserErr, wantStable)
			}
		})
	}
}

func TestFailoverOnRefusedConnection(t *testing.T) {
	// An address nothing listens on: the dial is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	stable := echoBackend(t, "stable", 200)
	p, reg := startProxy(t)
	p.SetEndpoints("stable", []string{stable.addr()})
	p.SetEndpoints("canary", []string{dead})
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", CanaryWeight: 100})

	c := client()
	for _, method := range []string{"GET", "POST"} { // POST too: nothing reached the canary
		res, err := c.Do(newRequest(t, method, "http://"+p.Addr()+"/", strings.NewReader("data")))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(got) != "stable:data" {
			t.Fatalf("%s: user got %d %q, want 200 from stable with the body", method, res.StatusCode, got)
		}
	}
	if c := counts(reg, "canary"); c.Requests != 2 || c.Errors != 2 {
		t.Errorf("canary metrics %d requests, %d errors; want 2 failed attempts", c.Requests, c.Errors)
	}
	if ue := p.UserErrors(); len(ue) != 0 {
		t.Errorf("UserErrors = %v, want none", ue)
	}

	// Without a stable replica to fall back on, the user gets the error.
	p.SetEndpoints("stable", nil)
	if code, _ := get(t, c, newRequest(t, "GET", "http://"+p.Addr()+"/", nil)); code != 503 {
		t.Fatalf("no replica anywhere: %d, want 503", code)
	}
	setTraffic(t, p, rollout.Traffic{Stable: "canary"})
	if code, _ := get(t, c, newRequest(t, "GET", "http://"+p.Addr()+"/", nil)); code != 502 {
		t.Fatalf("stable refusing: %d, want 502", code)
	}
	if ue := p.UserErrors(); ue["canary"] != 1 || ue["stable"] != 1 {
		t.Errorf("UserErrors = %v, want canary 1 (the 502) and stable 1 (the 503)", ue)
	}
}

func ptr[T any](v T) *T { return &v }
