package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"fledge.dev/fledge/api/v1alpha1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Who sent a command travels with it: its sender (kubectl fledge, the
// cluster dashboard) writes AnnotationCommandBy next to AnnotationCommand,
// the controller records the Events of the decision that applied the
// command with that actor (an annotation on the Event, and "(by ACTOR)" at
// the end of its message), and removes both annotations together. The
// name is informational: anyone who may patch the Rollout may write any
// value there, so it is validated for shape only (see ValidActor), never
// for truth; the API server's audit log is the record of who did what.

const (
	// AnnotationCommandBy names who sent the command of AnnotationCommand,
	// e.g. "kubectl-fledge:alice" or "dashboard:alice".
	AnnotationCommandBy = "fledge.dev/command-by"
	// AnnotationActor, on an Event, names who caused it: the sender of the
	// command the decision applied. Events without it are the engine's.
	AnnotationActor = "fledge.dev/actor"
	// ActorUnknown is the actor of a command sent without a valid
	// AnnotationCommandBy (e.g. `kubectl annotate` by hand).
	ActorUnknown = "unknown"
	// MaxActorLen bounds an actor name, in characters.
	MaxActorLen = 128
)

// ValidActor checks that s may name an actor: 1 to MaxActorLen printable
// characters (no control or invisible formatting characters, which could
// disguise a name in a terminal or on the page).
func ValidActor(s string) error {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case n == 0:
		return errors.New("empty")
	case n > MaxActorLen:
		return fmt.Errorf("%d characters, more than %d", n, MaxActorLen)
	}
	for i, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("character %U at byte %d is not printable", r, i)
		}
	}
	return nil
}

// Actor names a command's sender as "SENDER:USER" ("SENDER" when the user
// is unknown), made valid for ValidActor: a character that is not
// printable becomes '?', and a name too long is cut.
func Actor(sender, user string) string {
	s := sender
	if user != "" {
		s += ":" + user
	}
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > MaxActorLen {
		s = string(r[:MaxActorLen])
	}
	return s
}

// WhoAmI asks the API server which user cfg's credentials authenticate as
// (a SelfSubjectReview, authentication.k8s.io/v1: served by Kubernetes
// 1.28 and later, and allowed to every authenticated user by default).
func WhoAmI(ctx context.Context, cfg *rest.Config) (string, error) {
	c, err := authenticationclient.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	r, err := c.SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("ask the API server who we are (SelfSubjectReview): %w", err)
	}
	if r.Status.UserInfo.Username == "" {
		return "", errors.New("ask the API server who we are (SelfSubjectReview): no username in its answer")
	}
	return r.Status.UserInfo.Username, nil
}

// commandActor is who sent the command ro carries: its
// AnnotationCommandBy, or ActorUnknown when that is missing or invalid
// (why it is invalid is returned too).
func commandActor(ro *v1alpha1.Rollout) (string, error) {
	by, ok := ro.Annotations[AnnotationCommandBy]
	if !ok {
		return ActorUnknown, nil
	}
	if err := ValidActor(by); err != nil {
		return ActorUnknown, fmt.Errorf("annotation %s of rollout %s: %w", AnnotationCommandBy, ro.Name, err)
	}
	return by, nil
}

// byActor is the message of an Event caused by actor. The suffix also
// keeps client-go's recorder, which folds an Event into an earlier one of
// the same message, from crediting one sender with another's command.
func byActor(message, actor string) string {
	return message + " (by " + actor + ")"
}

// EventActor reads who caused an Event (AnnotationActor; "" for the
// engine, or a value that is not a valid actor) and its message without
// the "(by ACTOR)" that names them.
func EventActor(e corev1.Event) (actor, message string) {
	actor = e.Annotations[AnnotationActor]
	if actor == "" || ValidActor(actor) != nil {
		return "", e.Message
	}
	return actor, strings.TrimSuffix(e.Message, " (by "+actor+")")
}

// eventf records an Event of a decision: the engine's when actor is "",
// else one caused by actor's command.
func (r *Reconciler) eventf(ro *v1alpha1.Rollout, actor, typ, reason, message string) {
	if actor == "" {
		r.Events.Eventf(ro, typ, reason, "%s", message)
		return
	}
	r.Events.AnnotatedEventf(ro, map[string]string{AnnotationActor: actor}, typ, reason, "%s", byActor(message, actor))
}

// decisionActor is who caused the Events of a decision: the command's
// sender when it applied a command; "" (the engine) otherwise, a rejected
// command included (its CommandRejected Event says so).
func decisionActor(ctx context.Context, ro *v1alpha1.Rollout, command, commandError string) string {
	if command == "" || commandError != "" {
		return ""
	}
	actor, err := commandActor(ro)
	if err != nil {
		ctrllog.FromContext(ctx).Info("command sender not recorded", "reason", err.Error())
	}
	return actor
}
