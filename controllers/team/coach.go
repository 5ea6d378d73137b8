package team

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// reconcileCoach reports whether the team's chosen coach supports it, as the
// coach's status says; the Coach controller decides and grants the access.
func (r *Reconciler) reconcileCoach(ctx context.Context, s *scope) error {
	team := s.team
	name := team.Spec.Coach
	if name == "" {
		s.found(teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse, teamsv1alpha1.NoCoachReason,
			"The team has not chosen a coach (spec.coach)")
		return nil
	}
	coach := &teamsv1alpha1.Coach{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, coach); err != nil {
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to get coach %s of team %s: %w", name, klog.KObj(team), err)
		}
		s.found(teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse, teamsv1alpha1.CoachNotFoundReason,
			fmt.Sprintf("Coach %q does not exist; choose another or ask for it to be created", name))
		return nil
	}
	switch line := slices.Index(coach.Status.WaitingTeams, team.Name); {
	case s.archived:
		s.found(teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse, teamsv1alpha1.ArchivedReason,
			fmt.Sprintf("The team is archived: coach %s is released to support other teams; the team asks for a coach again when it comes back", name))
	case !coach.DeletionTimestamp.IsZero():
		s.found(teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse, teamsv1alpha1.CoachNotFoundReason,
			fmt.Sprintf("Coach %s is being deleted; choose another", name))
	case slices.Contains(coach.Status.Teams, team.Name):
		s.found(teamsv1alpha1.CoachAssignedCondition, metav1.ConditionTrue, teamsv1alpha1.CoachAcceptedReason,
			fmt.Sprintf("Coach %s (%s %s) supports the team, read-only", name, coach.Spec.Subject.Kind, coach.Spec.Subject.Name))
	case line >= 0:
		s.found(teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse, teamsv1alpha1.CoachAtCapacityReason,
			fmt.Sprintf("Coach %s is full (maxTeams %d); the team is number %d in line", name, coach.Spec.MaxTeams, line+1))
	default:
		s.found(teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse, teamsv1alpha1.ProvisioningReason,
			fmt.Sprintf("Waiting for coach %s to accept the team", name))
	}
	return nil
}
