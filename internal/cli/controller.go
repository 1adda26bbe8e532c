package cli

import (
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"fledge.dev/fledge/internal/controller"
	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
)

func init() { register(newControllerCmd) }

// ControllerGCPercent is the controller's GOGC unless the environment sets
// one. The controller's heap is mostly its informers' caches, which live
// as long as it does: at Go's default of 100 the heap may grow to twice
// the caches before a collection, and that headroom was most of its peak
// memory (1,000 Rollouts released at once, bench/controller: 295 MiB at
// 100, 147 MiB at 50). The price is more collections: 13.5 s of CPU at
// 100, 16.8 s at 50 for 300 Rollouts' canaries (one run each). Prometheus
// makes the same trade (its GOGC defaults to 75).
const ControllerGCPercent = 50

// newControllerCmd runs the Kubernetes controller (in or out of cluster).
func newControllerCmd(o *Options) *cobra.Command {
	var co controller.Options
	var nf notifyFlags
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the Kubernetes controller: drive Rollouts with a workloadRef through a cluster's routers",
		Long: "Run Fledge's Kubernetes controller. With --kubeconfig it runs out of cluster; without,\n" +
			"it uses the in-cluster configuration (or $KUBECONFIG). Replicas elect a leader on a Lease\n" +
			"(--leader-elect); only the leader acts.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(ControllerGCPercent)
			}
			level := slog.LevelInfo
			_ = level.UnmarshalText([]byte(o.LogLevel))
			handler := slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})
			ctrl.SetLogger(logr.FromSlogHandler(handler))
			// Bad flags stop the controller before it connects anywhere.
			n, err := nf.notifier(slog.New(handler).With("logger", "notify"))
			if err != nil {
				return err
			}
			co.Notifier = n
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return controller.Run(ctx, co)
		},
	}
	f := cmd.Flags()
	f.StringVar(&co.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster configuration or $KUBECONFIG)")
	f.BoolVar(&co.LeaderElect, "leader-elect", true, "elect a leader on a Lease so that only one replica acts")
	f.StringVar(&co.LeaderElectionID, "leader-election-id", "fledge-controller", "name of the Lease")
	f.StringVar(&co.LeaderElectionNamespace, "leader-election-namespace", "default", "namespace of the Lease (in cluster: the controller's)")
	f.StringVar(&co.MetricsAddr, "metrics-bind-address", "127.0.0.1:8080", "address of the Prometheus metrics endpoint; 0 disables it")
	f.StringVar(&co.ProbeAddr, "health-probe-bind-address", "127.0.0.1:8081", "address of /healthz and /readyz; 0 disables them")
	f.StringVar(&co.PprofAddr, "pprof-bind-address", "", "address of the Go profiler's /debug/pprof/ endpoints (unauthenticated: keep it on loopback); empty disables it")
	f.IntVar(&co.Reconcilers, "reconcilers", controller.DefaultReconcilers, "how many Rollouts are decided on at once")
	nf.register(f)
	return cmd
}
