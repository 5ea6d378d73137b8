// Package patch writes what buurt's controllers change on their own objects:
// the status, once per reconcile and only when it changed, and finalizers.
package patch

import (
	"context"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Status writes obj's status as a merge patch from before, and nothing when
// the status is unchanged. An object that is already gone (its last
// finalizer was just removed) is not an error.
func Status(ctx context.Context, c client.Client, before, obj client.Object) error {
	if equality.Semantic.DeepEqual(status(before), status(obj)) {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to update status of %T %s: %w", obj, klog.KObj(obj), err)
	}
	return nil
}

// StatusIfCurrent is Status, written only if obj is still as before was
// read (its resourceVersion): for a status whose change is announced (an
// Event), which a read older than the last write would announce again.
// A stale read is a Conflict, and the next reconcile reads again.
func StatusIfCurrent(ctx context.Context, c client.Client, before, obj client.Object) error {
	if equality.Semantic.DeepEqual(status(before), status(obj)) {
		return nil
	}
	err := c.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to update status of %T %s: %w", obj, klog.KObj(obj), err)
	}
	return nil
}

// status is the Status field of one of buurt's kinds.
func status(obj client.Object) any {
	return reflect.ValueOf(obj).Elem().FieldByName("Status").Interface()
}

// AddFinalizer adds finalizer to obj, unless it is there.
func AddFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	if controllerutil.ContainsFinalizer(obj, finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, finalizer)
	if err := c.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("failed to add finalizer %s to %T %s: %w", finalizer, obj, klog.KObj(obj), err)
	}
	return nil
}

// RemoveFinalizer removes finalizer from obj, if it is there. An object that
// is gone is not an error.
func RemoveFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	if !controllerutil.ContainsFinalizer(obj, finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, finalizer)
	if err := c.Patch(ctx, obj, client.MergeFrom(base)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to remove finalizer %s from %T %s: %w", finalizer, obj, klog.KObj(obj), err)
	}
	return nil
}
