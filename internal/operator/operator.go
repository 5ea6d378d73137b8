// Package operator makes buurt's manager without its controllers: the
// scheme, a cache that holds only what buurt manages, and the indexes.
// cmd/manager, the composition root, adds the controllers; the tests build
// their managers the same way and add the controllers they test.
package operator

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/index"
	"github.com/buurt-dev/buurt/internal/kinds"
)

// NewScheme knows the built-in kinds and buurt's.
func NewScheme() (*apiruntime.Scheme, error) {
	scheme := apiruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := teamsv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}

// CacheOptions make the manager's cache watch only the children buurt made
// (labelled app.kubernetes.io/managed-by=buurt), so a cluster full of other
// namespaces, roles and policies costs buurt nothing.
func CacheOptions() cache.Options {
	managed := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue})}
	byObject := map[client.Object]cache.ByObject{}
	for _, obj := range kinds.Managed() {
		byObject[obj] = managed
		switch obj.(type) {
		case *appsv1.Deployment, *appsv1.StatefulSet:
			byObject[obj] = cache.ByObject{Label: managed.Label, Transform: stripUnreadStatus}
		}
	}
	// Nothing buurt does reads managed fields, often the largest part of an
	// object's metadata: the cache does not keep them.
	return cache.Options{ByObject: byObject, DefaultTransform: cache.TransformStripManagedFields()}
}

// stripUnreadStatus is the cache's transform for the kinds whose status is
// written often and read little: a Deployment's and a StatefulSet's
// conditions, of which buurt reads only the replica counts. With managed
// fields, they are most of what such an object weighs in the cache. A
// quota's use and limits are kept: the per-team metrics report them.
func stripUnreadStatus(in any) (any, error) {
	in, err := cache.TransformStripManagedFields()(in)
	if err != nil {
		return in, err
	}
	switch o := in.(type) {
	case *appsv1.Deployment:
		o.Status.Conditions = nil
	case *appsv1.StatefulSet:
		o.Status.Conditions = nil
	}
	return in, nil
}

// NewManager makes a manager with buurt's scheme and cache and the indexes
// the controllers look teams up by. Which controllers run is the caller's
// choice: cmd/manager registers them all, a test the ones it tests.
func NewManager(cfg *rest.Config, opts ctrl.Options) (ctrl.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	opts.Scheme = scheme
	opts.Cache = CacheOptions()
	// The operator runs next to the apiserver: compressing its answers
	// costs CPU at both ends and, above all, a decompressor's buffers (some
	// 40 KiB) for every watch it holds open, one per kind and one per team
	// namespace's Secrets.
	cfg = rest.CopyConfig(cfg)
	cfg.DisableCompression = true
	// Secrets are read from the apiserver, never cached: a cache would list
	// them cluster-wide, which the operator may not.
	opts.Client.Cache = &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("failed to create manager: %w", err)
	}
	if err := index.Setup(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	return mgr, nil
}
