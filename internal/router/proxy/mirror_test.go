package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/rollout"
)

func TestMirrorSkipsLargeBodies(t *testing.T) {
	stable := echoBackend(t, "stable", 200)
	canary := echoBackend(t, "canary", 200)
	p, reg := startProxy(t, withFailover(v1alpha1.CanaryFailover{MaxBodyBytes: ptr(int64(8))}))
	p.SetEndpoints("stable", []string{stable.addr()})
	p.SetEndpoints("canary", []string{canary.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable", Canary: "canary", MirrorRoutes: []v1alpha1.SetMirrorRoute{{Name: "all", Percentage: ptr(int32(100))}}})

	big := strings.Repeat("x", 100)
	res, err := client().Post("http://"+p.Addr()+"/", "text/plain", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(got) != "stable:"+big {
		t.Fatalf("user got %q, want stable with the whole body", got)
	}
	if s := p.Stats(); s.Mirrored != 0 || s.MirrorsDropped != 1 {
		t.Fatalf("stats %+v: want the copy dropped", s)
	}
	if n := counts(reg, "canary").Requests; n != 0 {
		t.Fatalf("canary saw %d requests", n)
	}
}

func TestResponseCutMidBodyIsAFailure(t *testing.T) {
	cut := newBackend(t, "stable", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the replica dies mid-body
	})
	p, reg := startProxy(t)
	p.SetEndpoints("stable", []string{cut.addr()})
	setTraffic(t, p, rollout.Traffic{Stable: "stable"})
	res, err := client().Get("http://" + p.Addr() + "/")
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Fatal("the client got a whole response from a replica that died mid-body")
	}
	eventually(t, "the attempt recorded", func() bool { return counts(reg, "stable").Requests == 1 })
	if c := counts(reg, "stable"); c.Errors != 1 {
		t.Fatalf("stable metrics: %d errors, want the cut response counted as failed", c.Errors)
	}
}

func TestRouteNamesAreBounded(t *testing.T) {
	var n routeNames
	if got := n.name("GET", "/a"); got != "GET /a" {
		t.Fatalf("name = %q", got)
	}
	for i := range metrics.MaxRoutes * 2 {
		n.name("GET", fmt.Sprintf("/p%d", i))
	}
	if got := n.name("GET", "/a"); got != "GET /a" {
		t.Fatalf("a known route became %q", got)
	}
	if got := n.name("GET", "/new"); got != metrics.OtherRoute {
		t.Fatalf("route beyond the limit named %q, want %q", got, metrics.OtherRoute)
	}
}
