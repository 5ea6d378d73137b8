package coach

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/conditions"
	"github.com/buurt-dev/buurt/internal/message"
)

// setStatus computes the coach's status from what one reconcile observed.
// reconcileErr is what the phases returned: the teams and conditions report
// what is known despite it, and observedGeneration moves only after a pass
// without one. Messages name no error: they would change on every attempt.
func setStatus(s *scope, reconcileErr error) {
	coach := s.coach
	if s.teamsRead {
		coach.Status.Teams = s.supported()
		coach.Status.TeamCount = int32(len(s.accepted)) //nolint:gosec // at most maxTeams, bounded by the CRD
		coach.Status.WaitingTeams = names(s.waiting)
	}
	setAtCapacity(s, reconcileErr)
	setReady(s, reconcileErr)
	if reconcileErr == nil {
		coach.Status.ObservedGeneration = coach.Generation
	}
}

// setAtCapacity compares the teams the coach supports with maxTeams; without
// the teams it cannot.
func setAtCapacity(s *scope, reconcileErr error) {
	coach := s.coach
	set := func(status metav1.ConditionStatus, reason, message string) {
		conditions.Set(&coach.Status.Conditions, coach.Generation, teamsv1alpha1.AtCapacityCondition, status, reason, message)
	}
	if !s.teamsRead {
		set(metav1.ConditionUnknown, failureReason(reconcileErr), "Could not read the teams that chose the coach; buurt tries again")
		return
	}
	supports := fmt.Sprintf("Supports %d of at most %d teams", coach.Status.TeamCount, coach.Spec.MaxTeams)
	full := coach.Status.TeamCount >= coach.Spec.MaxTeams
	switch {
	case full && len(coach.Status.WaitingTeams) > 0:
		set(metav1.ConditionTrue, teamsv1alpha1.CapacityReachedReason,
			supports+"; waiting: "+strings.Join(coach.Status.WaitingTeams, ", "))
	case full:
		set(metav1.ConditionTrue, teamsv1alpha1.CapacityReachedReason, supports)
	default:
		set(metav1.ConditionFalse, teamsv1alpha1.HasCapacityReason, supports)
	}
}

// setReady reports whether the coach has the access they should: bindings
// buurt may not make first, as they need a person to act, then a failed
// phase, then namespaces still on their way.
func setReady(s *scope, reconcileErr error) {
	coach := s.coach
	set := func(status metav1.ConditionStatus, reason, message string) {
		conditions.Set(&coach.Status.Conditions, coach.Generation, teamsv1alpha1.ReadyCondition, status, reason, message)
	}
	switch {
	case len(s.forbidden) > 0:
		set(metav1.ConditionFalse, teamsv1alpha1.AccessForbiddenReason,
			fmt.Sprintf("buurt may not bind the coachRole of teams %s: grant the operator's ServiceAccount the bind verb on it, "+
				"or use buurt:coach", strings.Join(s.forbidden, ", ")))
	case len(s.unfit) > 0:
		var why []string
		for _, unfit := range slices.Sorted(maps.Keys(s.unfit)) {
			why = append(why, fmt.Sprintf("teams %s: %s", message.List(s.unfit[unfit]), unfit))
		}
		set(metav1.ConditionFalse, teamsv1alpha1.RoleNotAllowedReason,
			"buurt does not bind the coachRole of "+strings.Join(why, "; "))
	case apierrors.IsForbidden(reconcileErr):
		set(metav1.ConditionFalse, teamsv1alpha1.ForbiddenReason,
			"buurt may not read or change the coach's access; grant the operator's ServiceAccount the permissions of config/rbac")
	case reconcileErr != nil:
		set(metav1.ConditionUnknown, teamsv1alpha1.ReconcileErrorReason,
			"Could not check or change the coach's access; what is in place is kept and buurt tries again")
	case len(s.pending) > 0:
		set(metav1.ConditionFalse, teamsv1alpha1.WaitingForNamespaceReason,
			fmt.Sprintf("Access is given once these teams' namespaces are ready: %s", strings.Join(s.pending, ", ")))
	default:
		set(metav1.ConditionTrue, teamsv1alpha1.ReconciledReason, fmt.Sprintf("Read access to %d teams", coach.Status.TeamCount))
	}
}

// failureReason is the reason a condition gives for what reconcileErr kept
// buurt from observing.
func failureReason(reconcileErr error) string {
	if apierrors.IsForbidden(reconcileErr) {
		return teamsv1alpha1.ForbiddenReason
	}
	return teamsv1alpha1.ReconcileErrorReason
}

// recordChanges records an Event on the coach for each team accepted or
// released.
func (r *Reconciler) recordChanges(before, after *teamsv1alpha1.Coach) {
	was, now := sets.New(before.Status.Teams...), sets.New(after.Status.Teams...)
	for _, team := range sets.List(now.Difference(was)) {
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, teamsv1alpha1.TeamAcceptedReason, "Reconcile",
			"Supports team %s, read-only", team)
	}
	for _, team := range sets.List(was.Difference(now)) {
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, teamsv1alpha1.TeamReleasedReason, "Reconcile",
			"No longer supports team %s; its access is removed", team)
	}
}
