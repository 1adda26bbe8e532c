package gate

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// receiver is a real HTTP server on loopback that answers with the codes
// given, in order, the last one forever, and records the payloads.
type receiver struct {
	*httptest.Server
	codes    []int
	calls    atomic.Int32
	payloads chan Payload
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{codes: codes, payloads: make(chan Payload, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.calls.Add(1))
		var p Payload
		if err := json.NewDecoder(req.Body).Decode(&p); err != nil || req.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		select {
		case r.payloads <- p:
		default:
		}
		w.WriteHeader(r.codes[min(n, len(r.codes))-1])
	}))
	t.Cleanup(r.Close)
	return r
}

func hook(t v1alpha1.WebhookType, url string) v1alpha1.Webhook {
	return v1alpha1.Webhook{Name: "ci", Type: t, URL: url, Metadata: map[string]string{"team": "web"}}
}

var fast = Caller{Attempts: 3, Backoff: time.Millisecond}

// TestCall covers one gate check against a real receiver.
func TestCall(t *testing.T) {
	tests := map[string]struct {
		codes    []int
		ok       bool
		calls    int32
		contains string
	}{
		"2xx opens at once":            {codes: []int{204}, ok: true, calls: 1, contains: "webhook ci answered 204"},
		"a 500 is retried":             {codes: []int{500, 500, 200}, ok: true, calls: 3, contains: "answered 200"},
		"non-2xx through all attempts": {codes: []int{403}, ok: false, calls: 3, contains: "webhook ci answered 403 after 3 attempts"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := newReceiver(t, tc.codes...)
			res := fast.Call(context.Background(), hook(v1alpha1.WebhookConfirmPromotion, r.URL), Payload{Name: "web", Phase: "Progressing", Weight: 10})
			if res.OK != tc.ok || r.calls.Load() != tc.calls || !strings.Contains(res.Message, tc.contains) {
				t.Fatalf("got ok=%v calls=%d %q; want ok=%v calls=%d %q", res.OK, r.calls.Load(), res.Message, tc.ok, tc.calls, tc.contains)
			}
		})
	}
}

// TestPayload checks the documented payload reaches the receiver.
func TestPayload(t *testing.T) {
	r := newReceiver(t, 200)
	fast.Call(context.Background(), hook(v1alpha1.WebhookPreRollout, r.URL),
		Payload{Name: "web", Namespace: "default", Phase: "Progressing", Revision: Revisions{Stable: "1", Canary: "2"}, Weight: 0})
	got := <-r.payloads
	want := Payload{Name: "web", Namespace: "default", Phase: "Progressing", Type: v1alpha1.WebhookPreRollout,
		Revision: Revisions{Stable: "1", Canary: "2"}, Metadata: map[string]string{"team": "web"}}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Fatalf("payload %s, want %s", g, w)
	}
}

// TestCallTimeout: a receiver slower than the webhook's timeout fails the
// attempt, and is retried.
func TestCallTimeout(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		calls.Add(1)
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	h := hook(v1alpha1.WebhookConfirmPromotion, srv.URL)
	h.Timeout = &v1alpha1.Duration{Duration: 50 * time.Millisecond}
	res := Caller{Attempts: 2, Backoff: time.Millisecond}.Call(context.Background(), h, Payload{})
	if res.OK || calls.Load() != 2 || !strings.Contains(res.Message, "deadline exceeded") {
		t.Fatalf("got ok=%v calls=%d %q; want a timeout, retried once", res.OK, calls.Load(), res.Message)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
