package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
)

// Client calls the daemon's API. Its methods mirror Control; Apply sends
// the user's file as it is, for the daemon to decode.
type Client struct {
	// BaseURL is e.g. "http://127.0.0.1:9470".
	BaseURL string
	Token   string
	// HTTP is the client to use; nil: http.DefaultClient.
	HTTP *http.Client
}

// APIError is an error response of the daemon.
type APIError struct {
	StatusCode int
	Message    string
	// Details list every mistake, one per line when printed.
	Details []string
}

// Error is the message, then each detail on its own line.
func (e *APIError) Error() string {
	if len(e.Details) == 0 {
		return e.Message
	}
	return e.Message + ":\n  " + strings.Join(e.Details, "\n  ")
}

// IsNotFound tells whether err is the daemon saying the rollout does not exist.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// Apply sends a spec file (YAML or JSON, one or more documents); dir is the
// absolute directory its relative commands resolve against.
func (c *Client) Apply(ctx context.Context, spec []byte, dir string) ([]Applied, error) {
	path := "/api/v1/rollouts"
	if dir != "" {
		path += "?dir=" + url.QueryEscape(dir)
	}
	var res ApplyResult
	err := c.do(ctx, http.MethodPost, path, "application/yaml", bytes.NewReader(spec), &res)
	return res.Items, err
}

// Get returns one rollout.
func (c *Client) Get(ctx context.Context, name string) (*v1alpha1.Rollout, error) {
	var ro v1alpha1.Rollout
	if err := c.do(ctx, http.MethodGet, rolloutPath(name, ""), "", nil, &ro); err != nil {
		return nil, err
	}
	return &ro, nil
}

// List returns every rollout, sorted by name.
func (c *Client) List(ctx context.Context) ([]*v1alpha1.Rollout, error) {
	var rs []*v1alpha1.Rollout
	err := c.do(ctx, http.MethodGet, "/api/v1/rollouts", "", nil, &rs)
	return rs, err
}

// Command sends promote, promote-full, abort, retry, pause or resume.
func (c *Client) Command(ctx context.Context, name string, cmd rollout.Command) error {
	if cmd == rollout.CommandNone {
		return errors.New("no command given")
	}
	return c.do(ctx, http.MethodPost, rolloutPath(name, string(cmd)), "", nil, nil)
}

// Undo goes back to revision, or to the previous stable one when empty.
func (c *Client) Undo(ctx context.Context, name, revision string) error {
	body, _ := json.Marshal(UndoRequest{Revision: revision})
	return c.do(ctx, http.MethodPost, rolloutPath(name, "undo"), "application/json", bytes.NewReader(body), nil)
}

// History returns a rollout's revisions, oldest first.
func (c *Client) History(ctx context.Context, name string) ([]store.Revision, error) {
	var revs []store.Revision
	err := c.do(ctx, http.MethodGet, rolloutPath(name, "history"), "", nil, &revs)
	return revs, err
}

// Runs returns a rollout's analysis runs.
func (c *Client) Runs(ctx context.Context, name string) ([]*v1alpha1.AnalysisRun, error) {
	var runs []*v1alpha1.AnalysisRun
	err := c.do(ctx, http.MethodGet, rolloutPath(name, "runs"), "", nil, &runs)
	return runs, err
}

// Events returns a rollout's recent events, oldest first.
func (c *Client) Events(ctx context.Context, name string) ([]store.Event, error) {
	var evs []store.Event
	err := c.do(ctx, http.MethodGet, rolloutPath(name, "events"), "", nil, &evs)
	return evs, err
}

// Delete stops a rollout and forgets it.
func (c *Client) Delete(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, rolloutPath(name, ""), "", nil, nil)
}

// Health checks that the daemon answers (without the token).
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", "", nil, nil)
}

func rolloutPath(name, sub string) string {
	p := "/api/v1/rollouts/" + url.PathEscape(name)
	if sub != "" {
		p += "/" + sub
	}
	return p
}

// do sends one request and decodes the JSON response into out (if not nil),
// or returns an *APIError.
func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cannot reach the fledge daemon at %s (has it stopped? `fledge serve` starts one): %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the response: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
		}
		return &APIError{StatusCode: resp.StatusCode, Message: eb.Error, Details: eb.Details}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode the response: %w", method, path, err)
	}
	return nil
}
