package controller

import (
	"context"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// freshClient reads from the informers' cache, but never older than what
// it wrote itself: a Get of an object it wrote whose cached copy is older
// than its write reads the API server instead. The routers' objects
// (HTTPRoutes, VirtualServices, Ingresses), the Services and the Rollout
// are read once or twice per decision; read from the API server, they
// were most of the controller's requests (bench/controller), and read
// from a plain cache, a decision made right after a write would see the
// router as it was before it: the engine would wait for a weight already
// applied, and a canary Service seen selecting the previous revision makes
// the Kubernetes routers withdraw the canary's traffic first.
//
// resourceVersions are compared as numbers: Kubernetes calls them opaque,
// but an etcd3-backed API server issues them from etcd's revision, which
// only grows. A cached version that is not a number is read again from
// the API server.
type freshClient struct {
	client.Client
	api client.Reader
	now func() time.Time

	mu      sync.Mutex
	written map[objectKey]write
}

// objectKey names an object, whichever form (typed or unstructured) reads
// it: each form is served by its own informer, and a write through one
// makes both caches stale.
type objectKey struct {
	gvk schema.GroupVersionKind
	key types.NamespacedName
}

// write is the resourceVersion our last write of an object returned.
type write struct {
	rv uint64
	at time.Time
}

// forgetAfter is how long a write is remembered: far longer than any
// informer lags behind its API server, short enough that objects written
// once and deleted since do not pile up.
const forgetAfter = time.Minute

func newFreshClient(c client.Client, api client.Reader) *freshClient {
	return &freshClient{Client: c, api: api, now: time.Now, written: map[objectKey]write{}}
}

// Get reads the cache, or the API server while the cache is behind our
// last write of the object.
func (c *freshClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	k, ok := c.keyOf(obj, key)
	c.mu.Lock()
	w, wrote := c.written[k]
	c.mu.Unlock()
	err := c.Client.Get(ctx, key, obj, opts...)
	switch {
	case !ok || !wrote:
		return err
	case apierrors.IsNotFound(err):
		return c.api.Get(ctx, key, obj, opts...) // created by us, not in the cache yet
	case err != nil:
		return err
	}
	if rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64); err == nil && rv >= w.rv {
		return nil
	}
	return c.api.Get(ctx, key, obj, opts...)
}

func (c *freshClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	err := c.Client.Create(ctx, obj, opts...)
	c.record(obj, err)
	return err
}

func (c *freshClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	err := c.Client.Update(ctx, obj, opts...)
	c.record(obj, err)
	return err
}

func (c *freshClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	err := c.Client.Patch(ctx, obj, patch, opts...)
	c.record(obj, err)
	return err
}

func (c *freshClient) Status() client.SubResourceWriter {
	return freshStatus{SubResourceWriter: c.Client.Status(), c: c}
}

// freshStatus records the writes of the status subresource.
type freshStatus struct {
	client.SubResourceWriter
	c *freshClient
}

func (s freshStatus) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	err := s.SubResourceWriter.Update(ctx, obj, opts...)
	s.c.record(obj, err)
	return err
}

func (s freshStatus) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	err := s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
	s.c.record(obj, err)
	return err
}

// record remembers the resourceVersion a successful write returned, and
// forgets the writes made long ago.
func (c *freshClient) record(obj client.Object, err error) {
	if err != nil {
		return
	}
	k, ok := c.keyOf(obj, client.ObjectKeyFromObject(obj))
	rv, perr := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	if !ok || perr != nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if rv > c.written[k].rv {
		c.written[k] = write{rv: rv, at: now}
	}
	if len(c.written)%256 == 0 {
		for k, w := range c.written {
			if now.Sub(w.at) > forgetAfter {
				delete(c.written, k)
			}
		}
	}
}

func (c *freshClient) keyOf(obj client.Object, key client.ObjectKey) (objectKey, bool) {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return objectKey{}, false
	}
	return objectKey{gvk: gvk, key: key}, true
}
