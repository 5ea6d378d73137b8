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
	return nil
}
