// Package index registers the cache indexes buurt's controllers share, once
// per manager: looking up the teams of a blueprint or of a coach is then a
// map lookup, never a list of every team.
package index

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Index names, for client.MatchingFields.
const (
	// TeamBlueprint indexes NeighbourhoodTeams by spec.blueprint.
	TeamBlueprint = "spec.blueprint"
	// TeamCoach indexes NeighbourhoodTeams by spec.coach; teams without a
	// coach are not in it.
	TeamCoach = "spec.coach"
	// SplitTeams indexes TeamSplits by the two teams they name: spec.source
	// and spec.newTeam.name.
	SplitTeams = "spec.teams"
)

// Setup registers the indexes with the manager's cache.
func Setup(ctx context.Context, indexer client.FieldIndexer) error {
	for name, extract := range map[string]func(*teamsv1alpha1.NeighbourhoodTeam) string{
		TeamBlueprint: func(t *teamsv1alpha1.NeighbourhoodTeam) string { return t.Spec.Blueprint },
		TeamCoach:     func(t *teamsv1alpha1.NeighbourhoodTeam) string { return t.Spec.Coach },
	} {
		if err := indexer.IndexField(ctx, &teamsv1alpha1.NeighbourhoodTeam{}, name, func(o client.Object) []string {
			if v := extract(o.(*teamsv1alpha1.NeighbourhoodTeam)); v != "" {
				return []string{v}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("failed to index teams by %s: %w", name, err)
		}
	}
	if err := indexer.IndexField(ctx, &teamsv1alpha1.TeamSplit{}, SplitTeams, func(o client.Object) []string {
		s := o.(*teamsv1alpha1.TeamSplit)
		return []string{s.Spec.Source, s.Spec.NewTeam.Name}
	}); err != nil {
		return fmt.Errorf("failed to index splits by team: %w", err)
	}
	return nil
}
