package main

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// kind is what an event of a rollout's timeline is.
type kind int

const (
	evTrigger kind = iota // the user's Deployment got the new image
	evInput               // something the controller may wait for changed: a revision Deployment, the HTTPRoute
	evWrite               // the controller wrote the Rollout's status
)

// event is one change the recorder saw, when its watch delivered it.
type event struct {
	at   time.Time
	kind kind
	what string
	step bool // a write that changed the phase, the step, the weight or a revision
	done bool // the write that made the new revision stable
}

// figures are what the timelines say about the canaries.
type figures struct {
	// stepLatency: for each status write that moved a rollout (step,
	// weight, phase or revision), the time since the change just before it
	// on that rollout's timeline (the trigger, a revision Deployment's
	// status, the HTTPRoute's weights, or the controller's own previous
	// write): how long the controller took to act once it could.
	stepLatency []time.Duration
	// byCause splits stepLatency by the change just before the write.
	byCause map[string][]time.Duration
	// writeLatency: the same for every status write (also those that only
	// update counters or the message).
	writeLatency []time.Duration
	// canary: from the trigger to the new revision stable, per rollout.
	canary []time.Duration
	// ready: from a canary Deployment appearing to its replica available:
	// the cluster's share (Deployment and ReplicaSet controllers,
	// scheduler, kwok), which stepLatency leaves out.
	ready []time.Duration
	// first, last: the first trigger and the last completion.
	first, last time.Time
	// stepping: when a tenth of the canary Deployments were available,
	// and the Rollouts stepping in earnest (in a burst of 1,000 a few come
	// minutes before the rest).
	stepping time.Time
}

// analyse reads the timelines from each rollout's trigger to its
// completion (or to the end, for one that did not complete).
func analyse(timelines map[string][]event, revisions []revisionTimes) figures {
	f := figures{byCause: map[string][]time.Duration{}}
	for _, tl := range timelines {
		tl = slices.Clone(tl)
		sort.SliceStable(tl, func(i, j int) bool { return tl[i].at.Before(tl[j].at) })
		start := slices.IndexFunc(tl, func(e event) bool { return e.kind == evTrigger })
		if start < 0 {
			continue
		}
		trigger := tl[start].at
		if f.first.IsZero() || trigger.Before(f.first) {
			f.first = trigger
		}
		for i := start + 1; i < len(tl); i++ {
			e := tl[i]
			if e.kind != evWrite {
				continue
			}
			lat := e.at.Sub(tl[i-1].at)
			f.writeLatency = append(f.writeLatency, lat)
			if e.step {
				f.stepLatency = append(f.stepLatency, lat)
				c := cause(tl[i-1])
				f.byCause[c] = append(f.byCause[c], lat)
			}
			if e.done {
				f.canary = append(f.canary, e.at.Sub(trigger))
				if e.at.After(f.last) {
					f.last = e.at
				}
				break
			}
		}
	}
	var ready []time.Time
	for _, r := range revisions {
		if !r.ready.IsZero() {
			f.ready = append(f.ready, r.ready.Sub(r.created))
			ready = append(ready, r.ready)
		}
	}
	if len(ready) > 0 {
		slices.SortFunc(ready, time.Time.Compare)
		f.stepping = ready[len(ready)/10]
	}
	return f
}

// cause names the kind of change a write followed, for the breakdown.
func cause(e event) string {
	switch {
	case e.kind == evTrigger:
		return "the image change"
	case e.kind == evWrite:
		return "its own previous write"
	case strings.HasPrefix(e.what, "deployment"):
		return "a revision Deployment's status"
	default:
		return "the HTTPRoute's weights"
	}
}

// quantile is the q-quantile (nearest rank) of ds; 0 for none.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
