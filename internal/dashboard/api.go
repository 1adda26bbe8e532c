package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
)

// commands are the buttons' verbs; undo is the one that is not a rollout.Command.
var commands = map[string]rollout.Command{
	"promote":      rollout.CommandPromote,
	"promote-full": rollout.CommandPromoteFull,
	"pause":        rollout.CommandPause,
	"resume":       rollout.CommandResume,
	"abort":        rollout.CommandAbort,
	"retry":        rollout.CommandRetry,
}

// commandTimeout bounds one button's wait for the daemon's answer.
const commandTimeout = 30 * time.Second

// Done is the answer of a command.
type Done struct {
	Name   string `json:"name"`
	Action string `json:"action"`
}

func (d *Dashboard) list(w http.ResponseWriter, r *http.Request, _ *session) {
	rows, err := d.summaries(r.Context())
	if err != nil {
		d.fail(w, "", err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

func (d *Dashboard) get(w http.ResponseWriter, r *http.Request, _ *session) {
	name := r.PathValue("name")
	det, err := d.detail(r.Context(), name)
	if err != nil {
		d.fail(w, name, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, det)
}

// command runs a button's verb and remembers when, so that the events it
// causes are shown as the dashboard's.
func (d *Dashboard) command(w http.ResponseWriter, r *http.Request, _ *session) {
	name, verb := r.PathValue("name"), r.PathValue("command")
	cmd, ok := commands[verb]
	if !ok && verb != "undo" {
		writeError(w, http.StatusNotFound, "unknown command "+verb+": one of promote, promote-full, pause, resume, abort, retry, undo")
		return
	}
	if l, ok := d.cfg.Control.(Limited); ok {
		if why, no := l.Unsupported()[verb]; no {
			writeError(w, http.StatusNotImplemented, why)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), commandTimeout)
	defer cancel()
	start := time.Now()
	var err error
	if verb == "undo" {
		err = d.cfg.Control.Undo(ctx, name, "")
	} else {
		err = d.cfg.Control.Command(ctx, name, cmd)
	}
	d.actors.record(name, start, time.Now())
	if err != nil {
		d.fail(w, name, err, http.StatusConflict)
		return
	}
	d.log.Info("dashboard command", "rollout", name, "command", verb)
	writeJSON(w, http.StatusOK, Done{Name: name, Action: verb})
}

// summaries lists every rollout.
func (d *Dashboard) summaries(ctx context.Context) ([]Summary, error) {
	rs, err := d.cfg.Control.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(rs))
	for _, ro := range rs {
		out = append(out, summarize(ro))
	}
	return out, nil
}

// detail gathers a rollout's page from the daemon and the sampler.
func (d *Dashboard) detail(ctx context.Context, name string) (Detail, error) {
	ro, err := d.cfg.Control.Get(ctx, name)
	if err != nil {
		return Detail{}, err
	}
	events, err := d.cfg.Control.Events(ctx, name)
	if err != nil {
		return Detail{}, err
	}
	runs, err := d.cfg.Control.Runs(ctx, name)
	if err != nil {
		return Detail{}, err
	}
	var observed map[string]uint64
	if d.cfg.Metrics != nil {
		observed = d.sampler.Observed(name, splitWindow)
	}
	det := detail(ro, events, runs, d.actors.who(name), observed, splitWindow)
	det.Mode = d.cfg.Mode
	if d.cfg.Metrics == nil {
		det.NoMetrics = d.cfg.NoMetrics
	}
	if l, ok := d.cfg.Control.(Limited); ok {
		det.Disabled = l.Unsupported()
	}
	return det, nil
}

func (d *Dashboard) isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound) || (d.cfg.NotFound != nil && d.cfg.NotFound(err))
}

// fail writes a Control error: a missing rollout is 404, a refused command
// a conflict (with the daemon's reason), an interrupted call 503.
func (d *Dashboard) fail(w http.ResponseWriter, name string, err error, otherwise int) {
	switch {
	case d.isNotFound(err):
		writeError(w, http.StatusNotFound, "rollout \""+name+"\" not found")
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "the daemon is busy or shutting down: "+err.Error())
	default:
		if otherwise >= 500 {
			d.log.Error("dashboard request failed", "rollout", name, "err", err)
		}
		writeError(w, otherwise, strings.TrimPrefix(err.Error(), name+": "))
	}
}

// errorBody is the JSON of every error response, as the API's.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the browser went away: nothing to do
}
