package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The images of the two revisions: kwok's fake nodes pull nothing, so any
// name does; changing it is what starts each canary.
const (
	imageV1 = "registry.invalid/bench/app:v1"
	imageV2 = "registry.invalid/bench/app:v2"
)

// benchObjects are one rollout's objects: the user's Deployment (replicas 0,
// as examples/kubernetes/gateway-api recommends: Fledge scales it to 0 anyway,
// and 0 spares N pods that would only be deleted), the HTTPRoute the canary
// is weighed on, and the Rollout (replicas 1, three weights then the
// promotion, no pause). The Services <name>-stable and <name>-canary are
// left to the controller, which creates them from the template's port.
const benchObjects = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 0
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: app
        image: %[2]s
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %[1]s}
spec:
  parentRefs: [{name: bench-gateway}]
  rules:
  - backendRefs:
    - {name: %[1]s-stable, port: 8080, weight: 100}
    - {name: %[1]s-canary, port: 8080, weight: 0}
---
apiVersion: fledge.dev/v1alpha1
kind: Rollout
metadata: {name: %[1]s}
spec:
  replicas: 1
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: %[1]s}
  strategy:
    canary:
      scaleDownDelaySeconds: 0
      trafficRouting:
        gatewayAPI: {httpRoute: %[1]s}
      steps:
      - setWeight: 25
      - setWeight: 50
      - setWeight: 75
`

// target names one benchmarked rollout.
type target struct{ ns, name string }

func (t target) key() string { return t.ns + "/" + t.name }

// plan spreads n rollouts over namespaces of perNS each.
func plan(prefix string, n, perNS int) (namespaces []string, targets []target) {
	for i := 0; i < n; i++ {
		if i%perNS == 0 {
			namespaces = append(namespaces, fmt.Sprintf("%s-%d", prefix, i/perNS))
		}
		targets = append(targets, target{ns: namespaces[len(namespaces)-1], name: fmt.Sprintf("r-%04d", i)})
	}
	return namespaces, targets
}

// createNamespaces creates the benchmark's namespaces, labelled so that a
// forgotten one can be found (kubectl get ns -l fledge.dev/bench).
func createNamespaces(ctx context.Context, c client.Client, names []string) error {
	for _, name := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"fledge.dev/bench": "controller"}}}
		if err := c.Create(ctx, ns); err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	return nil
}

// createObjects creates every target's objects, workers at a time.
func createObjects(ctx context.Context, c client.Client, targets []target, workers int) error {
	return parallel(ctx, targets, workers, 0, func(ctx context.Context, t target) error {
		for _, doc := range strings.Split(fmt.Sprintf(benchObjects, t.name, imageV1), "\n---") {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return fmt.Errorf("benchmark object template: %w", err)
			}
			u := &unstructured.Unstructured{Object: obj}
			u.SetNamespace(t.ns)
			if err := c.Create(ctx, u); err != nil {
				return fmt.Errorf("create %s %s/%s: %w", u.GetKind(), t.ns, t.name, err)
			}
		}
		return nil
	})
}

// setImage changes the workload Deployment's image: a new revision.
func setImage(ctx context.Context, c client.Client, t target, image string) error {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	u.SetNamespace(t.ns)
	u.SetName(t.name)
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image)
	if err := c.Patch(ctx, u, client.RawPatch(types.StrategicMergePatchType, []byte(patch))); err != nil {
		return fmt.Errorf("set image of Deployment %s: %w", t.key(), err)
	}
	return nil
}

// deleteNamespaces deletes the benchmark's namespaces (everything in them
// goes with them); it does not wait for the namespace controller.
func deleteNamespaces(ctx context.Context, c client.Client, names []string) error {
	var first error
	for _, name := range names {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := client.IgnoreNotFound(c.Delete(ctx, ns)); err != nil && first == nil {
			first = fmt.Errorf("delete namespace %s: %w", name, err)
		}
	}
	return first
}

// awaitGone polls until the namespaces are gone or ctx ends.
func awaitGone(ctx context.Context, c client.Client, names []string) error {
	for {
		left := 0
		for _, name := range names {
			err := c.Get(ctx, types.NamespacedName{Name: name}, &corev1.Namespace{})
			if err == nil {
				left++
			} else if client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d namespaces left: %w", left, len(names), ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// parallel runs f on every target, workers at a time; the first error wins.
// With every > 0, target i is not started before i·every from now: a paced
// wave instead of a burst.
func parallel(parent context.Context, targets []target, workers int, every time.Duration, f func(context.Context, target) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	work := make(chan target)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if err := f(ctx, t); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	start := time.Now()
feed:
	for i, t := range targets {
		if every > 0 {
			select {
			case <-time.After(time.Until(start.Add(time.Duration(i) * every))):
			case <-ctx.Done():
				break feed
			}
		}
		select {
		case work <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = parent.Err() // interrupted
	}
	return first
}
