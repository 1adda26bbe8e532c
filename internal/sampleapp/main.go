package sampleapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Main is `fledge sample-app [flags]`: it reads args and the environment,
// serves until SIGTERM, an interrupt or ctx, and drains. It logs to stdout;
// usage and flag errors go to stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parse(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stdout, nil))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	return Run(ctx, cfg)
}

// option is a flag that the environment can set too; the flag wins.
type option struct {
	flag, env, usage string
	// set stores the option's text, parsed, into the Config.
	set   func(string) error
	value string
}

// parse builds a Config from args, falling back on the environment
// (getenv) for each option not given as a flag.
func parse(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var cfg Config
	duration := func(dst *time.Duration) func(string) error {
		return func(s string) (err error) { *dst, err = parseDuration(s); return err }
	}
	opts := []*option{
		{flag: "version", env: "FLEDGE_SAMPLE_VERSION", usage: "version named in every response (default v1)",
			set: func(s string) error { cfg.Version = s; return nil }},
		{flag: "error-rate", env: "FLEDGE_SAMPLE_ERROR_RATE", usage: `probability of a 500 per route, e.g. "POST /login=0.2,GET /=0.01" ("*" for any route)`,
			set: func(s string) (err error) { cfg.ErrorRates, err = ParseErrorRates(s); return err }},
		{flag: "latency", env: "FLEDGE_SAMPLE_LATENCY", usage: `latency added per route, ±10%, e.g. "GET /=5ms,POST /login=20ms"`,
			set: func(s string) (err error) { cfg.Latency, err = ParseLatency(s); return err }},
		{flag: "fail-health-after", env: "FLEDGE_SAMPLE_FAIL_HEALTH_AFTER", usage: "/healthz answers 500 from this long after listening (0: never)",
			set: duration(&cfg.FailHealthAfter)},
		{flag: "startup-delay", env: "FLEDGE_SAMPLE_STARTUP_DELAY", usage: "wait this long before listening",
			set: duration(&cfg.StartupDelay)},
		{flag: "crash-after", env: "FLEDGE_SAMPLE_CRASH_AFTER", usage: "drop all connections and exit 1 this long after listening (0: never)",
			set: duration(&cfg.CrashAfter)},
		{flag: "shutdown-timeout", env: "FLEDGE_SAMPLE_SHUTDOWN_TIMEOUT", usage: "longest wait for requests in flight on SIGTERM (default 30s)",
			set: duration(&cfg.ShutdownTimeout)},
	}
	fs := flag.NewFlagSet("fledge sample-app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fledge sample-app [flags]\n\n"+
			"A small HTTP service to release with Fledge: GET /, POST /login, GET /healthz,\n"+
			"GET /readyz, GET /version, GET /slow?ms=N. It listens on 127.0.0.1:$PORT and\n"+
			"says hello with $GREETING if set. Each flag can be set by the environment\n"+
			"variable named in brackets instead.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "", "address to listen on (default 127.0.0.1:$PORT, else 127.0.0.1:8080)")
	for _, o := range opts {
		o.value = getenv(o.env)
		fs.StringVar(&o.value, o.flag, o.value, fmt.Sprintf("%s [%s]", o.usage, o.env))
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("sample-app: unexpected arguments %q (flags only)", fs.Args())
	}

	var errs []error
	for _, o := range opts {
		if o.value == "" {
			continue
		}
		if err := o.set(o.value); err != nil {
			errs = append(errs, fmt.Errorf("sample-app: --%s (or $%s): %w", o.flag, o.env, err))
		}
	}
	cfg.Listen, cfg.Greeting = *listen, getenv("GREETING")
	if cfg.Listen == "" {
		port := getenv("PORT")
		if port == "" {
			port = "8080"
		}
		cfg.Listen = net.JoinHostPort("127.0.0.1", port)
	}
	return cfg, errors.Join(errs...)
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration such as 30s, got %q", s)
	}
	return d, nil
}
