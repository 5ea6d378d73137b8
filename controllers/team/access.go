package team

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// reconcileAccess binds the members to the blueprint's member role in their
// namespace and gives them self-service on their own team object. The
// bindings list exactly spec.members, so a removed member loses access in the
// same pass.
func (r *Reconciler) reconcileAccess(ctx context.Context, s *scope) error {
	team := s.team
	err := r.Applier.ApplyBinding(ctx, render.MembersRoleBinding(team, s.blueprint), &rbacv1.RoleBinding{})
	if apierrors.IsForbidden(err) {
		return &reportedError{
			finding: finding{metav1.ConditionFalse, teamsv1alpha1.AccessForbiddenReason, fmt.Sprintf(
				"buurt may not bind ClusterRole %s: grant the operator's ServiceAccount the bind verb on it, or use buurt:team-member",
				s.blueprint.Spec.MemberRole)},
			err: fmt.Errorf("failed to bind members of team %s: %w", klog.KObj(team), err),
		}
	}
	if err != nil {
		return fmt.Errorf("failed to bind members of team %s: %w", klog.KObj(team), err)
	}
	if err := r.Applier.Apply(ctx, render.SelfServiceClusterRole(team), &rbacv1.ClusterRole{}); err != nil {
		return fmt.Errorf("failed to apply self-service role of team %s: %w", klog.KObj(team), err)
	}
	if err := r.Applier.Apply(ctx, render.SelfServiceClusterRoleBinding(team), &rbacv1.ClusterRoleBinding{}); err != nil {
		return fmt.Errorf("failed to apply self-service binding of team %s: %w", klog.KObj(team), err)
	}
	s.found(teamsv1alpha1.AccessReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason,
		fmt.Sprintf("%d member entries have access", len(team.Spec.Members)))
	return nil
}
