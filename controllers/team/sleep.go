package team

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/sleep"
)

// readSleep works out whether the team is to sleep this pass: lifecycle
// Dormant set by hand, or its own schedule (spec.sleep) saying so now; an
// Archived team is stopped whatever the schedule says. The
// pass looks again when the schedule next changes. A schedule that cannot
// be read (the admission webhook refuses those) keeps the team awake, and
// the operator's log says why.
func (r *Reconciler) readSleep(ctx context.Context, s *scope) {
	team := s.team
	s.archived = team.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived
	s.dormant = team.Spec.Lifecycle == teamsv1alpha1.LifecycleDormant
	if team.Spec.Sleep == nil {
		none := (*teamsv1alpha1.SleepStatus)(nil)
		s.sleep = &none
		return
	}
	schedule, err := sleep.FromSpec(team.Spec.Sleep)
	var state sleep.State
	if err == nil {
		state, err = schedule.At(r.now())
	}
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Ignoring the team's sleep schedule")
		return
	}
	s.dormant = s.dormant || state.Asleep && !s.archived
	s.requeue(state.Next.Sub(r.now()))
	next := metav1.NewTime(state.Next)
	status := &teamsv1alpha1.SleepStatus{State: teamsv1alpha1.SleepStateAwake, NextTransitionTime: &next}
	if state.Asleep {
		status.State = teamsv1alpha1.SleepStateAsleep
	}
	s.sleep = &status
}

// stoppedState is the word for a stopped team's state.
func stoppedState(s *scope) string {
	if s.pausedFor != "" {
		return fmt.Sprintf("paused while split %s copies its database", s.pausedFor)
	}
	if s.archived {
		return string(teamsv1alpha1.LifecycleArchived)
	}
	return string(teamsv1alpha1.LifecycleDormant)
}

// stoppedReason is the reason of a condition about what a stopped team
// keeps.
func stoppedReason(s *scope) string {
	if s.pausedFor != "" {
		return teamsv1alpha1.PausedForCopyReason
	}
	if s.archived {
		return teamsv1alpha1.ArchivedReason
	}
	return teamsv1alpha1.DormantReason
}

// stoppedNote says what coming back does to the database password.
func stoppedNote(s *scope) string {
	if s.archived {
		return "; it gets a new password when a platform engineer sets lifecycle back to Active"
	}
	return ""
}
