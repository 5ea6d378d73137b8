package split

import (
	"context"
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/conditions"
)

// Reasons of a running, done or failed split.
const (
	// RunningReason: the split's steps are being carried out.
	RunningReason = "Running"
	// SplitReason: every step is done.
	SplitReason = "Split"
	// StepFailedReason: a step failed; the message says which and why.
	StepFailedReason = "StepFailed"
)

// splitsTotal counts the splits the operator started, and how they ended.
var splitsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "buurt_team_splits_total",
	Help: "Team splits by what happened to them: started (approved and begun), succeeded, failed.",
}, []string{"result"})

// steps are a split's steps, in order.
var steps = []teamsv1alpha1.TeamSplitStepName{
	teamsv1alpha1.StepCreateTeam, teamsv1alpha1.StepWaitForTeam, teamsv1alpha1.StepMoveMembersAndApps,
}

// stepFunc carries a step out as far as it can now: done when it is, or a
// message for why it waits; an error that is the step's failure is
// failed, any other is tried again.
type stepFunc func(ctx context.Context, s *teamsv1alpha1.TeamSplit) (done bool, message string, failed error, err error)

// run carries the approved split out, one step after the other. Each step
// looks at the world to see whether it is done, so a crash at any point is
// picked up where it was, and nothing is done twice.
func (r *Reconciler) run(ctx context.Context, s *teamsv1alpha1.TeamSplit) ([]event, error) {
	now := metav1.Now()
	var events []event
	if s.Status.Phase != teamsv1alpha1.TeamSplitPhaseRunning {
		s.Status.Phase = teamsv1alpha1.TeamSplitPhaseRunning
		s.Status.StartTime = &now
		s.Status.Steps = nil
		for _, name := range steps {
			s.Status.Steps = append(s.Status.Steps, teamsv1alpha1.TeamSplitStep{Name: name, State: teamsv1alpha1.StepPending, LastTransitionTime: &now})
		}
		events = append(events, event{corev1.EventTypeNormal, "SplitStarted", "Carrying out the split: " + s.Status.Plan.Summary,
			"started"})
	}
	funcs := map[teamsv1alpha1.TeamSplitStepName]stepFunc{
		teamsv1alpha1.StepCreateTeam:         r.createTeam,
		teamsv1alpha1.StepWaitForTeam:        r.waitForTeam,
		teamsv1alpha1.StepMoveMembersAndApps: r.moveMembersAndApps,
	}
	for i := range s.Status.Steps {
		step := &s.Status.Steps[i]
		if step.State == teamsv1alpha1.StepDone {
			continue
		}
		done, message, failed, err := funcs[step.Name](ctx, s)
		if err != nil {
			return events, err
		}
		switch {
		case failed != nil:
			setStep(step, teamsv1alpha1.StepFailed, failed.Error(), now)
			s.Status.Phase = teamsv1alpha1.TeamSplitPhaseFailed
			conditions.Set(&s.Status.Conditions, s.Generation, teamsv1alpha1.ReadyCondition, metav1.ConditionFalse, StepFailedReason,
				fmt.Sprintf("Step %s failed: %v. Both teams keep working as they are; delete the split and make a new one", step.Name, failed))
			events = append(events, event{corev1.EventTypeWarning, "SplitFailed", fmt.Sprintf("Step %s failed: %v", step.Name, failed), "failed"})
			return events, nil
		case !done:
			setStep(step, teamsv1alpha1.StepRunning, message, now)
			conditions.Set(&s.Status.Conditions, s.Generation, teamsv1alpha1.ReadyCondition, metav1.ConditionFalse, RunningReason,
				fmt.Sprintf("Step %s: %s", step.Name, message))
			return events, nil
		}
		setStep(step, teamsv1alpha1.StepDone, "", now)
	}
	s.Status.Phase = teamsv1alpha1.TeamSplitPhaseSucceeded
	s.Status.CompletionTime = &now
	conditions.Set(&s.Status.Conditions, s.Generation, teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, SplitReason,
		fmt.Sprintf("Split: %s", s.Status.Plan.Summary))
	events = append(events, event{corev1.EventTypeNormal, "SplitSucceeded", "Split: " + s.Status.Plan.Summary, "succeeded"})
	return events, nil
}

func setStep(step *teamsv1alpha1.TeamSplitStep, state teamsv1alpha1.TeamSplitStepState, message string, now metav1.Time) {
	if step.State != state {
		step.LastTransitionTime = &now
	}
	step.State, step.Message = state, message
}

// createTeam makes the new team from the plan, unless this split made it
// already; a team of that name that this split did not make fails the step.
func (r *Reconciler) createTeam(ctx context.Context, s *teamsv1alpha1.TeamSplit) (bool, string, error, error) {
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	switch err := r.APIReader.Get(ctx, client.ObjectKey{Name: s.Spec.NewTeam.Name}, team); {
	case err == nil:
		if team.Labels[teamsv1alpha1.SplitLabel] != s.Name {
			return false, "", fmt.Errorf("a team named %s exists that this split did not make", team.Name), nil
		}
		return true, "", nil, nil
	case !apierrors.IsNotFound(err):
		return false, "", nil, fmt.Errorf("failed to read team %s: %w", s.Spec.NewTeam.Name, err)
	}
	team = &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: s.Spec.NewTeam.Name, Labels: map[string]string{teamsv1alpha1.SplitLabel: s.Name}},
		Spec:       *s.Status.Plan.NewTeam.DeepCopy(),
	}
	if err := r.Client.Create(ctx, team); err != nil && !apierrors.IsAlreadyExists(err) {
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			return false, "", fmt.Errorf("the new team was refused: %w", err), nil
		}
		return false, "", nil, fmt.Errorf("failed to create team %s: %w", team.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Made the new team of a split", "team", team.Name)
	return false, fmt.Sprintf("made team %s", team.Name), nil, nil
}

// waitForTeam is done once the new team is Ready for its generation.
func (r *Reconciler) waitForTeam(ctx context.Context, s *teamsv1alpha1.TeamSplit) (bool, string, error, error) {
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: s.Spec.NewTeam.Name}, team); err != nil {
		if apierrors.IsNotFound(err) {
			return false, "", fmt.Errorf("team %s, which this split made, is gone", s.Spec.NewTeam.Name), nil
		}
		return false, "", nil, err
	}
	ready := meta.FindStatusCondition(team.Status.Conditions, teamsv1alpha1.ReadyCondition)
	if ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == team.Generation {
		return true, "", nil, nil
	}
	why := "its status is not written yet"
	if ready != nil {
		why = fmt.Sprintf("Ready %s (%s): %s", ready.Status, ready.Reason, ready.Message)
	}
	return false, fmt.Sprintf("waiting for team %s to be Ready: %s", team.Name, why), nil, nil
}

// moveMembersAndApps takes the moved members and apps out of the source as
// it is now (whatever else changed in it since the approval stays), in one
// update over the version read.
func (r *Reconciler) moveMembersAndApps(ctx context.Context, s *teamsv1alpha1.TeamSplit) (bool, string, error, error) {
	source := &teamsv1alpha1.NeighbourhoodTeam{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: s.Spec.Source}, source); err != nil {
		if apierrors.IsNotFound(err) {
			return false, "", fmt.Errorf("team %s is gone", s.Spec.Source), nil
		}
		return false, "", nil, err
	}
	members := slices.DeleteFunc(slices.Clone(source.Spec.Members), func(m teamsv1alpha1.Subject) bool {
		return slices.Contains(s.Spec.Members, m)
	})
	apps := slices.DeleteFunc(slices.Clone(source.Spec.Apps), func(a teamsv1alpha1.App) bool {
		return slices.Contains(s.Spec.Apps, a.Name)
	})
	if len(members) == len(source.Spec.Members) && len(apps) == len(source.Spec.Apps) {
		return true, "", nil, nil
	}
	if len(members) == 0 {
		return false, "", fmt.Errorf("team %s would be left with no member", source.Name), nil
	}
	source.Spec.Members, source.Spec.Apps = members, apps
	if err := r.Client.Update(ctx, source); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			return false, "", fmt.Errorf("team %s refused the change: %w", source.Name, err), nil
		}
		// A conflict is read again.
		return false, "", nil, fmt.Errorf("failed to take the moved members and apps out of team %s: %w", source.Name, err)
	}
	return false, fmt.Sprintf("took %d members and %d apps out of team %s", len(s.Spec.Members), len(s.Spec.Apps), source.Name), nil, nil
}
