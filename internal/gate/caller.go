package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
)

// Payload is the JSON body POSTed to a webhook.
type Payload struct {
	Name      string               `json:"name"`
	Namespace string               `json:"namespace"`
	Phase     string               `json:"phase"`
	Type      v1alpha1.WebhookType `json:"type"`
	Revision  Revisions            `json:"revision"`
	Weight    int32                `json:"weight"`
	Metadata  map[string]string    `json:"metadata,omitempty"`
}

// Revisions names the stable and the canary revision.
type Revisions struct {
	Stable string `json:"stable"`
	Canary string `json:"canary"`
}

// DefaultTimeout bounds one call when the webhook sets none.
const DefaultTimeout = 10 * time.Second

// Caller makes webhook calls.
type Caller struct {
	// Client sends the requests; nil: a client without a global timeout
	// (each call has its own).
	Client *http.Client
	// Attempts is how many times a call is made before it fails; default 3.
	Attempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each; default 200ms.
	Backoff time.Duration
}

// Result is the answer of one webhook after its retries.
type Result struct {
	// OK says the webhook answered 2xx.
	OK bool
	// Message says what it answered, for the rollout's status.
	Message string
}

// Call POSTs p to h until it answers 2xx or the attempts run out. Every
// non-2xx answer and every transport error is retried: a receiver that
// holds a gate answers the same again, a flaky one gets its chance.
func (c Caller) Call(ctx context.Context, h v1alpha1.Webhook, p Payload) Result {
	p.Type, p.Metadata = h.Type, h.Metadata
	body, err := json.Marshal(p)
	if err != nil {
		return Result{Message: fmt.Sprintf("webhook %s: encode payload: %v", h.Name, err)}
	}
	attempts, wait := max(c.Attempts, 1), c.Backoff
	if c.Attempts == 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = 200 * time.Millisecond
	}
	var last string
	for i := 1; i <= attempts; i++ {
		status, err := c.post(ctx, h, body)
		switch {
		case err != nil:
			last = fmt.Sprintf("webhook %s: %v", h.Name, err)
		case status/100 == 2:
			return Result{OK: true, Message: fmt.Sprintf("webhook %s answered %d", h.Name, status)}
		default:
			last = fmt.Sprintf("webhook %s answered %d", h.Name, status)
		}
		if i == attempts {
			break
		}
		select {
		case <-ctx.Done():
			return Result{Message: last + " (canceled)"}
		case <-time.After(wait):
		}
		wait *= 2
	}
	return Result{Message: fmt.Sprintf("%s after %d attempts", last, attempts)}
}

// post makes one attempt and returns the answer's status code.
func (c Caller) post(ctx context.Context, h v1alpha1.Webhook, body []byte) (int, error) {
	timeout := DefaultTimeout
	if h.Timeout != nil && h.Timeout.Duration > 0 {
		timeout = h.Timeout.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	return resp.StatusCode, nil
}
