package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"fledge.dev/fledge/internal/dashboard"
	"fledge.dev/fledge/internal/dashboard/cluster"
	"fledge.dev/fledge/internal/server"
	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
)

// clusterFlags are `fledge dashboard`'s cluster mode: with --kubeconfig it
// serves the dashboard itself, over a namespace's Rollouts.
type clusterFlags struct {
	kubeconfig, context, namespace, listen string
}

// syncTimeout bounds the wait for the first list of the cluster's Rollouts.
const syncTimeout = 30 * time.Second

// noMetricsInCluster is what the page says instead of the charts.
const noMetricsInCluster = "In cluster mode the dashboard reads the Rollout objects and their AnalysisRuns: " +
	"nothing counts the users' requests per version (the local daemon's proxy does that), so there are no charts."

// serveCluster serves the dashboard over the cluster's Rollouts until
// SIGINT or SIGTERM. The login is the local mode's: the token of the state
// directory, and one-time links printed here.
func (o *Options) serveCluster(ctx context.Context, f clusterFlags, urlOnly, open bool) error {
	log, err := o.logger()
	if err != nil {
		return err
	}
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: f.kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: f.context})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return fmt.Errorf("--kubeconfig %s: %w", f.kubeconfig, err)
	}
	ns := f.namespace
	if ns == "" {
		if ns, _, err = loader.Namespace(); err != nil {
			return fmt.Errorf("--kubeconfig %s: namespace of the context: %w", f.kubeconfig, err)
		}
	}
	token, err := server.EnsureToken(o.StateDir)
	if err != nil {
		return fmt.Errorf("dashboard token: %w", err)
	}
	src, err := cluster.New(cfg, ns, log)
	if err != nil {
		return err
	}
	dash := dashboard.New(dashboard.Config{
		Token: token, Control: src, NotFound: cluster.NotFound, Logger: log,
		Mode: "cluster", NoMetrics: noMetricsInCluster,
	})
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", f.listen, err)
	}
	srv := &http.Server{Handler: dash, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errs := make(chan error, 3)
	go func() { errs <- src.Start(ctx) }()
	go func() { errs <- dash.Start(ctx) }()
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			errs <- err
		}
	}()
	defer func() {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut) // the streams end with ctx
	}()

	if err := waitSynced(ctx, src, errs); err != nil {
		return fmt.Errorf("cannot list the Rollouts of namespace %s: %w", ns, err)
	}
	link := dash.NewLoginLink(l.Addr().String())
	if urlOnly {
		fmt.Fprintln(o.Out, link.URL)
	} else {
		fmt.Fprintf(o.Out, "Dashboard of namespace %s (cluster %s): http://%s/dashboard/\n", ns, cfg.Host, l.Addr())
		fmt.Fprintf(o.Out, "Log in with (one use, until %s): %s\n", link.Expires.Local().Format(time.TimeOnly), link.URL)
		fmt.Fprintf(o.Out, "or with the token in %s. Ctrl-C stops it.\n", strings.TrimSuffix(o.StateDir, "/")+"/"+server.TokenFile)
	}
	if open {
		if err := openBrowser(link.URL); err != nil {
			fmt.Fprintln(o.ErrOut, err)
		}
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("dashboard stopped: %w", err)
	}
}

// waitSynced waits for the watches' first lists, or says why they failed.
func waitSynced(ctx context.Context, src *cluster.Control, errs <-chan error) error {
	sctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	synced := make(chan bool, 1)
	go func() { synced <- src.WaitForSync(sctx) }()
	select {
	case err := <-errs:
		return err
	case ok := <-synced:
		if !ok {
			return fmt.Errorf("the watches did not sync within %s (is the API server reachable, and may you list Rollouts there?)", syncTimeout)
		}
		return nil
	}
}
