// Package apply sends server-side applies for the objects buurt owns, and
// skips an apply whose result is already known: when the object in the cache
// still has the resourceVersion the last apply of the same desired state
// returned, applying again would change nothing. This is the idea of Cluster
// API's SSA cache; it keeps a reconcile of an unchanged team free of requests.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the one field manager buurt applies with.
const FieldOwner = "buurt"

// Applier applies desired objects with server-side apply, forcing ownership
// of the fields buurt sets, so a hand edit of such a field is undone.
type Applier struct {
	client client.Client

	mu    sync.Mutex
	known map[string]result
}

// result is what the last apply of an object returned.
type result struct {
	resourceVersion string
	desiredHash     [sha256.Size]byte
}

// New returns an Applier that reads current objects through c (normally the
// manager's cached client) and applies through it.
func New(c client.Client) *Applier {
	return &Applier{client: c, known: map[string]result{}}
}

// Apply makes the object described by desired exist with buurt's fields as
// desired, and fills live with the object as it now is. live is an empty
// object of desired's kind; it is read from the cache first, and the apply is
// skipped when the cached object is the one the last identical apply made.
func (a *Applier) Apply(ctx context.Context, desired runtime.ApplyConfiguration, live client.Object) error {
	data, err := json.Marshal(desired)
	if err != nil {
		return fmt.Errorf("failed to encode %T: %w", desired, err)
	}
	hash := sha256.Sum256(data)
	// The name and namespace come from the desired object itself.
	if err := json.Unmarshal(data, live); err != nil {
		return fmt.Errorf("failed to decode %T into %T: %w", desired, live, err)
	}
	key := fmt.Sprintf("%T/%s/%s", live, live.GetNamespace(), live.GetName())

	current := live.DeepCopyObject().(client.Object)
	switch err := a.client.Get(ctx, client.ObjectKeyFromObject(live), current); {
	case err == nil:
		if a.isKnown(key, result{resourceVersion: current.GetResourceVersion(), desiredHash: hash}) {
			return copyInto(current, live)
		}
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("failed to read %s: %w", key, err)
	}

	if err := a.client.Apply(ctx, desired, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to apply %s: %w", key, err)
	}
	// Apply decoded the server's answer into desired.
	applied, err := json.Marshal(desired)
	if err != nil {
		return fmt.Errorf("failed to encode applied %s: %w", key, err)
	}
	if err := json.Unmarshal(applied, live); err != nil {
		return fmt.Errorf("failed to decode applied %s: %w", key, err)
	}
	a.remember(key, result{resourceVersion: live.GetResourceVersion(), desiredHash: hash})
	return nil
}

// Forget drops what is known of an object, for one that was deleted.
func (a *Applier) Forget(obj client.Object) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.known, fmt.Sprintf("%T/%s/%s", obj, obj.GetNamespace(), obj.GetName()))
}

func (a *Applier) isKnown(key string, r result) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.known[key] == r
}

func (a *Applier) remember(key string, r result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.known[key] = r
}

func copyInto(from, to client.Object) error {
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, to)
}

// Prune deletes the objects of list's kind that opts select, that owner
// controls and that keep does not keep, and forgets them. Nothing owner does
// not control is ever deleted.
func (a *Applier) Prune(ctx context.Context, owner client.Object, list client.ObjectList, keep func(client.Object) bool, opts ...client.ListOption) error {
	if err := a.client.List(ctx, list, opts...); err != nil {
		return fmt.Errorf("failed to list %T of %s: %w", list, klog.KObj(owner), err)
	}
	objects, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, o := range objects {
		obj := o.(client.Object)
		if keep(obj) || !metav1.IsControlledBy(obj, owner) {
			continue
		}
		if err := a.client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to prune %T %s of %s: %w", obj, klog.KObj(obj), klog.KObj(owner), err)
		}
		a.Forget(obj)
	}
	return nil
}
