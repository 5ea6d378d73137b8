package team

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// reconcileNamespace makes the team's namespace, unless a namespace of that
// name exists that buurt did not make for this team: buurt never adopts one,
// since adopting would hand someone else's namespace to the team's members.
func (r *Reconciler) reconcileNamespace(ctx context.Context, s *scope) error {
	team := s.team
	name := team.NamespaceName()
	ns := &corev1.Namespace{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: name}, ns)
	if apierrors.IsNotFound(err) {
		// The cache holds only buurt's namespaces; look past it for one
		// somebody else made.
		err = r.APIReader.Get(ctx, client.ObjectKey{Name: name}, ns)
	}
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("failed to get namespace %s of team %s: %w", name, klog.KObj(team), err)
	}

	switch {
	case exists && !metav1.IsControlledBy(ns, team):
		none := ""
		s.namespace = &none
		s.found(teamsv1alpha1.NamespaceReadyCondition, metav1.ConditionFalse, teamsv1alpha1.NamespaceConflictReason,
			fmt.Sprintf("Namespace %s exists and was not made by buurt for this team, so buurt changes nothing in it; "+
				"rename the team or remove that namespace", name))
		return nil
	case exists && !ns.DeletionTimestamp.IsZero():
		s.found(teamsv1alpha1.NamespaceReadyCondition, metav1.ConditionFalse, teamsv1alpha1.NamespaceTerminatingReason,
			fmt.Sprintf("Namespace %s is being deleted; buurt makes it again once it is gone", name))
		return nil
	}

	if err := r.Applier.Apply(ctx, render.Namespace(team, s.blueprint), ns); err != nil {
		return fmt.Errorf("failed to apply namespace of team %s: %w", klog.KObj(team), err)
	}
	if !exists {
		r.Recorder.Eventf(ctx, team, ns, corev1.EventTypeNormal, "NamespaceCreated", "Reconcile", "Created namespace %s", name)
	}
	s.namespaceMade = !exists
	s.sleepMark = ns.Annotations[teamsv1alpha1.SleepAnnotation]
	if err := r.reconcileOperatorAccess(ctx, s); err != nil {
		return err
	}
	s.namespaceOwned = true
	s.namespace = &name
	s.found(teamsv1alpha1.NamespaceReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason,
		fmt.Sprintf("Namespace %s is ready", name))
	return nil
}
