package team

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// readinessConditions are the conditions the Ready roll-up covers: all but
// CoachAssigned, since a team works without a coach and a coach who is full
// does not make a team's workspace any less ready.
var readinessConditions = []string{
	teamsv1alpha1.NamespaceReadyCondition,
	teamsv1alpha1.AccessReadyCondition,
	teamsv1alpha1.DatabaseReadyCondition,
	teamsv1alpha1.AppsReadyCondition,
	teamsv1alpha1.SizeWithinLimitCondition,
}

// setCondition sets one of the team's conditions, at its current generation.
func setCondition(team *teamsv1alpha1.NeighbourhoodTeam, conditionType string, ok bool, reason, message string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&team.Status.Conditions, metav1.Condition{
		Type: conditionType, Status: status, Reason: reason, Message: message, ObservedGeneration: team.Generation,
	})
}

// setBlueprintNotFound reports a team whose blueprint does not exist; nothing
// is provisioned until it does.
func setBlueprintNotFound(team *teamsv1alpha1.NeighbourhoodTeam) {
	setCondition(team, teamsv1alpha1.ReadyCondition, false, teamsv1alpha1.BlueprintNotFoundReason,
		fmt.Sprintf("TeamBlueprint %q does not exist; the workspace is made when it is created", team.Spec.Blueprint))
	team.Status.Phase = phase(team)
}

// setSize compares the team's size with its blueprint's limit.
func setSize(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) {
	members := len(team.Spec.Members)
	team.Status.MemberCount = int32(members) //nolint:gosec // at most 50 members, bounded by the CRD
	if members > int(blueprint.Spec.MaxMembers) {
		setCondition(team, teamsv1alpha1.SizeWithinLimitCondition, false, teamsv1alpha1.TooManyMembersReason,
			fmt.Sprintf("The team has %d members and its blueprint allows %d; buurt teams grow by splitting into a second team",
				members, blueprint.Spec.MaxMembers))
		return
	}
	setCondition(team, teamsv1alpha1.SizeWithinLimitCondition, true, teamsv1alpha1.WithinLimitReason,
		fmt.Sprintf("%d of at most %d members", members, blueprint.Spec.MaxMembers))
}

// setReady rolls the readiness conditions up into Ready and the phase, after
// a complete pass.
func setReady(team *teamsv1alpha1.NeighbourhoodTeam) {
	var notReady []string
	for _, t := range readinessConditions {
		if !meta.IsStatusConditionTrue(team.Status.Conditions, t) {
			notReady = append(notReady, t)
		}
	}
	if len(notReady) == 0 {
		setCondition(team, teamsv1alpha1.ReadyCondition, true, teamsv1alpha1.ReconciledReason, "The team's workspace is ready")
	} else {
		setCondition(team, teamsv1alpha1.ReadyCondition, false, teamsv1alpha1.NotReadyReason,
			fmt.Sprintf("Not ready: %v", notReady))
	}
	team.Status.Phase = phase(team)
	team.Status.ObservedGeneration = team.Generation
}

// phase summarises Ready: Active when ready (Dormant when ready and asleep),
// Degraded when it was Active or Dormant before, Forming until it first is.
func phase(team *teamsv1alpha1.NeighbourhoodTeam) teamsv1alpha1.TeamPhase {
	switch {
	case meta.IsStatusConditionTrue(team.Status.Conditions, teamsv1alpha1.ReadyCondition):
		if team.Spec.Lifecycle == teamsv1alpha1.LifecycleDormant {
			return teamsv1alpha1.TeamPhaseDormant
		}
		return teamsv1alpha1.TeamPhaseActive
	case team.Status.Phase == teamsv1alpha1.TeamPhaseActive || team.Status.Phase == teamsv1alpha1.TeamPhaseDormant ||
		team.Status.Phase == teamsv1alpha1.TeamPhaseDegraded:
		return teamsv1alpha1.TeamPhaseDegraded
	default:
		return teamsv1alpha1.TeamPhaseForming
	}
}

// patchStatus writes the status once, and only when it changed.
func (r *Reconciler) patchStatus(ctx context.Context, before, team *teamsv1alpha1.NeighbourhoodTeam) error {
	if equality.Semantic.DeepEqual(before.Status, team.Status) {
		return nil
	}
	// A team whose last finalizer was just removed is gone.
	if err := r.Client.Status().Patch(ctx, team, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to update status of team %s: %w", klog.KObj(team), err)
	}
	return nil
}

// recordTransitions records Events for the changes users care about.
func (r *Reconciler) recordTransitions(before, after *teamsv1alpha1.NeighbourhoodTeam) {
	for _, t := range []struct{ condition, reason, note string }{
		{teamsv1alpha1.NamespaceReadyCondition, teamsv1alpha1.NamespaceConflictReason,
			"Namespace %s exists and was not made by buurt for this team; buurt leaves it alone"},
		{teamsv1alpha1.SizeWithinLimitCondition, teamsv1alpha1.TooManyMembersReason,
			"The team is larger than its blueprint allows (namespace %s); split it into a second team"},
	} {
		if became(before, after, t.condition, t.reason) {
			r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, t.reason, "Reconcile", t.note, after.NamespaceName())
		}
	}
}

// became is true when a condition has a reason after a reconcile that it did
// not have before.
func became(before, after *teamsv1alpha1.NeighbourhoodTeam, conditionType, reason string) bool {
	now := meta.FindStatusCondition(after.Status.Conditions, conditionType)
	was := meta.FindStatusCondition(before.Status.Conditions, conditionType)
	return now != nil && now.Reason == reason && (was == nil || was.Reason != reason)
}
