package team

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
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
	if err := r.Client.List(ctx, list, client.InNamespace(team.NamespaceName()), client.MatchingLabels(labels)); err != nil {
		return fmt.Errorf("failed to list %T of team %s: %w", list, klog.KObj(team), err)
	}
	objects, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, o := range objects {
		obj := o.(client.Object)
		if keep.Has(obj.GetName()) || !metav1.IsControlledBy(obj, team) {
			continue
		}
		if err := r.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to prune %s of team %s: %w", klog.KObj(obj), klog.KObj(team), err)
		}
		r.Applier.Forget(obj)
	}
	return nil
}
