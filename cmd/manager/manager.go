package main

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/buurt-dev/buurt/controllers/blueprint"
	"github.com/buurt-dev/buurt/controllers/coach"
	"github.com/buurt-dev/buurt/controllers/split"
	"github.com/buurt-dev/buurt/controllers/team"
)

// setupControllers registers every controller with mgr. The command is the
// composition root: the one place that knows all controllers, so no package
// under internal/ depends on controllers/. namespace is the operator's own
// namespace; concurrency is how many teams are reconciled at once.
func setupControllers(mgr ctrl.Manager, namespace string, concurrency int) error {
	teams := team.NewReconciler(mgr, namespace)
	teams.Concurrency = concurrency
	if err := teams.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the team controller: %w", err)
	}
	if err := coach.NewReconciler(mgr).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the coach controller: %w", err)
	}
	if err := blueprint.NewReconciler(mgr, namespace, teams.Databases).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the blueprint controller: %w", err)
	}
	if err := split.NewReconciler(mgr, namespace, teams.Databases).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("failed to set up the split controller: %w", err)
	}
	return nil
}
