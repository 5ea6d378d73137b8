// Package operator assembles buurt's manager: the scheme, a cache that holds
// only what buurt manages, and the controllers. cmd/manager and the tests
// build the manager the same way.
package operator

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/controllers/blueprint"
	"github.com/buurt-dev/buurt/controllers/coach"
	"github.com/buurt-dev/buurt/controllers/team"
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
	}
	return cache.Options{ByObject: byObject}
}

// NewManager makes a manager with buurt's scheme and cache and registers
// every controller with it. namespace is the operator's own namespace.
func NewManager(cfg *rest.Config, namespace string, opts ctrl.Options) (ctrl.Manager, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	opts.Scheme = scheme
	opts.Cache = CacheOptions()
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("failed to create manager: %w", err)
	}
	if err := index.Setup(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	if err := team.NewReconciler(mgr, namespace).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("failed to set up the team controller: %w", err)
	}
	if err := coach.NewReconciler(mgr).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("failed to set up the coach controller: %w", err)
	}
	if err := (&blueprint.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("failed to set up the blueprint controller: %w", err)
	}
	return mgr, nil
}
