// Command controller measures Fledge's Kubernetes controller at scale: it
// creates N Rollouts on the local control plane (hack/cluster/up.sh), each
// with its workload Deployment and a Gateway API HTTPRoute, runs the built
// `fledge controller` against them, waits until every one is Healthy, then
// changes every Deployment's image at once and follows each canary through
// setWeight 25, 50, 75 and the promotion. It prints a markdown table: the
// controller's reaction latency (defined in latency.go), the API requests it
// made per rollout (its rest_client_requests_total), its peak memory
// (VmHWM), the wall time and how many rollouts completed.
//
//	bench/controller/run.sh -n 1000
//	go run ./bench/controller -fledge /path/to/fledge -n 50
//
// Everything lives in namespaces fledge-bench-<run>-<k>, deleted at the end
// and on Ctrl-C. See bench/controller/README.md for the results and what
// limits the design.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"fledge.dev/fledge/internal/controller"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type options struct {
	n, perNS, workers int
	kubeconfig        string
	fledge            string
	out               string
	setupTimeout      time.Duration
	timeout           time.Duration
	cleanupTimeout    time.Duration
	spread            time.Duration
}

func main() {
	var o options
	// A flag set of its own: controller-runtime registers -kubeconfig on the
	// global one.
	flag := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	flag.IntVar(&o.n, "n", 1000, "rollouts")
	flag.IntVar(&o.perNS, "per-namespace", 100, "rollouts per namespace")
	flag.IntVar(&o.workers, "workers", 16, "concurrent requests when creating objects and changing images")
	flag.StringVar(&o.kubeconfig, "kubeconfig", ".cluster/kubeconfig", "the control plane's kubeconfig")
	flag.StringVar(&o.fledge, "fledge", "bench/out/controller/fledge", "the fledge binary (go build -o ... ./cmd/fledge)")
	flag.StringVar(&o.out, "out", "bench/out/controller", "where the controller's log and report.md go")
	flag.DurationVar(&o.setupTimeout, "setup-timeout", 15*time.Minute, "how long the rollouts may take to become Healthy before the canary")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "how long the canaries may take")
	flag.DurationVar(&o.spread, "spread", 0, "change the images evenly over this time (a release wave) instead of all at once (a burst)")
	flag.DurationVar(&o.cleanupTimeout, "cleanup-timeout", 5*time.Minute, "how long to wait for the namespaces to be deleted at the end")
	_ = flag.Parse(os.Args[1:])
	if o.n < 1 || o.perNS < 1 || o.workers < 1 {
		fmt.Fprintln(os.Stderr, "-n, -per-namespace and -workers must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/controller:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(ctx context.Context, o options) (err error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("-kubeconfig %s: %w", o.kubeconfig, err)
	}
	cfg.QPS = -1 // the benchmark's own client is not the one measured: no client-side limit
	c, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}

	prefix := fmt.Sprintf("fledge-bench-%d", time.Now().Unix()%100000)
	namespaces, targets := plan(prefix, o.n, o.perNS)
	defer func() {
		// A fresh context: the run's may be the one Ctrl-C ended.
		cctx, cancel := context.WithTimeout(context.Background(), o.cleanupTimeout)
		defer cancel()
		logf("deleting namespaces %s-*", prefix)
		if derr := deleteNamespaces(cctx, c, namespaces); derr != nil && err == nil {
			err = derr
		}
		// Wait for them to be gone: the next run's controller would otherwise
		// spend its queue on these Rollouts while the namespace controller
		// deletes them.
		if werr := awaitGone(cctx, c, namespaces); werr != nil {
			logf("namespaces %s-* not gone yet (%v): they go on deleting", prefix, werr)
		}
	}()

	rec := newRecorder(prefix + "-")
	wctx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	if err := rec.start(wctx, dyn); err != nil {
		return err
	}
	logf("creating %d rollouts in %d namespaces %s-*", o.n, len(namespaces), prefix)
	t0 := time.Now()
	if err := createNamespaces(ctx, c, namespaces); err != nil {
		return err
	}
	if err := createObjects(ctx, c, targets, o.workers); err != nil {
		return err
	}
	created := time.Since(t0)

	ctl, err := startController(ctx, o.fledge, o.kubeconfig, filepath.Join(o.out, "controller.log"))
	if err != nil {
		return err
	}
	defer ctl.stop() // before the namespaces go (defers run in reverse)
	mach, err := watchMachine(wctx, cfg, o.kubeconfig, ctl.cmd.Process.Pid)
	if err != nil {
		return err
	}
	s0, err := ctl.scrape()
	if err != nil {
		return err
	}
	logf("controller pid %d; waiting for %d rollouts to become Healthy", ctl.cmd.Process.Pid, o.n)
	t1 := time.Now()
	if err := waitFor(ctx, ctl, o.setupTimeout, "Healthy", o.n, func() int { return rec.healthy(targets) }); err != nil {
		return err
	}
	setup := time.Since(t1)
	s1, err := ctl.scrape()
	if err != nil {
		return err
	}
	mem1, _ := ctl.memory()
	cpu1, _ := ctl.cpu()
	if err := ctl.heapProfile("heap-healthy.pprof"); err != nil {
		logf("heap profile: %v", err)
	}

	rec.markBaseline(targets)
	logf("changing %d images (over %s)", o.n, o.spread)
	t2 := time.Now()
	if err := parallel(ctx, targets, o.workers, o.spread/time.Duration(o.n), func(ctx context.Context, t target) error {
		return setImage(ctx, c, t, imageV2)
	}); err != nil {
		return err
	}
	triggered := time.Since(t2)
	waitErr := waitFor(ctx, ctl, o.timeout, "promoted", o.n, rec.completed)
	if errors.Is(waitErr, context.Canceled) {
		return waitErr
	}
	s2, err := ctl.scrape()
	if err != nil {
		return err
	}
	mem2, err := ctl.memory()
	if err != nil {
		return fmt.Errorf("read the controller's memory: %w", err)
	}
	cpu2, err := ctl.cpu()
	if err != nil {
		return fmt.Errorf("read the controller's CPU time: %w", err)
	}
	ctl.mu.Lock()
	maxRSS := ctl.maxRSS
	ctl.mu.Unlock()

	mach.mark(ctx, true)
	tl, revs := rec.snapshot()
	fig := analyse(tl, revs)
	steps, stepsOK := mach.between(fig.stepping, fig.last)
	r := report{
		n: o.n, namespaces: len(namespaces), completed: rec.completed(),
		create: created, setup: setup, trigger: triggered, spread: o.spread,
		setupCalls: delta(s0, s1), canaryCalls: delta(s1, s2),
		cpuSetup: cpu1, cpuCanary: cpu2 - cpu1,
		hwm: mem2["VmHWM"], rssSetup: mem1["VmRSS"], rssEnd: mem2["VmRSS"], maxRSS: maxRSS,
		fig: fig, steps: steps, stepsOK: stepsOK,
	}
	table := r.markdown()
	fmt.Print(table)
	if err := os.WriteFile(filepath.Join(o.out, "report.md"), []byte(table), 0o644); err != nil {
		return err
	}
	if waitErr != nil {
		return fmt.Errorf("%w (the table covers the rollouts that completed)", waitErr)
	}
	return nil
}

// waitFor polls count until it reaches n, the controller dies, or the
// timeout passes; it logs progress every 10 s.
func waitFor(ctx context.Context, ctl *controllerProc, timeout time.Duration, what string, n int, count func() int) error {
	deadline := time.Now().Add(timeout)
	lastLog := time.Now()
	for {
		got := count()
		if got >= n {
			return nil
		}
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			logf("%d/%d %s", got, n, what)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d/%d rollouts %s within %s", got, n, what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ctl.done:
			return fmt.Errorf("the controller exited while %d/%d rollouts were %s", got, n, what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
