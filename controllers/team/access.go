package team

import (
	"context"
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/teamrole"
)

// reconcileAccess binds the members to the blueprint's member role in their
// namespace and gives them self-service on their own team object. The
// bindings list exactly spec.members, so a removed member loses access in the
// same pass.
func (r *Reconciler) reconcileAccess(ctx context.Context, s *scope) error {
	team := s.team
	bindErr := r.bindMembers(ctx, s)
	if err := r.Applier.Apply(ctx, render.SelfServiceClusterRole(team), &rbacv1.ClusterRole{}); err != nil {
		return errors.Join(bindErr, fmt.Errorf("failed to apply self-service role of team %s: %w", klog.KObj(team), err))
	}
	if err := r.Applier.Apply(ctx, render.SelfServiceClusterRoleBinding(team), &rbacv1.ClusterRoleBinding{}); err != nil {
		return errors.Join(bindErr, fmt.Errorf("failed to apply self-service binding of team %s: %w", klog.KObj(team), err))
	}
	if bindErr == nil && s.memberAccess != accessRevoked {
		s.memberAccess = accessGranted
	}
	return bindErr
}

// bindMembers binds the members to the blueprint's memberRole, if that role
// is labelled fit for members. The label is checked here as well as when
// the blueprint is written: a role can lose it, and a blueprint can be
// older than the check. A role buurt cannot read keeps the binding in place
// (a passing failure takes nothing away); a role that is gone or that
// buurt can see unlabelled loses it, since that is an answer, not a
// failure, and the binding would grant what nobody marked fit for a team.
func (r *Reconciler) bindMembers(ctx context.Context, s *scope) error {
	team := s.team
	name, use := render.MemberRole(team, s.blueprint)
	unfit, err := teamrole.Check(ctx, r.Roles, name, use)
	if err != nil {
		return fmt.Errorf("failed to check memberRole of team %s: %w", klog.KObj(team), err)
	}
	if unfit != "" {
		return r.refuseMemberRole(ctx, s, unfit)
	}
	err = r.Applier.ApplyBinding(ctx, render.MembersRoleBinding(team, name), &rbacv1.RoleBinding{})
	if apierrors.IsForbidden(err) {
		return &reportedError{
			finding: finding{metav1.ConditionFalse, teamsv1alpha1.AccessForbiddenReason, fmt.Sprintf(
				"buurt may not bind ClusterRole %s: grant the operator's ServiceAccount the bind verb on it, or use buurt:team-member", name)},
			err: fmt.Errorf("failed to bind members of team %s: %w", klog.KObj(team), err),
		}
	}
	if err != nil {
		return fmt.Errorf("failed to bind members of team %s: %w", klog.KObj(team), err)
	}
	if team.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived {
		s.found(teamsv1alpha1.AccessReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ArchivedReason,
			fmt.Sprintf("The team is archived: its %d member entries have read-only access (ClusterRole %s) and may not change the team",
				len(team.Spec.Members), name))
		return nil
	}
	s.found(teamsv1alpha1.AccessReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason,
		fmt.Sprintf("%d member entries have access", len(team.Spec.Members)))
	return nil
}

// refuseMemberRole removes the members' binding that buurt made, and
// reports why.
func (r *Reconciler) refuseMemberRole(ctx context.Context, s *scope, why string) error {
	team := s.team
	others := func(o client.Object) bool { return o.GetName() != render.MembersRoleBindingName }
	if err := r.Applier.Prune(ctx, team, &rbacv1.RoleBindingList{}, others,
		client.InNamespace(team.NamespaceName()), client.MatchingLabels(render.Labels(team))); err != nil {
		return err
	}
	s.memberAccess = accessRevoked
	s.found(teamsv1alpha1.AccessReadyCondition, metav1.ConditionFalse, teamsv1alpha1.RoleNotAllowedReason,
		"The members have no access to the namespace: "+why)
	return nil
}
