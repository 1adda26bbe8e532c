package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"fledge.dev/fledge/internal/dashboard"
	"fledge.dev/fledge/internal/metrics"
	"fledge.dev/fledge/internal/notify"
	"fledge.dev/fledge/internal/runner"
	"fledge.dev/fledge/internal/runner/store"
	"fledge.dev/fledge/internal/server"
	"github.com/spf13/cobra"
)

// The daemon is what the API controls.
var _ server.Control = (*runner.Daemon)(nil)

// defaultAdminAddr is where the daemon's API listens unless told otherwise.
const defaultAdminAddr = "127.0.0.1:9470"

func init() {
	register(newServeCmd)
	register(newRunCmd)
}

func newServeCmd(o *Options) *cobra.Command {
	var addr string
	var nf notifyFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the fledge daemon in the foreground",
		Long: "Run the daemon in the foreground until interrupted: it resumes every rollout its\n" +
			"state dir holds, serves the API the other commands use, and on SIGINT or SIGTERM\n" +
			"stops every replica gracefully.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.serve(cmd.Context(), addr, &nf, nil)
		},
	}
	cmd.Flags().StringVar(&addr, "admin-addr", defaultAdminAddr, "loopback address of the daemon's API")
	nf.register(cmd.Flags())
	return cmd
}

func newRunCmd(o *Options) *cobra.Command {
	var addr, file string
	var nf notifyFlags
	cmd := &cobra.Command{
		Use:   "run -f FILE",
		Short: "Run the daemon in the foreground and apply FILE to it",
		Long: "Check FILE, then run the daemon in the foreground (as `fledge serve`) and apply\n" +
			"FILE to it. An invalid FILE starts nothing. Relative commands in FILE resolve\n" +
			"against FILE's directory.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.readSpec(file)
			if err != nil {
				return err
			}
			return o.serve(cmd.Context(), addr, &nf, func(ctx context.Context, d *runner.Daemon) error {
				if err := d.Apply(ctx, s.rollouts, s.dir); err != nil {
					return invalidSpec(file, err)
				}
				for _, r := range s.rollouts {
					fmt.Fprintf(o.Out, "%s%s applied\n", kindPrefix, r.Name)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "the rollout spec (YAML or JSON; - for standard input)")
	cmd.Flags().StringVar(&addr, "admin-addr", defaultAdminAddr, "loopback address of the daemon's API")
	nf.register(cmd.Flags())
	cmd.MarkFlagRequired("filename")
	return cmd
}

// serve runs the daemon and its API until ctx is done or one of them
// fails; started, if set, is called once the API listens.
func (o *Options) serve(ctx context.Context, addr string, nf *notifyFlags, started func(context.Context, *runner.Daemon) error) error {
	log, err := o.logger()
	if err != nil {
		return err
	}
	if err := loopback(addr); err != nil {
		return err
	}
	h, err := o.newHost(addr, log, nf)
	if err != nil {
		return err
	}
	defer h.store.Close()
	return h.run(ctx, log, started)
}

// host is the daemon's parts, built over one state dir.
type host struct {
	dir    string
	store  *store.Store
	daemon *runner.Daemon
	api    *server.Server
	dash   *dashboard.Dashboard
	// notifier sends the --notify-* flags' notifications and the rollouts'
	// own (spec.notifications).
	notifier *notify.Notifier
}

func (o *Options) newHost(addr string, log *slog.Logger, nf *notifyFlags) (*host, error) {
	dir, err := filepath.Abs(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("state dir %s: %w", o.StateDir, err)
	}
	if err := prepareStateDir(dir); err != nil {
		return nil, err
	}
	notifier, err := nf.notifier(log)
	if err != nil {
		return nil, err
	}
	// The store's lock is what keeps a second daemon off this state dir:
	// take it before touching anything else there.
	st, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		return nil, err
	}
	token, err := server.EnsureToken(dir)
	if err != nil {
		st.Close()
		return nil, err
	}
	reg := metrics.New()
	rec := server.NewRecorder()
	d, err := runner.NewDaemon(runner.Config{StateDir: dir, Store: st, Metrics: reg, Logger: log, Observers: observers(rec, notifier, st, log)})
	if err != nil {
		st.Close()
		return nil, err
	}
	notFound := func(err error) bool { return errors.Is(err, runner.ErrNotFound) }
	dash := dashboard.New(dashboard.Config{Token: token, Control: d, Metrics: reg, Logger: log, NotFound: notFound})
	var collectors []server.Collector
	if notifier != nil {
		collectors = append(collectors, notifier)
	}
	api := server.New(server.Config{
		Addr: addr, Token: token, Control: d, Metrics: reg, Logger: log, NotFound: notFound, Dashboard: dash,
		Recorder: rec, Collectors: collectors,
	})
	return &host{dir: dir, store: st, daemon: d, api: api, dash: dash, notifier: notifier}, nil
}

// run runs the API and the daemon until ctx is done; either stopping
// earlier is a failure that stops the other. daemon.json exists while both
// run.
func (h *host) run(ctx context.Context, log *slog.Logger, started func(context.Context, *runner.Daemon) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	running := 0
	spawn := func(what string, start func(context.Context) error) {
		running++
		go func() {
			err := start(ctx)
			if err == nil && ctx.Err() == nil {
				err = errors.New("stopped unexpectedly")
			}
			if err != nil && what != "" {
				err = fmt.Errorf("%s: %w", what, err)
			}
			errs <- err
		}()
	}
	stop := func(first error) error {
		cancel()
		for ; running > 0; running-- {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	// The API listens first: if its address is taken, no replica starts.
	// Requests that come before the daemon has started wait for it.
	spawn("", h.api.Start)
	select {
	case <-h.api.Ready():
	case err := <-errs:
		running--
		return stop(err)
	}
	spawn("daemon", h.daemon.Start)
	spawn("dashboard", h.dash.Start)
	if h.notifier != nil {
		spawn("notifier", h.notifier.Start)
	}
	if err := server.WriteInfo(h.dir, server.Info{Address: h.api.Addr(), PID: os.Getpid()}); err != nil {
		return stop(err)
	}
	defer server.RemoveInfo(h.dir, os.Getpid())
	log.Info("fledge daemon running", "api", "http://"+h.api.Addr(), "dashboard", "http://"+h.api.Addr()+"/dashboard/", "stateDir", h.dir, "pid", os.Getpid())
	if started != nil {
		if err := started(ctx, h.daemon); err != nil {
			return stop(err)
		}
	}
	select {
	case <-ctx.Done():
		log.Info("stopping: replicas get their grace period")
		return stop(nil)
	case err := <-errs:
		running--
		return stop(err)
	}
}

// prepareStateDir creates the state dir and its logs/ and pids/, readable
// by their owner only: the token lives there.
func prepareStateDir(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "logs"), filepath.Join(dir, "pids")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create state dir: %w", err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("state dir %s: %w", dir, err)
	}
	return nil
}

// loopback refuses an admin address reachable from other machines: the API
// is plain HTTP, and its token would travel in clear.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--admin-addr %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--admin-addr %q: the API listens on loopback only (127.0.0.1, ::1 or localhost)", addr)
}
