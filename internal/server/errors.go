package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
)

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Error string `json:"error"`
	// Details list every mistake, e.g. "spec.replicas: must be >= 0".
	Details []string `json:"details,omitempty"`
}

// isValidation tells whether err is about the input (a spec's mistakes),
// as opposed to the daemon failing.
func isValidation(err error) bool {
	var list v1alpha1.ErrorList
	var field *v1alpha1.FieldError
	var doc *v1alpha1.DocumentError
	return errors.As(err, &list) || errors.As(err, &field) || errors.As(err, &doc)
}

// fail writes a Control error with the status it deserves; otherwise is
// the status of an error that is neither invalid input, a missing
// rollout nor an interrupted request (a refused command is a conflict, a
// failed read an internal error).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, name string, err error, otherwise int) {
	switch {
	case s.isNotFound(err) && name != "":
		writeError(w, http.StatusNotFound, "rollout \""+name+"\" not found", nil)
	case s.isNotFound(err):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	case isValidation(err):
		writeError(w, http.StatusUnprocessableEntity, "the daemon refused the spec, nothing was applied", lines(err))
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "the daemon is shutting down or busy: "+err.Error(), nil)
	default:
		if otherwise >= 500 {
			s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		msg, details := split(err)
		writeError(w, otherwise, msg, details)
	}
}

// lines is one detail per line of an error.
func lines(err error) []string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// split makes a multi-line error a message and details.
func split(err error) (string, []string) {
	ls := lines(err)
	if len(ls) == 0 {
		return err.Error(), nil
	}
	return ls[0], ls[1:]
}

func writeError(w http.ResponseWriter, status int, msg string, details []string) {
	writeJSON(w, status, ErrorBody{Error: msg, Details: details})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away: nothing to do
}
