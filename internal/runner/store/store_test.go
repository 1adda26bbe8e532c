package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	bolt "go.etcd.io/bbolt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// rolloutAt builds a rollout whose status names a step and a revision.
func rolloutAt(name string, step int32, rev string) *v1alpha1.Rollout {
	replicas := int32(2)
	return &v1alpha1.Rollout{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.APIVersion, Kind: v1alpha1.KindRollout},
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"fledge.dev/revision": rev}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: &replicas,
			Template: &v1alpha1.ProcessTemplate{Command: []string{"./app", "-v", rev}},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetWeight: &replicas}, {Pause: &v1alpha1.RolloutPause{Duration: v1alpha1.Seconds(30)}},
			}}},
		},
		Status: v1alpha1.RolloutStatus{Phase: v1alpha1.PhaseProgressing, CurrentStepIndex: step, CanaryRevision: rev, CanaryWeight: 10 * step},
	}
}

func revision(id string, created time.Time) *Revision {
	return &Revision{ID: id, Hash: "h" + id, Template: v1alpha1.ProcessTemplate{Command: []string{"./app", id}}, Dir: "/srv/app", CreatedAt: created.UTC()}
}

func TestRoundTrip(t *testing.T) {
	s, _ := openTemp(t)
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ro := rolloutAt("web", 1, "2")
	ev := Event{Time: t0, Type: "Normal", Reason: "WeightChanged", Message: "canary weight 0% -> 10%", Actor: "fledge"}
	if err := s.Commit(Change{Rollout: ro, Revision: revision("2", t0), Events: []Event{ev}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Rollout("web")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(jsonOf(t, got), jsonOf(t, ro)) {
		t.Errorf("rollout round trip:\n got %s\nwant %s", jsonOf(t, got), jsonOf(t, ro))
	}
	revs, _ := s.Revisions("web")
	if len(revs) != 1 || !reflect.DeepEqual(revs[0], *revision("2", t0)) {
		t.Errorf("revisions = %+v", revs)
	}
	evs, _ := s.Events("web", 10)
	if len(evs) != 1 || evs[0] != ev {
		t.Errorf("events = %+v, want [%+v]", evs, ev)
	}
	if _, err := s.Rollout("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Rollout(nope) error = %v, want ErrNotFound", err)
	}
}

func TestRolloutsSortedByName(t *testing.T) {
	s, _ := openTemp(t)
	for _, n := range []string{"web", "api", "mail"} {
		if err := s.Commit(Change{Rollout: rolloutAt(n, 0, "1")}); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.Rollouts()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "api,mail,web" {
		t.Errorf("Rollouts() = %v", names)
	}
}

func TestRevisionsOldestFirstAndPrune(t *testing.T) {
	s, _ := openTemp(t)
	t0 := time.Now()
	// Inserted out of order, ids past 9 so that byte order would be wrong.
	for _, i := range []int{10, 2, 9, 1} {
		rev := revision(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second))
		if err := s.Commit(Change{Rollout: rolloutAt("web", 0, rev.ID), Revision: rev}); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(t, s, "web"); got != "1,2,9,10" {
		t.Errorf("revisions = %s, want 1,2,9,10", got)
	}
	// Upsert: a revision committed again is replaced, not duplicated.
	stable := revision("2", t0.Add(2*time.Second))
	stable.StableAt = t0.Add(time.Minute).UTC()
	if err := s.Commit(Change{Rollout: rolloutAt("web", 0, "2"), Revision: stable}); err != nil {
		t.Fatal(err)
	}
	revs, _ := s.Revisions("web")
	if len(revs) != 4 || !revs[1].StableAt.Equal(stable.StableAt) {
		t.Errorf("after upsert: %+v", revs)
	}
	if err := s.PruneRevisions("web", func(r Revision) bool { return r.ID == "2" || r.ID == "10" }); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, s, "web"); got != "2,10" {
		t.Errorf("after prune = %s, want 2,10", got)
	}
	if revs, err := s.Revisions("unknown"); err != nil || len(revs) != 0 {
		t.Errorf("Revisions(unknown) = %v, %v", revs, err)
	}
}

func ids(t *testing.T, s *Store, name string) string {
	t.Helper()
	revs, err := s.Revisions(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range revs {
		out = append(out, r.ID)
	}
	return strings.Join(out, ",")
}

// A Commit that fails part-way leaves nothing of itself behind.
func TestCommitIsAllOrNothing(t *testing.T) {
	s, _ := openTemp(t)
	before := rolloutAt("web", 0, "1")
	if err := s.Commit(Change{Rollout: before, Revision: revision("1", time.Now())}); err != nil {
		t.Fatal(err)
	}
	// The rollout and events are fine; the revision's empty id makes bbolt
	// refuse it, after the rollout was written in the transaction.
	bad := Change{Rollout: rolloutAt("web", 1, "2"), Revision: &Revision{ID: ""}, Events: []Event{{Reason: "X"}}}
	if err := s.Commit(bad); err == nil {
		t.Fatal("Commit with an empty revision id succeeded")
	}
	got, _ := s.Rollout("web")
	if got.Status.CurrentStepIndex != 0 || got.Status.CanaryRevision != "1" {
		t.Errorf("the failed commit's rollout is visible: %+v", got.Status)
	}
	if evs, _ := s.Events("web", 0); len(evs) != 0 {
		t.Errorf("the failed commit's events are visible: %+v", evs)
	}
	if got := ids(t, s, "web"); got != "1" {
		t.Errorf("revisions = %s", got)
	}
}

// A reader in one transaction sees a rollout's status together with the
// revision and the event committed with it, never one without the others.
func TestCommitVisibleTogether(t *testing.T) {
	s, _ := openTemp(t)
	const n = 200
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= n; i++ {
			id := fmt.Sprint(i)
			c := Change{Rollout: rolloutAt("web", int32(i), id), Revision: revision(id, time.Now()), Events: []Event{{Reason: "Step", Message: id}}}
			if err := s.Commit(c); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	checked := 0
	deadline := time.Now().Add(time.Minute)
	for step := int32(0); step < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the writer reached step %d of %d within a minute", step, n)
		}
		err := s.db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket(bucketRollouts).Get([]byte("web"))
			if v == nil {
				return nil
			}
			var r v1alpha1.Rollout
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			step = r.Status.CurrentStepIndex
			id := r.Status.CanaryRevision
			if tx.Bucket(bucketRevisions).Bucket([]byte("web")).Get([]byte(id)) == nil {
				return fmt.Errorf("status names revision %s, which is not stored", id)
			}
			k, e := tx.Bucket(bucketEvents).Bucket([]byte("web")).Cursor().Last()
			if k == nil || !strings.Contains(string(e), `"message":"`+id+`"`) {
				return fmt.Errorf("status at revision %s, last event %s", id, e)
			}
			checked++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if checked == 0 {
		t.Fatal("the reader never saw a commit")
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	s, path := openTemp(t)
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ro := rolloutAt("web", 1, "1")
	if err := s.Commit(Change{Rollout: ro, Revision: revision("1", t0), Events: []Event{{Time: t0, Reason: "Applied"}}}); err != nil {
		t.Fatal(err)
	}
	run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "web-1-step-1"}, Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisRunning}}
	if err := s.SaveRun("web", run); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.Rollout("web")
	if err != nil || !reflect.DeepEqual(jsonOf(t, got), jsonOf(t, ro)) {
		t.Errorf("rollout after reopen: %v %s", err, jsonOf(t, got))
	}
	if got := ids(t, s2, "web"); got != "1" {
		t.Errorf("revisions after reopen = %q", got)
	}
	if evs, _ := s2.Events("web", 0); len(evs) != 1 || evs[0].Reason != "Applied" {
		t.Errorf("events after reopen = %+v", evs)
	}
	if runs, _ := s2.Runs("web"); len(runs) != 1 || runs[0].Status.Phase != v1alpha1.AnalysisRunning {
		t.Errorf("runs after reopen = %+v", runs)
	}
}

func TestSecondOpenFailsClearly(t *testing.T) {
	_, path := openTemp(t)
	start := time.Now()
	s2, err := Open(path)
	if err == nil {
		s2.Close()
		t.Fatal("a second Open of a file in use succeeded")
	}
	if !strings.Contains(err.Error(), "state dir in use by another fledge daemon") {
		t.Errorf("error = %q", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the second Open took %v to fail", d)
	}
}

func TestFileMode(t *testing.T) {
	_, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestEventsTrimmedAndLimited(t *testing.T) {
	s, _ := openTemp(t)
	ro := rolloutAt("web", 0, "1")
	total := MaxEvents + 250
	for i := 0; i < total; i += 50 {
		var evs []Event
		for j := i; j < i+50; j++ {
			evs = append(evs, Event{Reason: "E", Message: fmt.Sprint(j)})
		}
		if err := s.Commit(Change{Rollout: ro, Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Events("web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != MaxEvents {
		t.Fatalf("kept %d events, want %d", len(all), MaxEvents)
	}
	if all[0].Message != fmt.Sprint(total-MaxEvents) || all[len(all)-1].Message != fmt.Sprint(total-1) {
		t.Errorf("kept events %s..%s, want %d..%d", all[0].Message, all[len(all)-1].Message, total-MaxEvents, total-1)
	}
	last3, _ := s.Events("web", 3)
	var got []string
	for _, e := range last3 {
		got = append(got, e.Message)
	}
	want := fmt.Sprintf("%d,%d,%d", total-3, total-2, total-1)
	if strings.Join(got, ",") != want {
		t.Errorf("Events(3) = %v, want %s (newest three, oldest first)", got, want)
	}
}

func TestRunsSaveAndDelete(t *testing.T) {
	s, _ := openTemp(t)
	for _, n := range []string{"a", "b", "c"} {
		r := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: n}, Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisRunning}}
		if err := s.SaveRun("web", r); err != nil {
			t.Fatal(err)
		}
	}
	done := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisSuccessful}}
	if err := s.SaveRun("web", done); err != nil {
		t.Fatal(err)
	}
	runs, _ := s.Runs("web")
	if len(runs) != 3 || runs[1].Status.Phase != v1alpha1.AnalysisSuccessful {
		t.Fatalf("runs = %+v", runs)
	}
	if err := s.DeleteRuns("web", func(r *v1alpha1.AnalysisRun) bool { return r.Name != "a" }); err != nil {
		t.Fatal(err)
	}
	runs, _ = s.Runs("web")
	if len(runs) != 2 || runs[0].Name != "b" || runs[1].Name != "c" {
		t.Errorf("after DeleteRuns: %+v", runs)
	}
	if err := s.SaveRun("web", &v1alpha1.AnalysisRun{}); err == nil {
		t.Error("SaveRun of a run without a name succeeded")
	}
}

func TestDeleteForgetsEverything(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Commit(Change{Rollout: rolloutAt("web", 0, "1"), Revision: revision("1", time.Now()), Events: []Event{{Reason: "A"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(Change{Rollout: rolloutAt("api", 0, "1"), Revision: revision("1", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun("web", &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "r"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("web"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rollout("web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rollout still there: %v", err)
	}
	revs, _ := s.Revisions("web")
	runs, _ := s.Runs("web")
	evs, _ := s.Events("web", 0)
	if len(revs)+len(runs)+len(evs) != 0 {
		t.Errorf("left behind: %d revisions, %d runs, %d events", len(revs), len(runs), len(evs))
	}
	if got := ids(t, s, "api"); got != "1" {
		t.Errorf("another rollout's revisions were touched: %q", got)
	}
	if err := s.Delete("web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete error = %v, want ErrNotFound", err)
	}
}

func TestCommitNeedsARollout(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Commit(Change{Events: []Event{{Reason: "A"}}}); err == nil {
		t.Error("Commit without a rollout succeeded")
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
