package team

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/index"
)

// A TeamSplit with database: Copy asks two things of the team controller
// while it copies (its CopyDatabase step): the source team's workloads stop,
// as for sleep, so that nobody is connected to its database; and the new
// team's database is not made empty before the copy is there. Both are read
// from the split itself, not from anything the split writes on the teams.

// readSplits reads what a split copying a database asks of the team this
// pass: pausedFor names the split whose copy stops it; awaitingCopy the
// split whose copy is to be its database.
func (r *Reconciler) readSplits(ctx context.Context, s *scope) error {
	team := s.team
	splits := &teamsv1alpha1.TeamSplitList{}
	if err := r.Client.List(ctx, splits, client.MatchingFields{index.SplitTeams: team.Name}); err != nil {
		return fmt.Errorf("failed to list the splits of team %s: %w", team.Name, err)
	}
	for _, split := range splits.Items {
		if split.Spec.Database != teamsv1alpha1.SplitDatabaseCopy {
			continue
		}
		copying := copyStep(&split)
		switch {
		case split.Spec.Source == team.Name && split.Status.Phase == teamsv1alpha1.TeamSplitPhaseRunning &&
			copying != nil && copying.State == teamsv1alpha1.StepRunning:
			s.pausedFor = split.Name
		case split.Spec.NewTeam.Name == team.Name && team.Labels[teamsv1alpha1.SplitLabel] == split.Name &&
			split.Status.Phase != teamsv1alpha1.TeamSplitPhaseFailed && (copying == nil || copying.State != teamsv1alpha1.StepDone):
			// Also before the split's status says it runs: the team may be
			// made in the same pass that writes it.
			s.awaitingCopy = &split
		}
	}
	return nil
}

// copyStep is the split's CopyDatabase step; nil before it runs.
func copyStep(split *teamsv1alpha1.TeamSplit) *teamsv1alpha1.TeamSplitStep {
	for i, step := range split.Status.Steps {
		if step.Name == teamsv1alpha1.StepCopyDatabase {
			return &split.Status.Steps[i]
		}
	}
	return nil
}

// teamsOfSplit are the two teams a split names.
func teamsOfSplit(_ context.Context, o client.Object) []reconcile.Request {
	split := o.(*teamsv1alpha1.TeamSplit)
	return []reconcile.Request{
		{NamespacedName: client.ObjectKey{Name: split.Spec.Source}},
		{NamespacedName: client.ObjectKey{Name: split.Spec.NewTeam.Name}},
	}
}
