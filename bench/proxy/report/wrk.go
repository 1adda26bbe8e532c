package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
)

// wrkRun is what one `wrk --latency` run printed.
type wrkRun struct {
	rps      float64
	p50, p99 float64 // milliseconds
	errors   uint64  // non-2xx answers and socket errors
}

var (
	rpsRE    = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	latRE    = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	non2xxRE = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	socketRE = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	toMS     = map[string]float64{"us": 1e-3, "ms": 1, "s": 1e3}
)

func parseWrk(path string) (wrkRun, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return wrkRun{}, fmt.Errorf("read wrk's output: %w", err)
	}
	text := string(b)
	var r wrkRun
	m := rpsRE.FindStringSubmatch(text)
	if m == nil {
		return r, fmt.Errorf("%s: no Requests/sec line (did wrk run?)", path)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, m := range latRE.FindAllStringSubmatch(text, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		if m[1] == "50" {
			r.p50 = v * toMS[m[3]]
		} else {
			r.p99 = v * toMS[m[3]]
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, fmt.Errorf("%s: no latency distribution (run wrk with --latency)", path)
	}
	if m := non2xxRE.FindStringSubmatch(text); m != nil {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		r.errors += n
	}
	if m := socketRE.FindStringSubmatch(text); m != nil {
		for _, f := range m[1:] {
			n, _ := strconv.ParseUint(f, 10, 64)
			r.errors += n
		}
	}
	return r, nil
}
