package builtin

import (
	"context"
	"errors"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
	"fledge.dev/fledge/internal/metrics"
)

// Versions returns what the canary and the stable revision did over the
// window [env.WindowStart, env.Now], both read from the same two snapshots
// so that they cover the same stretch of time (the canary judge compares
// them window by window), restricted to route when it is set ("METHOD
// /path", or "/path" for every method). A version without requests has
// zero counts and an empty histogram of the registry's layout.
func (p *Provider) Versions(ctx context.Context, env provider.Env, route string) (canary, stable metrics.Counts, err error) {
	if err := ctx.Err(); err != nil {
		return canary, stable, err
	}
	switch {
	case env.CanaryRevision == "":
		return canary, stable, errors.New("builtin provider: the rollout has no canary revision to judge")
	case env.StableRevision == "":
		return canary, stable, errors.New("builtin provider: the rollout has no stable revision to compare with")
	}
	from, to := p.hist.window(p.reg, env.WindowStart, env.Now)
	of := func(rev string) metrics.Counts {
		c := sum(from, to, func(k metrics.Key) bool {
			return k.Rollout == env.Rollout && k.Revision == rev && routeMatches(route, k.Route)
		})
		if c.Buckets == nil {
			c.Buckets = make([]uint64, len(metrics.Buckets)+1)
		}
		return c
	}
	return of(env.CanaryRevision), of(env.StableRevision), nil
}

// JudgeVersions is Versions for judge j: its route restricts the window.
func (p *Provider) JudgeVersions(ctx context.Context, j v1alpha1.Judge, env provider.Env) (canary, stable metrics.Counts, err error) {
	return p.Versions(ctx, env, j.Route)
}
