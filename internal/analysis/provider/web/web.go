package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/analysis/provider/web/jsonpath"
)

// ID is the provider's name, the JSON name of MetricProvider.Web.
const ID = "web"

func init() { provider.Register(ID, New) }

// maxBody bounds the response read.
const maxBody = 10 << 20

// Provider calls web endpoints.
type Provider struct {
	// verified and insecure share connections between measurements;
	// insecure skips the TLS verification (WebMetric.Insecure).
	verified, insecure *http.Client
}

var _ provider.Provider = (*Provider)(nil)

// New builds a provider; it needs nothing from d.
func New(provider.Deps) (provider.Provider, error) {
	return &Provider{verified: client(false), insecure: client(true)}, nil
}

// client is an HTTP client without a timeout of its own: each request's
// context bounds it. It follows redirects (up to 10), dropping the
// Authorization header when one leads to another host.
func client(insecure bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	}
	return &http.Client{Transport: t}
}

// Measure calls the metric's endpoint and picks its value.
func (p *Provider) Measure(ctx context.Context, m v1alpha1.Metric, _ provider.Env) (provider.Result, error) {
	w := m.Provider.Web
	if w == nil {
		return provider.Result{}, fmt.Errorf("web provider: metric %q has no provider.web", m.Name)
	}
	path, err := jsonpath.Parse(cmp.Or(w.JSONPath, v1alpha1.DefaultJSONPath))
	if err != nil {
		return provider.Result{}, fmt.Errorf("web provider: metric %q: %w", m.Name, err)
	}
	req, err := request(w)
	if err != nil {
		return provider.Result{}, fmt.Errorf("web provider: metric %q: %w", m.Name, err)
	}
	where := req.Method + " " + redacted(req.URL)

	timeout := time.Duration(w.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = v1alpha1.DefaultWebTimeoutSeconds * time.Second
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl).Round(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c := p.verified
	if w.Insecure {
		c = p.insecure
	}
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return provider.Result{}, fmt.Errorf("%s: %w", where, explain(ctx, err, timeout))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		return provider.Result{}, fmt.Errorf("%s: reading the response: %w", where, explain(ctx, err, timeout))
	case len(body) > maxBody:
		return provider.Result{}, fmt.Errorf("%s: the response is larger than %d MiB", where, maxBody>>20)
	case resp.StatusCode/100 != 2:
		return provider.Result{}, fmt.Errorf("%s: %s: %s", where, resp.Status, snippet(body))
	}
	return pick(path, body, where)
}

// request builds the metric's request, without its context.
func request(w *v1alpha1.WebMetric) (*http.Request, error) {
	var body io.Reader
	switch {
	case len(w.JSONBody) > 0:
		body = bytes.NewReader(w.JSONBody)
	case w.Body != "":
		body = strings.NewReader(w.Body)
	}
	method := w.Method
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequest(method, w.URL, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if len(w.JSONBody) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range w.Headers {
		if strings.EqualFold(h.Key, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Set(h.Key, h.Value)
	}
	return req, nil
}

// pick decodes a JSON response and selects the metric's value. It is pure.
func pick(path *jsonpath.Path, body []byte, where string) (provider.Result, error) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return provider.Result{}, fmt.Errorf("%s: the response is not JSON (%v): %s", where, err, snippet(body))
	}
	v, err := path.Get(doc)
	if err != nil {
		return provider.Result{}, fmt.Errorf("%s: %w", where, err)
	}
	switch l, isList := v.([]any); {
	case v == nil:
		return provider.Result{NoData: true, Message: fmt.Sprintf("%s: %s is null (no data)", where, path)}, nil
	case isList && path.Multi() && len(l) == 0:
		return provider.Result{NoData: true, Message: fmt.Sprintf("%s: %s matched nothing (no data)", where, path)}, nil
	}
	return provider.Result{Value: v, Message: fmt.Sprintf("%s: %s", where, path)}, nil
}

// explain says that a request ran out of time in words a user can act on.
func explain(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s (timeout): %w", timeout, context.DeadlineExceeded)
	}
	return err
}

// redacted writes a URL for a message, without its query string and
// password, which may be secrets.
func redacted(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.Fragment = "", false, ""
	return c.Redacted()
}

// snippet is the start of a body, on one line, for a message.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}
