package cluster

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
	"fledge.dev/fledge/internal/router/gatewayapi"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestTemplateChangeMidCanary changes the workload's image while a canary
// takes 20% at a paused step: the rollout restarts on the newest revision.
// The first change goes to a revision that cannot run (its pods select no
// node): the canary's traffic is withdrawn, the intermediate revision is
// scaled down, and the unready newest revision gets no traffic. A second
// change then goes to a revision that runs: it reaches 20% and is
// promoted, and the revision it replaced is scaled down too. A sampler
// reads the router back all along: traffic only ever goes to the stable
// revision, or to the canary Service while it selects a revision with
// ready replicas that is the newest canary (or was, until the change).
func TestTemplateChangeMidCanary(t *testing.T) {
	ns := namespace(t)
	startController(t)
	setup(t, ns, `
        - setWeight: 20
        - pause: {}
`)
	v1 := waitStatus(t, ns, "web", "first revision healthy", healthy).StableRevision
	image(t, ns, "hashicorp/http-echo:1.0.1", nil)
	v2 := waitStatus(t, ns, "web", "v2 paused at 20%", pausedAt(20)).CanaryRevision

	s := startSampler(t, ns)
	eventually(t, 10*time.Second, "a first router sample at 20% on v2", func() (bool, string) {
		n := len(s.samples())
		return n > 0, fmt.Sprintf("%d samples", n)
	})
	image(t, ns, "hashicorp/http-echo:1.0.2", map[string]string{"fledge.dev/test": "no-such-node"})
	v3 := waitStatus(t, ns, "web", "restarted on v3", func(st *v1alpha1.RolloutStatus) bool {
		return st.CanaryRevision != v2 && st.CanaryRevision != ""
	}).CanaryRevision
	eventually(t, 30*time.Second, "v2 withdrawn and scaled down while v3 cannot run", func() (bool, string) {
		n := replicaCounts(t, ns, "web") // the Deployments first, then the route (see TestAbortTrafficFirst)
		_, c := weights(t, ns, "web")
		return n[v2] == 0 && c == 0 && n[v3] == 1, fmt.Sprintf("replicas %v, canary weight %d", n, c)
	})
	st := rolloutOf(t, ns, "web").Status
	if st.CanaryWeight != 0 || st.Phase != v1alpha1.PhaseProgressing {
		t.Fatalf("while v3 cannot run: phase %s weight %d (%s), want Progressing at 0%%", st.Phase, st.CanaryWeight, st.Message)
	}

	image(t, ns, "hashicorp/http-echo:1.0.3", nil)
	v4 := waitStatus(t, ns, "web", "v4 paused at 20%", func(st *v1alpha1.RolloutStatus) bool {
		return pausedAt(20)(st) && st.CanaryRevision != v3 && st.CanaryRevision != v2
	}).CanaryRevision
	if sel := selects(t, ns, "web-canary"); sel != v4 {
		t.Fatalf("web-canary selects %s at 20%%, want the newest canary %s", sel, v4)
	}
	eventually(t, 30*time.Second, "v3 scaled down", func() (bool, string) {
		n := replicaCounts(t, ns, "web")
		return n[v3] <= 0 && n[v2] <= 0, fmt.Sprintf("replicas %v", n)
	})

	command(t, ns, "web", "promote")
	waitStatus(t, ns, "web", "v4 promoted", func(st *v1alpha1.RolloutStatus) bool {
		return healthy(st) && st.StableRevision == v4 && st.CanaryRevision == ""
	})
	eventually(t, 10*time.Second, "the route on the new stable", func() (bool, string) {
		sw, cw := weights(t, ns, "web")
		return sw == 100 && cw == 0 && selects(t, ns, "web-stable") == v4, fmt.Sprintf("weights %d/%d", sw, cw)
	})

	samples := s.stop()
	t.Logf("%d consistent samples of the router", len(samples))
	if o := samples[0]; o.canary != v2 || o.weight != 20 {
		t.Fatalf("the first sample is %+v, want web-canary on %s at 20%%: the check did not see the change", o, v2)
	}
	seenV4 := false
	for _, o := range samples {
		if o.stable != v1 && o.stable != v4 {
			t.Fatalf("web-stable selected %s, neither the first stable %s nor the promoted %s", o.stable, v1, v4)
		}
		if o.stable == v4 && o.weight != 0 && o.canary != v4 {
			t.Fatalf("after the promotion the canary Service (%s) got %d%%", o.canary, o.weight)
		}
		if o.weight == 0 {
			continue
		}
		seenV4 = seenV4 || o.canary == v4
		switch {
		case o.canary == v3:
			t.Fatalf("v3, which never ran, got %d%% of the traffic", o.weight)
		case o.canary == v2 && seenV4:
			t.Fatalf("v2 got %d%% again after v4 took over", o.weight)
		case o.canary != v2 && o.canary != v4:
			t.Fatalf("the canary Service selected %s with %d%%: neither stable nor a canary", o.canary, o.weight)
		case o.ready == 0:
			t.Fatalf("%s got %d%% with no ready replica", o.canary, o.weight)
		}
	}
	if !seenV4 {
		t.Fatalf("no sample saw v4 take traffic: the check saw too little")
	}
}

// image sets the workload's image and the pods' node selector.
func image(t *testing.T, ns, img string, nodeSelector map[string]string) {
	t.Helper()
	editTemplate(t, ns, "web", func(p *corev1.PodTemplateSpec) {
		p.Spec.Containers[0].Image = img
		p.Spec.NodeSelector = nodeSelector
	})
}

func pausedAt(w int32) func(st *v1alpha1.RolloutStatus) bool {
	return func(st *v1alpha1.RolloutStatus) bool { return st.Phase == v1alpha1.PhasePaused && st.CanaryWeight == w }
}

// routerSample is one consistent read of the router: the revisions the two
// Services select, the HTTPRoute's canary weight, and the ready replicas
// of the revision the canary Service selects.
type routerSample struct {
	stable, canary string
	weight         int64
	ready          int32
}

// sampler reads the router back in the background.
type sampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	out   []routerSample
}

// startSampler reads web-canary, the HTTPRoute, then web-canary again (a
// sample counts only when both reads of the Service are the same version,
// so that its selector and the weight held together), then the canary
// revision's ready replicas (they only grow here: a later zero means zero
// when the weight was read).
//
// It has its own client, without the default client-side rate limit (5
// requests a second, which the test's polls share), so that it samples
// every few tens of milliseconds.
func startSampler(t *testing.T, ns string) *sampler {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	c, err := client.New(cfg, client.Options{Scheme: controller.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	s := &sampler{stopc: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.stopc:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if o, ok := sampleRouter(c, ns); ok {
				s.mu.Lock()
				s.out = append(s.out, o)
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

// stop ends the sampling and returns every sample.
func (s *sampler) stop() []routerSample {
	select {
	case <-s.stopc:
	default:
		close(s.stopc)
	}
	s.wg.Wait()
	return s.samples()
}

func (s *sampler) samples() []routerSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]routerSample(nil), s.out...)
}

// sampleRouter is one sample; it fails silently (the test goes on) on a
// read error, since it runs outside the test goroutine.
func sampleRouter(kube client.Client, ns string) (routerSample, bool) {
	var before, after, stable corev1.Service
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }
	if kube.Get(ctx, key("web-canary"), &before) != nil {
		return routerSample{}, false
	}
	w, err := canaryWeight(kube, ns)
	if err != nil || kube.Get(ctx, key("web-canary"), &after) != nil || kube.Get(ctx, key("web-stable"), &stable) != nil {
		return routerSample{}, false
	}
	if before.ResourceVersion != after.ResourceVersion {
		return routerSample{}, false
	}
	o := routerSample{stable: stable.Spec.Selector["fledge.dev/revision"], canary: after.Spec.Selector["fledge.dev/revision"], weight: w}
	var d appsv1.Deployment
	if o.canary != "" && kube.Get(ctx, key("web-"+o.canary), &d) == nil {
		o.ready = d.Status.AvailableReplicas
	}
	return o, true
}

// canaryWeight is the weight of web-canary in the HTTPRoute web, as
// weights reads it, with an error instead of a failure.
func canaryWeight(kube client.Client, ns string) (int64, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gatewayapi.GVK)
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, u); err != nil {
		return 0, err
	}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	if len(rules) == 0 {
		return 0, fmt.Errorf("HTTPRoute web has no rule")
	}
	refs, _ := rules[0].(map[string]any)["backendRefs"].([]any)
	for _, r := range refs {
		if ref, _ := r.(map[string]any); ref["name"] == "web-canary" {
			w, _ := ref["weight"].(int64)
			return w, nil
		}
	}
	return 0, nil
}
