package split

import (
	"context"
	"fmt"
	"slices"
	"time"

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

// stepsOf are a split's steps, in order: CopyDatabase only for a copy.
func stepsOf(s *teamsv1alpha1.TeamSplit) []teamsv1alpha1.TeamSplitStepName {
	if s.Spec.Database == teamsv1alpha1.SplitDatabaseCopy {
		return []teamsv1alpha1.TeamSplitStepName{teamsv1alpha1.StepCreateTeam, teamsv1alpha1.StepCopyDatabase,
			teamsv1alpha1.StepWaitForTeam, teamsv1alpha1.StepMoveMembersAndApps}
	}
	return []teamsv1alpha1.TeamSplitStepName{teamsv1alpha1.StepCreateTeam, teamsv1alpha1.StepWaitForTeam, teamsv1alpha1.StepMoveMembersAndApps}
}

// outcome is how far a step came in one pass: done, or a message for why
// it waits (and when to look again, for what is not watched), or failed:
// the split stops there.
type outcome struct {
	done    bool
	message string
	failed  error
	requeue time.Duration
	// event is recorded once the step's state is written.
	event *event
}

// waiting is the outcome of a step that is not done yet.
func waiting(format string, args ...any) outcome {
	return outcome{message: fmt.Sprintf(format, args...)}
}

// failing is the outcome of a step that failed.
func failing(format string, args ...any) outcome { return outcome{failed: fmt.Errorf(format, args...)} }

// stepFunc carries a step out as far as it can now. An error is not the
// step's failure: the pass is tried again.
type stepFunc func(ctx context.Context, s *teamsv1alpha1.TeamSplit, step *teamsv1alpha1.TeamSplitStep) (outcome, error)

// run carries the approved split out, one step after the other. Each step
// looks at the world to see whether it is done, so a crash at any point is
// picked up where it was, and nothing is done twice.
func (r *Reconciler) run(ctx context.Context, s *teamsv1alpha1.TeamSplit) ([]event, time.Duration, error) {
	now := metav1.Now()
	var events []event
	if s.Status.Phase != teamsv1alpha1.TeamSplitPhaseRunning {
		s.Status.Phase = teamsv1alpha1.TeamSplitPhaseRunning
		s.Status.StartTime = &now
		s.Status.Steps = nil
		for _, name := range stepsOf(s) {
			s.Status.Steps = append(s.Status.Steps, teamsv1alpha1.TeamSplitStep{Name: name, State: teamsv1alpha1.StepPending, LastTransitionTime: &now})
		}
		events = append(events, event{corev1.EventTypeNormal, "SplitStarted", "Carrying out the split: " + s.Status.Plan.Summary,
			"started"})
	}
	funcs := map[teamsv1alpha1.TeamSplitStepName]stepFunc{
		teamsv1alpha1.StepCreateTeam:         r.createTeam,
		teamsv1alpha1.StepCopyDatabase:       r.copyDatabase,
		teamsv1alpha1.StepWaitForTeam:        r.waitForTeam,
		teamsv1alpha1.StepMoveMembersAndApps: r.moveMembersAndApps,
	}
	for i := range s.Status.Steps {
		step := &s.Status.Steps[i]
		if step.State == teamsv1alpha1.StepDone {
			continue
		}
		out, err := funcs[step.Name](ctx, s, step)
		if err != nil {
			return events, 0, err
		}
		if out.event != nil {
			events = append(events, *out.event)
		}
		switch {
		case out.failed != nil:
			setStep(step, teamsv1alpha1.StepFailed, out.failed.Error(), now)
			s.Status.Phase = teamsv1alpha1.TeamSplitPhaseFailed
			conditions.Set(&s.Status.Conditions, s.Generation, teamsv1alpha1.ReadyCondition, metav1.ConditionFalse, StepFailedReason,
				fmt.Sprintf("Step %s failed: %v. Both teams keep working as they are; delete the split and make a new one", step.Name, out.failed))
			events = append(events, event{corev1.EventTypeWarning, "SplitFailed", fmt.Sprintf("Step %s failed: %v", step.Name, out.failed), "failed"})
			return events, 0, nil
		case !out.done:
			setStep(step, teamsv1alpha1.StepRunning, out.message, now)
			conditions.Set(&s.Status.Conditions, s.Generation, teamsv1alpha1.ReadyCondition, metav1.ConditionFalse, RunningReason,
				fmt.Sprintf("Step %s: %s", step.Name, out.message))
			return events, out.requeue, nil
		}
		setStep(step, teamsv1alpha1.StepDone, "", now)
	}
	s.Status.Phase = teamsv1alpha1.TeamSplitPhaseSucceeded
	s.Status.CompletionTime = &now
	conditions.Set(&s.Status.Conditions, s.Generation, teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, SplitReason,
		fmt.Sprintf("Split: %s", s.Status.Plan.Summary))
	events = append(events, event{corev1.EventTypeNormal, "SplitSucceeded", "Split: " + s.Status.Plan.Summary, "succeeded"})
	return events, 0, nil
}

func setStep(step *teamsv1alpha1.TeamSplitStep, state teamsv1alpha1.TeamSplitStepState, message string, now metav1.Time) {
	if step.State != state {
		step.LastTransitionTime = &now
	}
	step.State, step.Message = state, message
}

// createTeam makes the new team from the plan, unless this split made it
// already; a team of that name that this split did not make fails the step.
// For a copy, it is done once the new team's database role is made and the
// team awaits the copy.
func (r *Reconciler) createTeam(ctx context.Context, s *teamsv1alpha1.TeamSplit, _ *teamsv1alpha1.TeamSplitStep) (outcome, error) {
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	switch err := r.APIReader.Get(ctx, client.ObjectKey{Name: s.Spec.NewTeam.Name}, team); {
	case err == nil:
		if team.Labels[teamsv1alpha1.SplitLabel] != s.Name {
			return failing("a team named %s exists that this split did not make", team.Name), nil
		}
		if s.Spec.Database != teamsv1alpha1.SplitDatabaseCopy {
			return outcome{done: true}, nil
		}
		db := meta.FindStatusCondition(team.Status.Conditions, teamsv1alpha1.DatabaseReadyCondition)
		if db != nil && db.Reason == teamsv1alpha1.AwaitingCopyReason {
			return outcome{done: true}, nil
		}
		why := "its status is not written yet"
		if db != nil {
			why = fmt.Sprintf("DatabaseReady %s (%s): %s", db.Status, db.Reason, db.Message)
		}
		return waiting("waiting for team %s's database role, which the copy is for: %s", team.Name, why), nil
	case !apierrors.IsNotFound(err):
		return outcome{}, fmt.Errorf("failed to read team %s: %w", s.Spec.NewTeam.Name, err)
	}
	team = &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: s.Spec.NewTeam.Name, Labels: map[string]string{teamsv1alpha1.SplitLabel: s.Name}},
		Spec:       *s.Status.Plan.NewTeam.DeepCopy(),
	}
	if err := r.Client.Create(ctx, team); err != nil && !apierrors.IsAlreadyExists(err) {
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			return failing("the new team was refused: %w", err), nil
		}
		return outcome{}, fmt.Errorf("failed to create team %s: %w", team.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Made the new team of a split", "team", team.Name)
	return waiting("made team %s", team.Name), nil
}

// waitForTeam is done once the new team is Ready for its generation.
func (r *Reconciler) waitForTeam(ctx context.Context, s *teamsv1alpha1.TeamSplit, _ *teamsv1alpha1.TeamSplitStep) (outcome, error) {
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: s.Spec.NewTeam.Name}, team); err != nil {
		if apierrors.IsNotFound(err) {
			return failing("team %s, which this split made, is gone", s.Spec.NewTeam.Name), nil
		}
		return outcome{}, err
	}
	ready := meta.FindStatusCondition(team.Status.Conditions, teamsv1alpha1.ReadyCondition)
	if ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == team.Generation {
		return outcome{done: true}, nil
	}
	why := "its status is not written yet"
	if ready != nil {
		why = fmt.Sprintf("Ready %s (%s): %s", ready.Status, ready.Reason, ready.Message)
	}
	return waiting("waiting for team %s to be Ready: %s", team.Name, why), nil
}

// moveMembersAndApps takes the moved members and apps out of the source as
// it is now (whatever else changed in it since the approval stays), in one
// update over the version read.
func (r *Reconciler) moveMembersAndApps(ctx context.Context, s *teamsv1alpha1.TeamSplit, _ *teamsv1alpha1.TeamSplitStep) (outcome, error) {
	source := &teamsv1alpha1.NeighbourhoodTeam{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: s.Spec.Source}, source); err != nil {
		if apierrors.IsNotFound(err) {
			return failing("team %s is gone", s.Spec.Source), nil
		}
		return outcome{}, err
	}
	members := slices.DeleteFunc(slices.Clone(source.Spec.Members), func(m teamsv1alpha1.Subject) bool {
		return slices.Contains(s.Spec.Members, m)
	})
	apps := slices.DeleteFunc(slices.Clone(source.Spec.Apps), func(a teamsv1alpha1.App) bool {
		return slices.Contains(s.Spec.Apps, a.Name)
	})
	if len(members) == len(source.Spec.Members) && len(apps) == len(source.Spec.Apps) {
		return outcome{done: true}, nil
	}
	if len(members) == 0 {
		return failing("team %s would be left with no member", source.Name), nil
	}
	source.Spec.Members, source.Spec.Apps = members, apps
	if err := r.Client.Update(ctx, source); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			return failing("team %s refused the change: %w", source.Name, err), nil
		}
		// A conflict is read again.
		return outcome{}, fmt.Errorf("failed to take the moved members and apps out of team %s: %w", source.Name, err)
	}
	return waiting("took %d members and %d apps out of team %s", len(s.Spec.Members), len(s.Spec.Apps), source.Name), nil
}
