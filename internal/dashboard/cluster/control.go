package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/run"
	"fledge.dev/fledge/internal/controller"
	"fledge.dev/fledge/internal/dashboard"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/runner/store"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var (
	_ dashboard.Control = (*Control)(nil)
	_ dashboard.Watcher = (*Control)(nil)
	_ dashboard.Limited = (*Control)(nil)
)

// UndoUnsupported is why the Undo button is disabled in cluster mode.
const UndoUnsupported = "undo is not available in cluster mode: the controller has no undo command " +
	"(set the workload Deployment's pod template back to release the previous version)"

// Control reads and drives the Rollouts of one namespace.
type Control struct {
	ns    string
	cache cache.Cache
	kube  client.Client // direct, for the commands' patches
	cfg   *rest.Config
	log   *slog.Logger

	mu      sync.Mutex
	changed chan struct{}
	// user is who the API server knows the dashboard as, once it said.
	user string
}

// New returns a source over namespace ns of the cluster cfg reaches. Start
// it (it runs the watches) before serving.
func New(cfg *rest.Config, ns string, log *slog.Logger) (*Control, error) {
	if ns == "" {
		return nil, errors.New("namespace: required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	scheme := controller.Scheme()
	kube, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	c, err := cache.New(cfg, cache.Options{
		Scheme:            scheme,
		Mapper:            kube.RESTMapper(),
		DefaultNamespaces: map[string]cache.Config{ns: {}},
		ByObject: map[client.Object]cache.ByObject{
			// Only the Events about Rollouts.
			&corev1.Event{}: {Field: fields.OneTermEqualSelector("involvedObject.kind", v1alpha1.KindRollout)},
		},
		ReaderFailOnMissingInformer: true,
	})
	if err != nil {
		return nil, fmt.Errorf("kubernetes cache: %w", err)
	}
	ctl := &Control{ns: ns, cache: c, kube: kube, cfg: cfg, log: log, changed: make(chan struct{})}
	// The watches are set up here, so that WaitForSync, called while Start
	// runs, waits for all of them. Rollouts must be readable; a cluster
	// without the AnalysisRun CRD is shown without runs (and Events too).
	if err := ctl.watch(&v1alpha1.Rollout{}); err != nil {
		return nil, fmt.Errorf("watch Rollouts in namespace %s (is the Rollout CRD installed?): %w", ns, err)
	}
	for _, obj := range []client.Object{&v1alpha1.AnalysisRun{}, &corev1.Event{}} {
		if err := ctl.watch(obj); err != nil {
			log.Warn("dashboard: shown without them", "kind", fmt.Sprintf("%T", obj), "err", err)
		}
	}
	return ctl, nil
}

// Start runs the watches of the namespace's Rollouts, AnalysisRuns and
// Events until ctx ends.
func (c *Control) Start(ctx context.Context) error { return c.cache.Start(ctx) }

// watch adds an informer (started by Start) whose every change wakes the
// live pages.
func (c *Control) watch(obj client.Object) error {
	inf, err := c.cache.GetInformer(context.Background(), obj, cache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	poke := func(any) { c.poke() }
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, _ any) { c.poke() },
		DeleteFunc: poke,
	})
	return err
}

// WaitForSync waits until the watches have listed what exists.
func (c *Control) WaitForSync(ctx context.Context) bool { return c.cache.WaitForCacheSync(ctx) }

func (c *Control) poke() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.changed)
	c.changed = make(chan struct{})
}

// Changed is closed after the next change of a watched object.
func (c *Control) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// Unsupported: the controller has no undo.
func (c *Control) Unsupported() map[string]string {
	return map[string]string{"undo": UndoUnsupported}
}

// NotFound says whether an error means the rollout does not exist.
func NotFound(err error) bool { return apierrors.IsNotFound(err) }

// Get reads a Rollout.
func (c *Control) Get(ctx context.Context, name string) (*v1alpha1.Rollout, error) {
	var ro v1alpha1.Rollout
	if err := c.cache.Get(ctx, types.NamespacedName{Namespace: c.ns, Name: name}, &ro); err != nil {
		return nil, err
	}
	return &ro, nil
}

// List reads the namespace's Rollouts, by name.
func (c *Control) List(ctx context.Context) ([]*v1alpha1.Rollout, error) {
	var list v1alpha1.RolloutList
	if err := c.cache.List(ctx, &list, client.InNamespace(c.ns)); err != nil {
		return nil, err
	}
	out := make([]*v1alpha1.Rollout, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Command annotates the Rollout with cmd for the controller, which applies
// it at its next reconcile and removes the annotation. A command still
// waiting there is not overwritten: the user is told to wait. The command
// names its sender (see Actor) for the controller's Events.
func (c *Control) Command(ctx context.Context, name string, cmd rollout.Command) error {
	var ro v1alpha1.Rollout
	if err := c.kube.Get(ctx, types.NamespacedName{Namespace: c.ns, Name: name}, &ro); err != nil {
		return err
	}
	if pending := ro.Annotations[controller.AnnotationCommand]; pending != "" {
		return fmt.Errorf("%s: command %q is still waiting for the controller (annotation %s): try again once it is applied",
			name, pending, controller.AnnotationCommand)
	}
	base := ro.DeepCopy()
	if ro.Annotations == nil {
		ro.Annotations = map[string]string{}
	}
	ro.Annotations[controller.AnnotationCommand] = string(cmd)
	ro.Annotations[controller.AnnotationCommandBy] = c.Actor(ctx)
	// Optimistic lock: a command annotated meanwhile is not overwritten.
	if err := c.kube.Patch(ctx, &ro, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			return fmt.Errorf("%s: the Rollout changed while sending %s: try again", name, cmd)
		}
		return fmt.Errorf("annotate rollout %s with %s=%s: %w", name, controller.AnnotationCommand, cmd, err)
	}
	return nil
}

// Actor names the dashboard as a command's sender: "dashboard:USER", USER
// being who the API server knows the dashboard's own credentials as (the
// kubeconfig's, not the browser user's, whom the cluster does not know),
// asked once; "dashboard" while it cannot say.
func (c *Control) Actor(ctx context.Context) string {
	c.mu.Lock()
	user := c.user
	c.mu.Unlock()
	if user == "" {
		ctx, cancel := context.WithTimeout(ctx, whoAmITimeout)
		defer cancel()
		var err error
		if user, err = controller.WhoAmI(ctx, c.cfg); err != nil {
			c.log.Warn("dashboard: commands sent without the user's name", "err", err)
		}
		c.mu.Lock()
		c.user = user
		c.mu.Unlock()
	}
	return controller.Actor(dashboardSender, user)
}

// dashboardSender names the dashboard in a command's sender.
const dashboardSender = "dashboard"

// whoAmITimeout bounds the wait for the API server's SelfSubjectReview.
const whoAmITimeout = 5 * time.Second

// Undo is not supported in cluster mode.
func (c *Control) Undo(context.Context, string, string) error { return errors.New(UndoUnsupported) }

// Runs lists the Rollout's AnalysisRuns.
func (c *Control) Runs(ctx context.Context, name string) ([]*v1alpha1.AnalysisRun, error) {
	var list v1alpha1.AnalysisRunList
	err := c.cache.List(ctx, &list, client.InNamespace(c.ns), client.MatchingLabels{run.LabelRollout: name})
	if notWatched(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]*v1alpha1.AnalysisRun, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// Events lists the Events recorded for the Rollout, oldest first.
func (c *Control) Events(ctx context.Context, name string) ([]store.Event, error) {
	var list corev1.EventList
	err := c.cache.List(ctx, &list, client.InNamespace(c.ns))
	if notWatched(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	recordedOrder(list.Items)
	var out []store.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind != v1alpha1.KindRollout || e.InvolvedObject.Name != name {
			continue
		}
		out = append(out, storeEvent(e))
	}
	return out, nil
}

// storeEvent is an Event as the page shows it: the actor is the sender of
// the command that caused it (the "(by ACTOR)" of its message then goes,
// the page shows the actor beside it), else "fledge", the engine.
func storeEvent(e corev1.Event) store.Event {
	actor, msg := controller.EventActor(e)
	if actor == "" {
		actor = "fledge"
	}
	return store.Event{Time: eventTime(e), Type: e.Type, Reason: e.Reason, Message: msg, Actor: actor}
}

// recordedOrder sorts Events oldest first. Their timestamps are whole
// seconds, so the Events of one reconcile tie, and the cache lists them in
// no particular order: the page would show them shuffled, differently at
// each redraw. client-go's recorder names an Event <object>.<hex
// nanoseconds when recorded>, so among ties the name is the order they
// were recorded in (and, whatever the names, one order that stays put).
func recordedOrder(events []corev1.Event) {
	sort.SliceStable(events, func(i, j int) bool {
		ti, tj := eventTime(events[i]), eventTime(events[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return events[i].Name < events[j].Name
	})
}

// notWatched says a kind could not be watched (its CRD is missing, or the
// user may not read it): the page shows the rollout without it.
func notWatched(err error) bool {
	return meta.IsNoMatchError(err) || errors.As(err, new(*cache.ErrResourceNotCached))
}

// eventTime is when an Event last happened, whichever API wrote it.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
