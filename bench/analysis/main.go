// Command analysis simulates canaries and judges them three ways on the
// same traffic: Fledge's sequential judge (internal/analysis/stats, the
// real code, checked every second), Flagger's tutorial analysis and Argo
// Rollouts' documented background analysis. It prints, per case and judge,
// the rollback probability, the time to decision, and the canary requests
// (and failed ones) users were exposed to until then.
//
//	go run ./bench/analysis -runs 1000
//
// Traffic: Poisson arrivals at 200 req/s, 5% to the canary; stable fails
// 0.1% of requests; latencies are lognormal (median 50 ms, σ 0.5) in the
// histogram buckets of internal/metrics. Each run lasts until every judge
// decided, or one hour.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"fledge.dev/fledge/internal/analysis/stats"
)

// caseSpec is one canary to judge.
type caseSpec struct {
	name      string
	errorRate float64
	latency   latencyModel
}

func cases() []caseSpec {
	return []caseSpec{
		{name: "A/A: errors 0.1%", errorRate: 0.001, latency: lognormal},
		{name: "errors 0.2%", errorRate: 0.002, latency: lognormal},
		{name: "errors 0.5%", errorRate: 0.005, latency: lognormal},
		{name: "errors 2%", errorRate: 0.02, latency: lognormal},
		{name: "errors 10%", errorRate: 0.10, latency: lognormal},
		{name: "latency +20%", errorRate: 0.001, latency: scaled(lognormal, 1.2)},
		{name: "latency +100 ms", errorRate: 0.001, latency: shifted(lognormal, 0.1)},
	}
}

// The judges' rows, in print order.
const (
	rowFledge = iota
	rowFledgeWatch
	rowFlagger
	rowArgo
	nRows
)

var rowNames = [nRows]string{"fledge", "fledge (1 h watch)", "flagger tutorial", "argo docs example"}

func main() {
	runs := flag.Int("runs", 1000, "runs per case")
	workers := flag.Int("workers", min(2, runtime.NumCPU()), "goroutines")
	horizon := flag.Duration("horizon", time.Hour, "longest run")
	seed := flag.Uint64("seed", 1, "random seed (runs are reproducible whatever -workers)")
	budget := flag.Float64("budget", 0, "fledge's maxCanaryFailures (0: none)")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	cfg := stats.Config{MaxCanaryFailures: *budget}
	if _, err := stats.New(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	start := time.Now()
	cs := cases()
	rows := simulateAll(cs, cfg, *runs, *workers, int(horizon.Seconds()), *seed)
	fmt.Printf("%d runs per case, horizon %s, seed %d, fledge %+v; %s on %d goroutines\n\n",
		*runs, *horizon, *seed, cfg.WithDefaults(), time.Since(start).Round(time.Second), *workers)
	printTable(os.Stdout, cs, rows)
}

// simulateAll runs every case runs times on workers goroutines. Run i of
// case c is seeded by (seed, c, i) alone.
func simulateAll(cs []caseSpec, cfg stats.Config, runs, workers, horizon int, seed uint64) [][nRows][]result {
	out := make([][nRows][]result, len(cs))
	for c := range out {
		for r := range out[c] {
			out[c][r] = make([]result, runs)
		}
	}
	type job struct{ c, i int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jb := range jobs {
				res := simulate(cs[jb.c], cfg, horizon, seed, uint64(jb.c), uint64(jb.i))
				for r := range res {
					out[jb.c][r][jb.i] = res[r]
				}
			}
		}()
	}
	for i := range runs { // interleave cases so that progress is even
		for c := range cs {
			jobs <- job{c, i}
		}
	}
	close(jobs)
	wg.Wait()
	return out
}
