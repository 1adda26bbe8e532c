package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// heartbeat keeps an idle stream's connection from being closed as dead.
const heartbeat = 15 * time.Second

// Samples is the payload of a "samples" event: new chart points per revision.
type Samples struct {
	Series map[string][]Point `json:"series"`
}

// sse writes server-sent events.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startSSE sends the stream's headers; the browser reconnects by itself
// after retry milliseconds if the connection drops.
func startSSE(w http.ResponseWriter) (*sse, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: http.NewResponseController(w)}
	fmt.Fprint(w, "retry: 2000\n\n")
	return s, s.rc.Flush()
}

// send writes one event; data is JSON, on one line.
func (s *sse) send(event string, data []byte) error {
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	return s.rc.Flush()
}

// sendChanged sends v as event, or err as a "failure" event, unless it is
// what was sent last.
func (s *sse) sendChanged(last *[]byte, event string, v any, err error) error {
	if err != nil {
		event, v = "failure", errorBody{Error: err.Error()}
	}
	b := mustJSON(v)
	if bytes.Equal(b, *last) {
		return nil
	}
	*last = b
	return s.send(event, b)
}

func (s *sse) comment() error {
	if _, err := fmt.Fprint(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// streamList sends the rollout list ("list") whenever it changes.
func (d *Dashboard) streamList(w http.ResponseWriter, r *http.Request, sess *session) {
	var last []byte
	d.stream(w, r, sess, func(s *sse) error {
		rows, err := d.summaries(r.Context())
		return s.sendChanged(&last, "list", rows, err)
	})
}

// streamRollout sends a rollout's page ("detail") whenever it changes, and
// the chart points ("samples") as the sampler takes them: first every
// point it holds, then each new one once.
func (d *Dashboard) streamRollout(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	var last []byte
	since := 0.0
	d.stream(w, r, sess, func(s *sse) error {
		det, err := d.detail(r.Context(), name)
		if d.isNotFound(err) {
			err = fmt.Errorf("rollout %q not found", name)
		}
		if err := s.sendChanged(&last, "detail", det, err); err != nil {
			return err
		}
		series := d.sampler.Series(name, since)
		if len(series) == 0 {
			return nil
		}
		for _, ps := range series {
			since = max(since, ps[len(ps)-1].T)
		}
		return s.send("samples", mustJSON(Samples{Series: series}))
	})
}

// stream runs update each poll interval, after each sample and after each
// change a Watcher reports, until the browser goes, the session ends
// ("logout" is sent) or the daemon stops.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request, sess *session, update func(*sse) error) {
	s, err := startSSE(w)
	if err != nil {
		d.log.Debug("dashboard stream cannot flush", "err", err)
		return
	}
	poll := time.NewTicker(d.cfg.PollInterval)
	defer poll.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	var changes <-chan struct{} // nil (never ready) without a change feed
	for {
		if feed, ok := d.cfg.Control.(Watcher); ok {
			changes = feed.Changed()
		}
		if !d.auth.alive(sess) {
			s.send("logout", []byte("{}"))
			return
		}
		if err := update(s); err != nil {
			return // the browser went away
		}
		select {
		case <-r.Context().Done():
			return
		case <-poll.C:
		case <-d.sampler.Changed():
		case <-changes:
		case <-beat.C:
			if s.comment() != nil {
				return
			}
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("dashboard: %T does not marshal: %v", v, err))
	}
	return b
}
