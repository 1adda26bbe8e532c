package controller

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestFreshClientReadsItsOwnWrites runs against the local control plane
// (FLEDGE_KUBECONFIG, as README's test command sets it): right after each
// of its writes, typed or unstructured, a Get through freshClient returns
// that write or a later one, though it reads an informer's cache, which
// lags behind.
func TestFreshClientReadsItsOwnWrites(t *testing.T) {
	kc := os.Getenv("FLEDGE_KUBECONFIG")
	if kc == "" {
		t.Skip("FLEDGE_KUBECONFIG is not set: no control plane to test against")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	api, err := client.New(cfg, client.Options{Scheme: Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "fledge-fresh-"}}
	if err := api.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Delete(context.Background(), ns) })

	informers, err := cache.New(cfg, cache.Options{Scheme: Scheme(), DefaultNamespaces: map[string]cache.Config{ns.Name: {}}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = informers.Start(ctx) }()
	cached, err := client.New(cfg, client.Options{Scheme: Scheme(),
		Cache: &client.CacheOptions{Reader: informers, Unstructured: true}})
	if err != nil {
		t.Fatal(err)
	}
	c := newFreshClient(cached, api)

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "weights"}, Data: map[string]string{"n": "0"}}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	// Created a moment ago: found, though the cache may not have it yet.
	if err := c.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{}); err != nil {
		t.Fatalf("read right after create: %v", err)
	}
	for i := 1; i <= 30; i++ {
		typed := i%2 == 0
		n := strconv.Itoa(i)
		if typed {
			var cur corev1.ConfigMap
			if err := c.Get(ctx, client.ObjectKeyFromObject(cm), &cur); err != nil {
				t.Fatal(err)
			}
			base := cur.DeepCopy()
			cur.Data["n"] = n
			if err := c.Patch(ctx, &cur, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
				t.Fatalf("write %d (typed, optimistic lock on what was read): %v", i, err)
			}
		} else {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("v1")
			u.SetKind("ConfigMap")
			if err := c.Get(ctx, client.ObjectKeyFromObject(cm), u); err != nil {
				t.Fatal(err)
			}
			base := u.DeepCopy()
			if err := unstructured.SetNestedField(u.Object, n, "data", "n"); err != nil {
				t.Fatal(err)
			}
			if err := c.Patch(ctx, u, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
				t.Fatalf("write %d (unstructured, optimistic lock on what was read): %v", i, err)
			}
		}
		// Read back at once, both ways: never older than the write.
		var got corev1.ConfigMap
		if err := c.Get(ctx, client.ObjectKeyFromObject(cm), &got); err != nil {
			t.Fatal(err)
		}
		if v, _ := strconv.Atoi(got.Data["n"]); v < i {
			t.Fatalf("typed read after write %d saw %q", i, got.Data["n"])
		}
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		if err := c.Get(ctx, client.ObjectKeyFromObject(cm), u); err != nil {
			t.Fatal(err)
		}
		if v, _, _ := unstructured.NestedString(u.Object, "data", "n"); v != fmt.Sprint(i) {
			t.Fatalf("unstructured read after write %d saw %q", i, v)
		}
	}
	// Writes made long ago are forgotten.
	c.now = func() time.Time { return time.Now().Add(2 * forgetAfter) }
	for i := 0; i < 256; i++ {
		c.record(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: fmt.Sprint("other-", i), ResourceVersion: "1"}}, nil)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.written[objectKey{gvk: corev1.SchemeGroupVersion.WithKind("ConfigMap"), key: client.ObjectKeyFromObject(cm)}]; ok {
		t.Fatalf("a write made %v ago is still remembered", 2*forgetAfter)
	}
}
