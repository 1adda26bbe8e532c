package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
)

// maxSpecBytes bounds an applied file: specs are a few kilobytes.
const maxSpecBytes = 4 << 20

// Applied says what an apply did to one rollout.
type Applied struct {
	Name string `json:"name"`
	// Action is "created" or "configured".
	Action string `json:"action"`
}

// ApplyResult is the response of POST /api/v1/rollouts.
type ApplyResult struct {
	Items []Applied `json:"items"`
}

// Done is the response of a command, an undo or a delete.
type Done struct {
	Name string `json:"name"`
	// Action is the command ("promote", "undo", "delete", ...).
	Action string `json:"action"`
	// Revision is the one an undo asked for; empty: the previous stable one.
	Revision string `json:"revision,omitempty"`
}

// UndoRequest is the optional body of POST .../undo.
type UndoRequest struct {
	Revision string `json:"revision,omitempty"`
}

// commands are the verbs of POST /api/v1/rollouts/{name}/{command}.
var commands = map[string]rollout.Command{
	"promote":      rollout.CommandPromote,
	"promote-full": rollout.CommandPromoteFull,
	"abort":        rollout.CommandAbort,
	"retry":        rollout.CommandRetry,
	"pause":        rollout.CommandPause,
	"resume":       rollout.CommandResume,
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	rs, err := s.cfg.Control.List(r.Context())
	if err != nil {
		s.fail(w, r, "", err, http.StatusInternalServerError)
		return
	}
	if rs == nil {
		rs = []*v1alpha1.Rollout{}
	}
	writeJSON(w, http.StatusOK, rs)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ro, err := s.cfg.Control.Get(r.Context(), name)
	if err != nil {
		s.fail(w, r, name, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, ro)
}

// apply decodes, defaults and validates the body (YAML or JSON, one or more
// documents) and applies every rollout in it, or none.
func (s *Server) apply(w http.ResponseWriter, r *http.Request) {
	dir := r.URL.Query().Get("dir")
	if dir != "" && !filepath.IsAbs(dir) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("dir %q must be an absolute path: relative commands resolve against it", dir), nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSpecBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the spec is larger than %d bytes", maxSpecBytes), nil)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "read the spec: "+err.Error(), nil)
		return
	}
	rs, err := v1alpha1.Load(body)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid rollout spec: nothing was applied", lines(err))
		return
	}
	result := ApplyResult{Items: []Applied{}}
	for _, ro := range rs {
		action := "configured"
		if _, err := s.cfg.Control.Get(r.Context(), ro.Name); s.isNotFound(err) {
			action = "created"
		}
		result.Items = append(result.Items, Applied{Name: ro.Name, Action: action})
	}
	if err := s.cfg.Control.Apply(r.Context(), rs, dir); err != nil {
		s.fail(w, r, "", err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, result)
}

func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	name, verb := r.PathValue("name"), r.PathValue("command")
	cmd, ok := commands[verb]
	if !ok {
		verbs := make([]string, 0, len(commands))
		for v := range commands {
			verbs = append(verbs, v)
		}
		slices.Sort(verbs)
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown command %q: one of %s, undo", verb, strings.Join(verbs, ", ")), nil)
		return
	}
	if err := s.cfg.Control.Command(r.Context(), name, cmd); err != nil {
		s.fail(w, r, name, err, http.StatusConflict)
		return
	}
	writeJSON(w, http.StatusOK, Done{Name: name, Action: verb})
}

func (s *Server) undo(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req UndoRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, `the body must be empty or {"revision": "N"}: `+err.Error(), nil)
		return
	}
	if err := s.cfg.Control.Undo(r.Context(), name, req.Revision); err != nil {
		s.fail(w, r, name, err, http.StatusConflict)
		return
	}
	writeJSON(w, http.StatusOK, Done{Name: name, Action: "undo", Revision: req.Revision})
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	revs, err := s.cfg.Control.History(r.Context(), name)
	respond(s, w, r, name, revs, err)
}

func (s *Server) runs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	runs, err := s.cfg.Control.Runs(r.Context(), name)
	respond(s, w, r, name, runs, err)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	evs, err := s.cfg.Control.Events(r.Context(), name)
	respond(s, w, r, name, evs, err)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.cfg.Control.Delete(r.Context(), name); err != nil {
		s.fail(w, r, name, err, http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, Done{Name: name, Action: "delete"})
}

// respond writes a list, [] rather than null when empty.
func respond[T any](s *Server, w http.ResponseWriter, r *http.Request, name string, items []T, err error) {
	if err != nil {
		s.fail(w, r, name, err, http.StatusInternalServerError)
		return
	}
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, items)
}
