// Command tuned is `fledge controller` with the two knobs the benchmark
// found limiting made flags: the client's rate limit (the binary builds its
// rest.Config with clientcmd, so client-go's default of 5 requests/s and a
// burst of 10 applies, per resource kind) and the number of concurrent
// reconciles (controller-runtime's default: 1). Everything else is the
// same code: internal/controller.Setup on a manager. It exists to measure
// what changing them would buy, not to be deployed:
//
//	go build -o bench/out/controller/tuned ./bench/controller/tuned
//	FLEDGE_BIN=bench/out/controller/tuned bench/controller/run.sh -n 300
//
// It takes the flags the benchmark gives `fledge controller` (a first
// argument "controller" is skipped) plus -qps, -burst and -reconcilers.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"fledge.dev/fledge/internal/controller"
	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "controller" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("tuned", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file")
	_ = fs.Bool("leader-elect", false, "ignored: one replica, no election")
	metricsAddr := fs.String("metrics-bind-address", "127.0.0.1:8080", "metrics address")
	probeAddr := fs.String("health-probe-bind-address", "127.0.0.1:8081", "probe address")
	qps := fs.Float64("qps", -1, "client requests per second (negative: no client-side limit, as controller-runtime's GetConfig)")
	burst := fs.Int("burst", 0, "client burst (0: client-go's default)")
	reconcilers := fs.Int("reconcilers", 4, "concurrent reconciles")
	_ = fs.Parse(args)

	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *kubeconfig, *metricsAddr, *probeAddr, float32(*qps), *burst, *reconcilers); err != nil {
		fmt.Fprintln(os.Stderr, "tuned:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kubeconfig, metricsAddr, probeAddr string, qps float32, burst, reconcilers int) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %q: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = qps, burst
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                 controller.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		Controller:             config.Controller{MaxConcurrentReconciles: reconcilers},
	})
	if err != nil {
		return fmt.Errorf("controller manager: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	if err := controller.Setup(mgr); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
