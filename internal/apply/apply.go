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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the one field manager buurt applies with.
const FieldOwner = "buurt"

// knownObjects bounds how many objects an Applier remembers, so the entries
// of deleted teams' objects, which nothing looks up again, are dropped in
// time rather than kept for the life of the process. The bound is set for
// 10,000 teams of about 16 objects each, 160,000 objects, with room to
// spare: a resync reconciles every team in turn, and an LRU smaller than
// what is visited in turn evicts each entry just before it is needed, so
// that every apply would be sent again. An entry is about 300 bytes, so a
// full cache is under 80 MiB, little next to the informer cache that holds
// the same objects whole.
const knownObjects = 1 << 18

// Applier applies desired objects with server-side apply, forcing ownership
// of the fields buurt sets, so a hand edit of such a field is undone.
type Applier struct {
	client client.Client
	// known maps an object's key to the result of its last apply, for the
	// most recently applied objects.
	known *lru.Cache
}

// result is what the last apply of an object returned.
type result struct {
	resourceVersion string
	desiredHash     [sha256.Size]byte
}

// New returns an Applier that reads current objects through c (normally the
// manager's cached client) and applies through it.
func New(c client.Client) *Applier {
	return newApplier(c, knownObjects)
}

// newApplier remembers at most size objects.
func newApplier(c client.Client, size int) *Applier {
	return &Applier{client: c, known: lru.New(size)}
}

// Apply makes the object described by desired exist with buurt's fields as
// desired, and fills live with the object as it now is. live is an empty
// object of desired's kind; it is read from the cache first, and the apply is
// skipped when the cached object is the one the last identical apply made.
func (a *Applier) Apply(ctx context.Context, desired runtime.ApplyConfiguration, live client.Object) error {
	hash, key, err := prepare(desired, live)
	if err != nil {
		return err
	}
	current := live.DeepCopyObject().(client.Object)
	switch err := a.client.Get(ctx, client.ObjectKeyFromObject(live), current); {
	case err == nil:
		if a.isKnown(key, result{resourceVersion: current.GetResourceVersion(), desiredHash: hash}) {
			return copyInto(current, live)
		}
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("failed to read %s: %w", key, err)
	}
	return a.send(ctx, desired, hash, key, live)
}

// ApplyOver is Apply for an object the caller has just read itself, as
// current (empty when it does not exist), so that it is not read twice: a
// Secret, which is never cached.
func (a *Applier) ApplyOver(ctx context.Context, desired runtime.ApplyConfiguration, current, live client.Object) error {
	hash, key, err := prepare(desired, live)
	if err != nil {
		return err
	}
	if current.GetResourceVersion() != "" && a.isKnown(key, result{resourceVersion: current.GetResourceVersion(), desiredHash: hash}) {
		return copyInto(current, live)
	}
	return a.send(ctx, desired, hash, key, live)
}

// prepare hashes desired and fills live with its name and namespace, which
// make the key of what is known of it.
func prepare(desired runtime.ApplyConfiguration, live client.Object) ([sha256.Size]byte, string, error) {
	data, err := json.Marshal(desired)
	if err != nil {
		return [sha256.Size]byte{}, "", fmt.Errorf("failed to encode %T: %w", desired, err)
	}
	if err := json.Unmarshal(data, live); err != nil {
		return [sha256.Size]byte{}, "", fmt.Errorf("failed to decode %T into %T: %w", desired, live, err)
	}
	return sha256.Sum256(data), keyOf(live), nil
}

// send applies desired, fills live with the server's answer and remembers
// it.
func (a *Applier) send(ctx context.Context, desired runtime.ApplyConfiguration, hash [sha256.Size]byte, key string, live client.Object) error {
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
	a.known.Add(key, result{resourceVersion: live.GetResourceVersion(), desiredHash: hash})
	return nil
}

// Forget drops what is known of an object, for one that was deleted.
func (a *Applier) Forget(obj client.Object) {
	a.known.Remove(keyOf(obj))
}

// keyOf names an object among those of every kind.
func keyOf(obj client.Object) string {
	return fmt.Sprintf("%T/%s/%s", obj, obj.GetNamespace(), obj.GetName())
}

// isKnown is true when the last apply of key returned r; looking it up
// keeps the entry among the most recently used.
func (a *Applier) isKnown(key string, r result) bool {
	last, ok := a.known.Get(key)
	return ok && last.(result) == r
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
