package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fledge.dev/fledge/internal/server"
	"github.com/spf13/cobra"
)

// IOStreams are where a command reads and writes.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Options are shared by every command: the streams and the global flags.
type Options struct {
	IOStreams
	// StateDir is the daemon's state directory (--state-dir).
	StateDir string
	// LogLevel is the daemon's log level (--log-level).
	LogLevel string
}

// commands are the constructors registered by the files of this package.
var commands []func(*Options) *cobra.Command

// register adds a top-level command; each file calls it from init().
func register(f func(*Options) *cobra.Command) {
	commands = append(commands, f)
}

// NewRoot builds the fledge command with every registered verb.
func NewRoot(streams IOStreams) *cobra.Command {
	o := &Options{IOStreams: streams}
	root := &cobra.Command{
		Use:   "fledge",
		Short: "Release new versions of a service progressively, on this machine",
		Long: "Fledge releases new versions of a service safely: an embedded proxy splits traffic\n" +
			"by exact weight between the stable and the canary version, analysis judges the\n" +
			"canary's metrics, and the rollout is promoted or rolled back on its own.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	flags := root.PersistentFlags()
	flags.StringVar(&o.StateDir, "state-dir", defaultStateDir(), "the daemon's state directory (env FLEDGE_STATE_DIR)")
	flags.StringVar(&o.LogLevel, "log-level", "info", "daemon log level: debug, info, warn or error")
	for _, f := range commands {
		root.AddCommand(f(o))
	}
	return root
}

// defaultStateDir is $FLEDGE_STATE_DIR, else $XDG_STATE_HOME/fledge, else
// ~/.local/state/fledge.
func defaultStateDir() string {
	if d := os.Getenv("FLEDGE_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "fledge")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "fledge")
	}
	return filepath.Join(os.TempDir(), "fledge-state")
}

// requestTimeout bounds one API call: a delete waits for replicas to stop.
const requestTimeout = 2 * time.Minute

// client finds the daemon of the state directory.
func (o *Options) client() (*server.Client, error) {
	c, err := server.Discover(o.StateDir)
	if err != nil {
		return nil, err
	}
	c.HTTP = &http.Client{Timeout: requestTimeout}
	return c, nil
}

// logger logs to ErrOut as text at the --log-level.
func (o *Options) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.LogLevel)
	}
	return slog.New(slog.NewTextHandler(o.ErrOut, &slog.HandlerOptions{Level: level})), nil
}

// exitError ends the command with a code; with no error, nothing more is
// printed (the command said why already).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// Execute runs root and returns the process's exit code, printing the error
// (every line of it) to the root's error stream.
func Execute(ctx context.Context, root *cobra.Command) int {
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	fmt.Fprintln(root.ErrOrStderr(), "error: "+strings.TrimRight(err.Error(), "\n"))
	return code
}

// kindPrefix names rollouts in messages, as kubectl names resources.
const kindPrefix = "rollout.fledge.dev/"
