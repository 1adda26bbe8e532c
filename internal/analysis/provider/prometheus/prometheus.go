package prometheus

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
)

// ID is the provider's name, the JSON name of MetricProvider.Prometheus.
const ID = "prometheus"

func init() { provider.Register(ID, New) }

// maxBody bounds the answer read: a query selecting far too many series
// is a mistake to report, not a reason to exhaust memory.
const maxBody = 32 << 20

// Provider queries Prometheus servers.
type Provider struct {
	// verified and insecure share connections between measurements;
	// insecure skips the TLS verification (PrometheusMetric.Insecure).
	verified, insecure *http.Client
	// readings are the judges' last readings (JudgeVersions).
	readings readings
}

var _ provider.Provider = (*Provider)(nil)

// New builds a provider; it needs nothing from d.
func New(provider.Deps) (provider.Provider, error) {
	return &Provider{verified: client(false), insecure: client(true)}, nil
}

// client is an HTTP client without a timeout of its own: each query's
// context bounds it.
func client(insecure bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for it
	}
	return &http.Client{Transport: t}
}

// Measure runs the metric's query. No series, or a NaN, has no data; a
// failure to get an answer is an error.
func (p *Provider) Measure(ctx context.Context, m v1alpha1.Metric, env provider.Env) (provider.Result, error) {
	pm := m.Provider.Prometheus
	if pm == nil {
		return provider.Result{}, fmt.Errorf("prometheus provider: metric %q has no provider.prometheus", m.Name)
	}
	timeout := v1alpha1.DefaultPrometheusTimeout
	if pm.Timeout != nil && pm.Timeout.Duration > 0 {
		timeout = pm.Timeout.Duration
	}
	// The measurement's own limit may be shorter: say which one applied,
	// and let Prometheus give up as soon as nobody waits for the answer.
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl).Round(time.Millisecond)
	}
	endpoint, form, err := request(pm, env, timeout)
	if err != nil {
		return provider.Result{}, fmt.Errorf("prometheus provider: metric %q: %w", m.Name, err)
	}
	body, err := p.query(ctx, pm, endpoint, form, timeout)
	if err != nil {
		return provider.Result{}, fmt.Errorf("prometheus %s: %w", redacted(pm.Address), err)
	}
	res, err := decode(body)
	if err != nil {
		return provider.Result{}, fmt.Errorf("prometheus %s: query %q: %w", redacted(pm.Address), oneLine(pm.Query), err)
	}
	return res, nil
}

// request is the API endpoint and form of the metric's query.
func request(pm *v1alpha1.PrometheusMetric, env provider.Env, timeout time.Duration) (string, url.Values, error) {
	form := url.Values{"query": {pm.Query}, "timeout": {seconds(timeout)}}
	r := pm.RangeQuery
	if r == nil {
		if !env.Now.IsZero() {
			form.Set("time", timestamp(env.Now))
		}
		return "api/v1/query", form, nil
	}
	if r.Step == nil || r.Step.Duration <= 0 {
		return "", nil, errors.New("rangeQuery.step must be positive")
	}
	start, err := bound("start", r.Start, v1alpha1.DefaultRangeStart, env)
	if err != nil {
		return "", nil, err
	}
	end, err := bound("end", r.End, v1alpha1.DefaultRangeEnd, env)
	if err != nil {
		return "", nil, err
	}
	if end.Before(start) {
		return "", nil, fmt.Errorf("rangeQuery: end %s is before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	form.Set("start", timestamp(start))
	form.Set("end", timestamp(end))
	form.Set("step", seconds(r.Step.Duration))
	return "api/v1/query_range", form, nil
}

// bound evaluates a range bound (def when unset) for the window of env.
func bound(name, expr, def string, env provider.Env) (time.Time, error) {
	if expr == "" {
		expr = def
	}
	prg, err := v1alpha1.CompileTimeExpr(expr)
	if err != nil {
		return time.Time{}, fmt.Errorf("rangeQuery.%s %q: %w", name, expr, err)
	}
	out, _, err := prg.Eval(map[string]any{
		v1alpha1.TimeNowVar:         env.Now,
		v1alpha1.TimeWindowStartVar: env.WindowStart,
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("rangeQuery.%s %q: %w", name, expr, err)
	}
	t, ok := out.Value().(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("rangeQuery.%s %q yielded %v, not a timestamp", name, expr, out.Value())
	}
	return t, nil
}

// query sends the query and returns the answer of a successful one. It
// POSTs the form, as Prometheus' own client does, and falls back to GET for
// a gateway that does not accept POST (405 or 501). An answer with an error
// status still carries Prometheus' explanation.
func (p *Provider) query(ctx context.Context, pm *v1alpha1.PrometheusMetric, endpoint string, form url.Values, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := p.verified
	if pm.Insecure {
		c = p.insecure
	}
	u := strings.TrimSuffix(pm.Address, "/") + "/" + endpoint
	status, body, err := send(ctx, c, pm, http.MethodPost, u, form)
	if err == nil && (status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented) {
		status, body, err = send(ctx, c, pm, http.MethodGet, u+"?"+form.Encode(), nil)
	}
	switch {
	case err != nil:
		return nil, explain(ctx, err, timeout)
	case len(body) > maxBody:
		return nil, fmt.Errorf("the answer is larger than %d MiB: select fewer series", maxBody>>20)
	case status/100 != 2:
		var r response
		if json.Unmarshal(body, &r) == nil && r.Error != "" {
			return nil, fmt.Errorf("%d %s: %w", status, http.StatusText(status), apiError(r))
		}
		return nil, fmt.Errorf("%d %s: %s", status, http.StatusText(status), snippet(body))
	}
	return body, nil
}

// send makes one request with the metric's headers; form is the body of a
// POST. It reads at most maxBody+1 bytes of the answer.
func send(ctx context.Context, c *http.Client, pm *v1alpha1.PrometheusMetric, method, u string, form url.Values) (int, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	for _, h := range pm.Headers {
		if strings.EqualFold(h.Key, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Set(h.Key, h.Value)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, b, nil
}

// explain says that a request ran out of time in words a user can act on.
func explain(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s (timeout): %w", timeout, context.DeadlineExceeded)
	}
	return err
}

func timestamp(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// snippet is the start of a body, on one line, for a message.
func snippet(b []byte) string {
	s := oneLine(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// redacted writes an address for a message without its password.
func redacted(address string) string {
	u, err := url.Parse(address)
	if err != nil {
		return "(an address that does not parse)"
	}
	return u.Redacted()
}
