package controller

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/notify"
	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	// The Kubernetes routers register themselves.
	_ "fledge.dev/fledge/internal/router/gatewayapi"
	_ "fledge.dev/fledge/internal/router/istio"
	_ "fledge.dev/fledge/internal/router/nginx"
	_ "fledge.dev/fledge/internal/router/service"
)

// Options configure the controller process.
type Options struct {
	// Kubeconfig is the file to reach the API server with; empty: in-cluster
	// configuration (or $KUBECONFIG).
	Kubeconfig string
	// LeaderElect makes replicas of the controller elect one leader on a
	// Lease; only the leader reconciles.
	LeaderElect             bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	// MetricsAddr serves Prometheus metrics ("0" disables them).
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz.
	ProbeAddr string
	// PprofAddr serves net/http/pprof's /debug/pprof/ (empty or "0": off),
	// to profile the controller where it runs (bench/controller does).
	PprofAddr string
	// Reconcilers is how many Rollouts are decided on at once (default
	// DefaultReconcilers); one Rollout is never decided on twice at once.
	Reconcilers int
	// Notifier sends every Rollout's notifications to its sinks (the
	// --notify-* flags'), besides each Rollout's own; nil: only those.
	Notifier *notify.Notifier
}

// DefaultReconcilers is the default of Options.Reconcilers. A decision
// spends its time waiting on the API server (a status write, a router
// write, a read-back), so more run at once than there are cores: a burst
// of Rollouts stepping together (a canary's Deployments all becoming
// available at once) drains that many times faster (bench/controller).
const DefaultReconcilers = 16

// Scheme holds the kinds the controller reads and writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Run runs the manager until ctx ends.
func Run(ctx context.Context, o Options) error {
	// kubectl's rules: --kubeconfig, else $KUBECONFIG, else ~/.kube/config,
	// else the in-cluster service account.
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig %q: %w", o.Kubeconfig, err)
	}
	// client-go's default (5 requests/s, burst 10) held the controller to
	// about 1.5 reconciles/s in bench/controller: it fell behind at ~8
	// Rollouts. The API server's priority and fairness protects it from a
	// busy client; this limit only stops a runaway loop. Unless the
	// kubeconfig says otherwise:
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 200, 400
	}
	reconcilers := o.Reconcilers
	if reconcilers <= 0 {
		reconcilers = DefaultReconcilers
	}
	lease := 15 * time.Second
	renew, retry := 10*time.Second, 2*time.Second
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                        Scheme(),
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &lease,
		RenewDeadline:                 &renew,
		RetryPeriod:                   &retry,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		// The routers' objects (HTTPRoute, VirtualService) are read as
		// unstructured: cache them too (see freshClient).
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		// The objects' managedFields are a good part of what the caches
		// hold (every Deployment, Service, HTTPRoute of the cluster) and
		// the controller never reads them.
		Cache:                  cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		HealthProbeBindAddress: o.ProbeAddr,
		PprofBindAddress:       o.PprofAddr,
		Controller:             config.Controller{MaxConcurrentReconciles: reconcilers},
	})
	if err != nil {
		return fmt.Errorf("controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	events, stopEvents, err := NewEventRecorder(cfg, mgr.GetScheme(), "fledge", mgr.GetLogger().WithName("events"))
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	// The writers stop once the manager has (every reconcile done, so every
	// Event recorded), given a few seconds to write what they hold.
	defer func() {
		drain, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopEvents(drain)
	}()
	if err := Setup(mgr, WithNotifier(o.Notifier), WithEvents(events)); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// Setup registers the Rollout reconciler: it watches Rollouts, the
// Deployments it owns, the Deployments and analysis templates Rollouts
// refer to, and the verdicts of their analysis runs, which the Analyses
// runnable (the leader's only) measures.
func Setup(mgr manager.Manager, opts ...SetupOption) error {
	if err := addIndexes(context.Background(), mgr); err != nil {
		return fmt.Errorf("index the Rollouts: %w", err)
	}
	var o setupOptions
	for _, opt := range opts {
		opt(&o)
	}
	events := o.events
	if events == nil {
		events = mgr.GetEventRecorderFor("fledge")
	}
	changed := make(chan event.GenericEvent, 256)
	an := NewAnalyses(mgr.GetClient(), mgr.GetAPIReader(), events, mgr.GetLogger().WithName("analysis"), changed)
	if err := mgr.Add(an); err != nil {
		return err
	}
	gates := NewGates(slog.New(logr.ToSlogHandler(mgr.GetLogger().WithName("gates"))), changed)
	if err := mgr.Add(gates); err != nil {
		return err
	}
	notes, err := NewNotifications(mgr.GetAPIReader(), events, mgr.GetLogger().WithName("notify"), opts...)
	if err != nil {
		return err
	}
	if err := mgr.Add(notes); err != nil {
		return err
	}
	// Fledge's own families join controller-runtime's on the metrics
	// endpoint; a manager is set up once per process, as the registry is.
	metrics := NewMetrics(mgr.GetCache(), an, notes, mgr.GetLogger().WithName("metrics"))
	if err := ctrlmetrics.Registry.Register(metrics); err != nil {
		return fmt.Errorf("register the metrics: %w", err)
	}
	r := &Reconciler{Client: newFreshClient(mgr.GetClient(), mgr.GetAPIReader()), Events: events, Analyses: an, Gates: gates, Notifications: notes, Metrics: metrics}
	return ctrl.NewControllerManagedBy(mgr).
		// Not the Rollout's status: only the controller writes it, and a
		// reconcile decides to a fixed point before it returns (see
		// Reconcile); a reconcile per status write was a wasted one.
		For(&v1alpha1.Rollout{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Owns(&appsv1.Deployment{}).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.referrers)).
		Watches(&v1alpha1.AnalysisTemplate{}, handler.EnqueueRequestsFromMapFunc(r.templateUsers)).
		Watches(&v1alpha1.ClusterAnalysisTemplate{}, handler.EnqueueRequestsFromMapFunc(r.templateUsers)).
		WatchesRawSource(source.Channel(changed, &handler.EnqueueRequestForObject{})).
		Complete(r)
}
