// Command report turns the proxy benchmark's raw runs into its table: for
// each target, the medians over rounds of wrk's requests per second and
// latency when saturated, the throughput relative to Fledge, the proxy's CPU
// time per request, the latency at an equal, paced load and the p99 each
// proxy adds there over a direct connection, and the canary share the
// upstreams counted. It also says whether Fledge met its goals in this run.
//
//	report -runs bench/out/proxy/runs.tsv -json bench/out/proxy/results.json
//
// runs.tsv has one line per round and target, tab-separated: target, round,
// the loaded wrk run's output file (relative to runs.tsv), the requests
// counted by the stable and by the canary upstream, the CPU milliseconds the
// proxy used (the upstream's, for direct), and the paced wrk run's output
// file.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	runsPath := flag.String("runs", "bench/out/proxy/runs.tsv", "the runs to report")
	jsonPath := flag.String("json", "", "also write the summary as JSON here")
	flag.Parse()
	if err := run(*runsPath, *jsonPath, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// sample is one round of one target.
type sample struct {
	target         string
	loaded, paced  wrkRun // as fast as the target goes; at an equal, paced load
	stable, canary uint64
	cpuMS          float64
}

// cpuPerRequest is the proxy's CPU time per request served, in µs.
func (s sample) cpuPerRequest() float64 {
	return 1000 * s.cpuMS / float64(max(s.stable+s.canary, 1))
}

func run(runsPath, jsonPath string, out io.Writer) error {
	samples, err := readRuns(runsPath)
	if err != nil {
		return err
	}
	rows := summarise(samples)
	printTable(out, rows)
	printGoals(out, rows)
	if jsonPath == "" {
		return nil
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the summary: %w", err)
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the summary: %w", err)
	}
	return nil
}

func readRuns(path string) ([]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the runs: %w", err)
	}
	defer f.Close()
	var samples []sample
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s, err := parseRun(filepath.Dir(path), sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		samples = append(samples, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("%s: no runs", path)
	}
	return samples, nil
}

func parseRun(dir, line string) (sample, error) {
	f := strings.Split(line, "\t")
	if len(f) != 7 {
		return sample{}, fmt.Errorf("want 7 tab-separated fields, got %d", len(f))
	}
	s := sample{target: f[0]}
	var err error
	if s.loaded, err = parseWrk(filepath.Join(dir, f[2])); err != nil {
		return s, err
	}
	if s.stable, err = strconv.ParseUint(f[3], 10, 64); err != nil {
		return s, fmt.Errorf("stable count: %w", err)
	}
	if s.canary, err = strconv.ParseUint(f[4], 10, 64); err != nil {
		return s, fmt.Errorf("canary count: %w", err)
	}
	if s.cpuMS, err = strconv.ParseFloat(f[5], 64); err != nil {
		return s, fmt.Errorf("CPU time: %w", err)
	}
	if s.paced, err = parseWrk(filepath.Join(dir, f[6])); err != nil {
		return s, err
	}
	return s, nil
}
