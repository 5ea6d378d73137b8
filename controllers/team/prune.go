package team

import (
	"context"

	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// prune deletes the objects of list's kind in the team's namespace that buurt
// made for this team (its labels and controller owner reference) and that are
// not in keep. Nothing else is ever deleted.
func (r *Reconciler) prune(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, list client.ObjectList, keep sets.Set[string]) error {
	return r.pruneMatching(ctx, team, list, render.Labels(team), keep)
}

// pruneMatching prunes like prune, among the objects that carry labels.
func (r *Reconciler) pruneMatching(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, list client.ObjectList, labels map[string]string, keep sets.Set[string]) error {
	return r.Applier.Prune(ctx, team, list, func(o client.Object) bool { return keep.Has(o.GetName()) },
		client.InNamespace(team.NamespaceName()), client.MatchingLabels(labels))
}
