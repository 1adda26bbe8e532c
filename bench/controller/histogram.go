package main

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// histogram is a Prometheus histogram as scraped: the cumulative count of
// each bucket, by its upper bound (+Inf included).
type histogram map[float64]float64

// add counts a bucket line: le is its label's value.
func (h histogram) add(le string, v float64) {
	bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
	if err != nil {
		return
	}
	h[bound] += v
}

// since is what h counted after earlier.
func (h histogram) since(earlier histogram) histogram {
	d := histogram{}
	for b, v := range h {
		d[b] = v - earlier[b]
	}
	return d
}

// quantile estimates the q-quantile as Prometheus' histogram_quantile does:
// linearly within the bucket that holds it, the lowest bucket from 0, and
// the +Inf bucket at the highest finite bound. ok is false with no count.
func (h histogram) quantile(q float64) (d time.Duration, ok bool) {
	bounds := make([]float64, 0, len(h))
	for b := range h {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 || h[bounds[len(bounds)-1]] <= 0 {
		return 0, false
	}
	total := h[bounds[len(bounds)-1]]
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bounds {
		if h[b] >= rank {
			if math.IsInf(b, 1) {
				return seconds(lower), true
			}
			frac := 0.0
			if in := h[b] - below; in > 0 {
				frac = (rank - below) / in
			}
			return seconds(lower + (b-lower)*frac), true
		}
		lower, below = b, h[b]
	}
	return seconds(lower), true
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
