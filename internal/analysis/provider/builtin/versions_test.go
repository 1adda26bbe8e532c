package builtin

import (
	"context"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/metrics"
)

// TestVersions checks that both versions are read over the same window,
// per route, with histograms even for a version without requests, and
// that consecutive windows count each request once.
func TestVersions(t *testing.T) {
	reg := metrics.New()
	p := newProvider(t, reg).(*Provider)
	env := provider.Env{Rollout: "web", CanaryRevision: "2", StableRevision: "1", WindowStart: time.Now()}
	feed(reg, "web", "2", "POST /login", 20, 4, 5*time.Millisecond)
	feed(reg, "web", "2", "GET /", 30, 0, time.Millisecond)
	feed(reg, "web", "1", "POST /login", 180, 1, 5*time.Millisecond)
	feed(reg, "other", "2", "POST /login", 99, 99, time.Second)
	env.Now = time.Now()

	tests := map[string]struct {
		route                      string
		canary, canaryErrs, stable uint64
	}{
		"all routes":          {canary: 50, canaryErrs: 4, stable: 180},
		"one route":           {route: "POST /login", canary: 20, canaryErrs: 4, stable: 180},
		"a path, any method":  {route: "/", canary: 30, stable: 0},
		"a route nobody uses": {route: "PUT /x", canary: 0, stable: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, s, err := p.Versions(context.Background(), env, tc.route)
			if err != nil {
				t.Fatal(err)
			}
			if c.Requests != tc.canary || c.Errors != tc.canaryErrs || s.Requests != tc.stable {
				t.Errorf("canary %d requests %d errors, stable %d; want %d, %d, %d", c.Requests, c.Errors, s.Requests, tc.canary, tc.canaryErrs, tc.stable)
			}
			for _, v := range []metrics.Counts{c, s} {
				var n uint64
				for _, b := range v.Buckets {
					n += b
				}
				if len(v.Buckets) != len(metrics.Buckets)+1 || n != v.Requests {
					t.Errorf("histogram of %d buckets holding %d requests, want %d buckets holding %d", len(v.Buckets), n, len(metrics.Buckets)+1, v.Requests)
				}
			}
		})
	}

	// The next window starts where this one ended.
	feed(reg, "web", "2", "GET /", 7, 1, time.Millisecond)
	env.WindowStart, env.Now = env.Now, time.Now()
	c, s, err := p.Versions(context.Background(), env, "")
	if err != nil || c.Requests != 7 || c.Errors != 1 || s.Requests != 0 {
		t.Errorf("second window: canary %+v stable %+v %v, want 7 canary requests, 1 failed, none on stable", c, s, err)
	}
}

func TestVersionsRefuses(t *testing.T) {
	p := newProvider(t, metrics.New()).(*Provider)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := map[string]struct {
		ctx  context.Context
		env  provider.Env
		want string
	}{
		"no canary": {env: provider.Env{StableRevision: "1"}, want: "no canary revision"},
		"no stable": {env: provider.Env{CanaryRevision: "2"}, want: "no stable revision"},
		"cancelled": {ctx: cancelled, env: provider.Env{CanaryRevision: "2", StableRevision: "1"}, want: "context canceled"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			tc.env.WindowStart, tc.env.Now = time.Now(), time.Now()
			if _, _, err := p.Versions(ctx, tc.env, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
