package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/runner/store"
	"golang.org/x/term"
)

// terminal tells whether w is a terminal, where output may be colored and
// redrawn in place.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// painter colors text on a terminal (unless NO_COLOR is set) and leaves it
// plain elsewhere.
type painter bool

func newPainter(w io.Writer) painter {
	return painter(terminal(w) && os.Getenv("NO_COLOR") == "")
}

// ANSI colors.
const (
	red    = "31"
	green  = "32"
	yellow = "33"
	blue   = "34"
	dim    = "2"
)

func (p painter) paint(color, s string) string {
	if !p || s == "" {
		return s
	}
	return "\x1b[" + color + "m" + s + "\x1b[0m"
}

func (p painter) phase(ph v1alpha1.RolloutPhase) string {
	color := map[v1alpha1.RolloutPhase]string{
		v1alpha1.PhaseHealthy: green, v1alpha1.PhaseProgressing: blue,
		v1alpha1.PhasePaused: yellow, v1alpha1.PhaseDegraded: red,
	}[ph]
	if ph == "" {
		ph = "Unknown"
	}
	if color == "" {
		return string(ph)
	}
	return p.paint(color, string(ph))
}

func (p painter) analysis(ph v1alpha1.AnalysisPhase) string {
	switch ph {
	case v1alpha1.AnalysisSuccessful:
		return p.paint(green, string(ph))
	case v1alpha1.AnalysisFailed, v1alpha1.AnalysisError:
		return p.paint(red, string(ph))
	case v1alpha1.AnalysisInconclusive:
		return p.paint(yellow, string(ph))
	}
	return string(ph)
}

// progress draws done of n steps as a bar, e.g. [■■■□□□□] 3/7.
func progress(done, n int) string {
	done = min(max(done, 0), n)
	return "[" + strings.Repeat("■", done) + strings.Repeat("□", n-done) + fmt.Sprintf("] %d/%d", done, n)
}

// renderStatus writes the human view of a summary but its events, which
// renderView writes after the conditions.
func renderStatus(w io.Writer, s summary, p painter, now time.Time) {
	row := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-12s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	row("Name", "%s", s.Name)
	row("Phase", "%s", p.phase(s.Phase))
	if s.Message != "" {
		row("Message", "%s", s.Message)
	}
	row("Strategy", "%s", s.Strategy)
	if s.Strategy == "canary" {
		step := progress(int(s.CurrentStepIndex), s.Steps)
		if s.Step != "" {
			step += "  " + s.Step
		}
		row("Step", "%s", step)
	} else if s.Step != "" {
		row("Step", "%s", s.Step)
	}
	row("Weight", "%d%% canary, %d%% stable", s.CanaryWeight, 100-s.CanaryWeight)
	row("Revisions", "stable %s, canary %s", orDash(s.StableRevision), orDash(s.CanaryRevision))
	r := s.Replicas
	row("Replicas", "%d desired, %d running, %d ready (new revision: %d, %d ready)", r.Desired, r.Running, r.Ready, r.Updated, r.UpdatedReady)
	if s.Abort {
		row("Aborted", "%s", p.paint(red, "yes: `fledge retry "+s.Name+"` starts the release again"))
	}
	if s.PausedBySpec {
		row("Paused", "%s", "by spec.paused")
	}
	for _, c := range s.PauseConditions {
		row("Paused", "%s for %s", c.Reason, age(c.StartTime.Time, now))
	}
	if len(s.AnalysisRuns) > 0 {
		fmt.Fprintln(w, "Analysis:")
		for i, run := range s.AnalysisRuns {
			if i == maxEvents {
				fmt.Fprintf(w, "  ... %d older runs\n", len(s.AnalysisRuns)-i)
				break
			}
			role := run.Role
			if role == "" {
				role = "-"
			}
			line := fmt.Sprintf("  %-36s %-13s %s", run.Name, role, p.analysis(run.Phase))
			if run.Message != "" {
				line += "  " + run.Message
			}
			fmt.Fprintln(w, line)
		}
	}
}

// renderEvents writes the Events block of a status view, if any.
func renderEvents(w io.Writer, events []store.Event, p painter, now time.Time) {
	if len(events) == 0 {
		return
	}
	fmt.Fprintln(w, "Events:")
	for _, e := range events {
		// Pad before painting: color codes take no room on screen.
		reason := fmt.Sprintf("%-18s", e.Reason)
		if e.Type == "Warning" {
			reason = p.paint(yellow, reason)
		}
		fmt.Fprintf(w, "  %s %s %s\n", p.paint(dim, fmt.Sprintf("%-8s", age(e.Time, now))), reason, e.Message)
	}
}

// renderView writes a status view: the summary, then the conditions (a
// cluster Rollout's, kube_render.go), then the events.
func renderView(w io.Writer, v statusView, p painter, now time.Time) {
	renderStatus(w, v.summary, p, now)
	renderConditions(w, v.Conditions, p)
	renderEvents(w, v.Events, p, now)
}

// oneLine is the status in a line, for watching into a file or a pipe.
func oneLine(s summary, now time.Time) string {
	line := fmt.Sprintf("%s %s %s", now.Format("15:04:05"), s.Name, s.Phase)
	if s.Strategy == "canary" {
		line += fmt.Sprintf(" step %d/%d", s.CurrentStepIndex, s.Steps)
	}
	line += fmt.Sprintf(" weight %d%% stable %s canary %s", s.CanaryWeight, orDash(s.StableRevision), orDash(s.CanaryRevision))
	if s.Step != "" {
		line += " (" + s.Step + ")"
	}
	if s.Message != "" {
		line += ": " + s.Message
	}
	return line
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age is how long ago t was, in the largest unit or two: 45s, 3m12s, 5h3m, 2d.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// redrawer rewrites a block of lines in place on a terminal: it moves the
// cursor up over what it drew last and clears to the end of the screen.
type redrawer struct {
	w     io.Writer
	lines int // physical lines drawn last time
}

func (r *redrawer) draw(text string) {
	var b strings.Builder
	if r.lines > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", r.lines)
	}
	b.WriteString("\x1b[J")
	b.WriteString(text)
	io.WriteString(r.w, b.String())
	r.lines = physicalLines(text, r.width())
}

func (r *redrawer) width() int {
	if f, ok := r.w.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 0
}

// physicalLines counts the terminal lines text takes, long lines wrapping
// at width (0: no wrapping); color codes take no room.
func physicalLines(text string, width int) int {
	n := 0
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		cols := len([]rune(stripANSI(l)))
		if width > 0 && cols > width {
			n += (cols + width - 1) / width
		} else {
			n++
		}
	}
	return n
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
