package sampleapp

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is one sample app. The zero value, with Listen set, is a healthy
// server that answers at once and never fails.
type Config struct {
	// Listen is the address to listen on, e.g. "127.0.0.1:8080" (port 0
	// picks a free port; Started tells which).
	Listen string
	// Version names the version in every response. Default "v1".
	Version string
	// Greeting replaces "hello" in the answer of GET /.
	Greeting string
	// ErrorRates is the probability, per route, of answering 500.
	ErrorRates Routes[float64]
	// Latency is the time added to each request of a route, give or take
	// Jitter of it.
	Latency Routes[time.Duration]
	// FailHealthAfter, if positive, turns /healthz to 500 once the server
	// has listened this long.
	FailHealthAfter time.Duration
	// StartupDelay is how long to wait before listening, like a service
	// that loads its caches first.
	StartupDelay time.Duration
	// CrashAfter, if positive, drops every connection this long after
	// listening and makes Run return an error, like a crash.
	CrashAfter time.Duration
	// ShutdownTimeout bounds the wait for requests in flight once ctx is
	// done; those still running then are cut. Default 30s.
	ShutdownTimeout time.Duration
	// Logger receives start, stop and fault lines; nil: discarded.
	Logger *slog.Logger
	// Started, if set, is called with the address once the server listens
	// (how a caller learns the port picked for port 0).
	Started func(addr net.Addr)
}

// Jitter is the fraction by which an added latency varies, up or down, so
// that latency histograms look like a service's rather than a metronome's.
const Jitter = 0.1

// Routes maps a route, "METHOD /path" or "*" for any, to a value.
type Routes[T any] map[string]T

// AnyRoute is the key of Routes that applies to routes not listed.
const AnyRoute = "*"

// For returns the value of the request's route, else of AnyRoute, else the
// zero value.
func (rs Routes[T]) For(method, path string) T {
	if len(rs) == 0 {
		var zero T
		return zero
	}
	if v, ok := rs[method+" "+path]; ok {
		return v
	}
	return rs[AnyRoute]
}

// String formats rs the way ParseErrorRates and ParseLatency read it.
func (rs Routes[T]) String() string {
	parts := make([]string, 0, len(rs))
	for k, v := range rs {
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// ParseErrorRates reads "POST /login=0.2,GET /=0.01": per-route
// probabilities between 0 and 1.
func ParseErrorRates(s string) (Routes[float64], error) {
	return parseRoutes(s, func(v string) (float64, error) {
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p < 0 || p > 1 {
			return 0, fmt.Errorf("want a probability between 0 and 1, got %q", v)
		}
		return p, nil
	})
}

// ParseLatency reads "GET /=5ms,POST /login=20ms": per-route durations.
func ParseLatency(s string) (Routes[time.Duration], error) {
	return parseRoutes(s, func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("want a duration such as 5ms, got %q", v)
		}
		return d, nil
	})
}

func parseRoutes[T any](s string, value func(string) (T, error)) (Routes[T], error) {
	rs := Routes[T]{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		eq := strings.LastIndexByte(item, '=')
		if eq < 0 {
			return nil, fmt.Errorf("route %q: want ROUTE=VALUE, e.g. \"GET /=...\"", item)
		}
		route, err := parseRoute(item[:eq])
		if err != nil {
			return nil, err
		}
		v, err := value(strings.TrimSpace(item[eq+1:]))
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", route, err)
		}
		if _, dup := rs[route]; dup {
			return nil, fmt.Errorf("route %q: given twice", route)
		}
		rs[route] = v
	}
	return rs, nil
}

// parseRoute normalises "get  /login" to "GET /login" and checks its shape.
func parseRoute(s string) (string, error) {
	fields := strings.Fields(s)
	if len(fields) == 1 && fields[0] == AnyRoute {
		return AnyRoute, nil
	}
	if len(fields) != 2 || !strings.HasPrefix(fields[1], "/") {
		return "", fmt.Errorf("route %q: want \"METHOD /path\" or \"*\"", strings.TrimSpace(s))
	}
	method := strings.ToUpper(fields[0])
	for _, c := range method {
		if c < 'A' || c > 'Z' {
			return "", fmt.Errorf("route %q: method %q is not a word", strings.TrimSpace(s), fields[0])
		}
	}
	return method + " " + fields[1], nil
}
