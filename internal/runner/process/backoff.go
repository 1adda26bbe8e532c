package process

import "time"

// Default restart back-off, as the kubelet's CrashLoopBackOff (with a 1s
// base instead of 10s: local processes start in milliseconds).
const (
	DefaultBackoffBase  = time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultBackoffReset = 10 * time.Minute
)

// backoff is the delay before a replica's next start. It doubles on every
// restart up to max and starts over from base once a run lasted reset
// without trouble, so a replica that crashes once a day restarts at once
// while one that crashes at start does not spin.
type backoff struct {
	base, max, reset time.Duration
	cur              time.Duration
}

// next returns the delay before the next start, given how long the run
// that just ended lasted.
func (b *backoff) next(ranFor time.Duration) time.Duration {
	if ranFor >= b.reset {
		b.cur = 0
	}
	switch {
	case b.cur == 0:
		b.cur = b.base
	case b.cur >= b.max/2:
		b.cur = b.max
	default:
		b.cur *= 2
	}
	return min(b.cur, b.max)
}
