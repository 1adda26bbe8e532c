package controller

import (
	"context"
	"strings"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidActor(t *testing.T) {
	tests := map[string]struct {
		actor string
		err   string // "" for valid
	}{
		"kubectl fledge with a user":    {actor: "kubectl-fledge:alice@example.com"},
		"a service account":             {actor: "dashboard:system:serviceaccount:ops:fledge"},
		"spaces and non-ASCII letters":  {actor: "dashboard:Zoë Ångström"},
		"as long as allowed":            {actor: strings.Repeat("é", MaxActorLen)},
		"empty":                         {actor: "", err: "empty"},
		"too long":                      {actor: strings.Repeat("a", MaxActorLen+1), err: "129 characters, more than 128"},
		"a newline forging a log line":  {actor: "alice\nbob", err: "U+000A at byte 5 is not printable"},
		"an escape sequence":            {actor: "\x1b[2Jalice", err: "U+001B"},
		"a right-to-left override":      {actor: "alice\u202eecila", err: "U+202E"},
		"invalid UTF-8":                 {actor: "alice\xff", err: "not valid UTF-8"},
		"a zero-width space in between": {actor: "ali\u200bce", err: "U+200B"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := ValidActor(tt.actor)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("ValidActor(%q): %v, want valid", tt.actor, err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("ValidActor(%q): %v, want an error with %q", tt.actor, err, tt.err)
			}
		})
	}
}

// Whatever the API server answers, the sender writes a valid name.
func TestActorIsAlwaysValid(t *testing.T) {
	tests := map[string]struct {
		sender, user, want string
	}{
		"with the user":        {sender: "kubectl-fledge", user: "alice", want: "kubectl-fledge:alice"},
		"no user":              {sender: "dashboard", want: "dashboard"},
		"control characters":   {sender: "dashboard", user: "al\tice\x00", want: "dashboard:al?ice?"},
		"invalid UTF-8":        {sender: "kubectl-fledge", user: "a\xffb", want: "kubectl-fledge:a?b"},
		"a user name too long": {sender: "dashboard", user: strings.Repeat("u", 200), want: "dashboard:" + strings.Repeat("u", MaxActorLen-len("dashboard:"))},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Actor(tt.sender, tt.user)
			if got != tt.want {
				t.Errorf("Actor(%q, %q) = %q, want %q", tt.sender, tt.user, got, tt.want)
			}
			if err := ValidActor(got); err != nil {
				t.Errorf("Actor(%q, %q) = %q: %v", tt.sender, tt.user, got, err)
			}
		})
	}
}

// The Events of a decision name the command's sender only when the
// decision applied a command; a name that is not valid is not repeated.
func TestDecisionActor(t *testing.T) {
	withBy := func(by ...string) *v1alpha1.Rollout {
		ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{AnnotationCommand: "promote"}}}
		if len(by) > 0 {
			ro.Annotations[AnnotationCommandBy] = by[0]
		}
		return ro
	}
	tests := map[string]struct {
		ro                    *v1alpha1.Rollout
		command, commandError string
		want                  string
	}{
		"a command applied":            {ro: withBy("kubectl-fledge:alice"), command: "promote", want: "kubectl-fledge:alice"},
		"a command rejected":           {ro: withBy("kubectl-fledge:alice"), command: "promote", commandError: "no rollout is in progress", want: ""},
		"no command: the engine":       {ro: withBy("kubectl-fledge:alice"), want: ""},
		"a command without its sender": {ro: withBy(), command: "promote", want: ActorUnknown},
		"a sender's name not valid":    {ro: withBy("alice\n[info] bob promoted"), command: "promote", want: ActorUnknown},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := decisionActor(context.Background(), tt.ro, tt.command, tt.commandError); got != tt.want {
				t.Errorf("actor %q, want %q", got, tt.want)
			}
		})
	}
}

// Readers get the actor back and the message as the engine wrote it.
func TestEventActor(t *testing.T) {
	event := func(msg string, annotations map[string]string) corev1.Event {
		return corev1.Event{ObjectMeta: metav1.ObjectMeta{Annotations: annotations}, Message: msg}
	}
	tests := map[string]struct {
		event          corev1.Event
		actor, message string
	}{
		"a command's event": {
			event: event(byActor("aborted by user", "dashboard:alice"), map[string]string{AnnotationActor: "dashboard:alice"}),
			actor: "dashboard:alice", message: "aborted by user",
		},
		"the engine's event": {
			event: event("canary weight 0% -> 20%", nil), message: "canary weight 0% -> 20%",
		},
		"an actor not valid is not shown": {
			event:   event("x (by a\x1bb)", map[string]string{AnnotationActor: "a\x1bb"}),
			message: "x (by a\x1bb)",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			actor, msg := EventActor(tt.event)
			if actor != tt.actor || msg != tt.message {
				t.Errorf("EventActor = %q, %q; want %q, %q", actor, msg, tt.actor, tt.message)
			}
		})
	}
}
