package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
)

func TestGetRollouts(t *testing.T) {
	ctl, dir := fakeDaemon(t)
	ctl.add(web())
	for _, alias := range []string{"rollouts", "rollout", "ro"} {
		out, errOut, code := fledge(t, dir, "get", alias)
		if code != 0 {
			t.Fatalf("get %s: exit %d: %s", alias, code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STRATEGY PHASE STEP WEIGHT STABLE CANARY AGE" {
			t.Fatalf("get %s:\n%s", alias, out)
		}
		if got := strings.Join(strings.Fields(lines[1]), " "); got != "web canary Paused 3/7 50% 1 2 1h0m" {
			t.Errorf("row %q", got)
		}
	}
	out, _, code := fledge(t, dir, "get", "ro", "-o", "json")
	var list struct{ Items []v1alpha1.Rollout }
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Errorf("get ro -o json: exit %d\n%s", code, out)
	}
}

// syncBuffer is written by a command while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Watching prints the table once, then a row again only when it changes.
func TestGetRolloutsWatch(t *testing.T) {
	ctl, dir := fakeDaemon(t)
	ctl.add(web())
	var out syncBuffer
	root := NewRoot(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	root.SetArgs([]string{"--state-dir", dir, "get", "ro", "-w"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Execute(ctx, root) }()
	rows := func() []string {
		var rs []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			rs = append(rs, strings.Join(strings.Fields(l), " "))
		}
		return rs
	}
	eventually(t, "the first table", func() (bool, string) { return len(rows()) == 2, out.String() })
	// Two more polls of an unchanged rollout print nothing.
	ctl.mu.Lock()
	polls := ctl.lists + 2
	ctl.mu.Unlock()
	eventually(t, "two more polls", func() (bool, string) {
		ctl.mu.Lock()
		defer ctl.mu.Unlock()
		return ctl.lists > polls, "" // the loop is sequential: poll n+1 starts after poll n printed
	})
	if len(rows()) != 2 {
		t.Errorf("an unchanged rollout was printed again:\n%s", out.String())
	}
	ctl.mu.Lock()
	ctl.rollouts["web"].Status.CurrentStepIndex = 4
	ctl.rollouts["web"].Status.CanaryWeight = 80
	ctl.mu.Unlock()
	eventually(t, "the changed row", func() (bool, string) { return len(rows()) == 3, out.String() })
	if got := rows()[2]; !strings.HasPrefix(got, "web canary Paused 4/7 80% 1 2") {
		t.Errorf("changed row %q", got)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after an interrupt", code)
	}
}
