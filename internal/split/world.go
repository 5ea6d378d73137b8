package split

import (
	"cmp"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Read reads the World a split is planned in: teams and blueprints with c
// (a cache will do), the namespace with live, which must see every
// namespace (an operator's cache holds only buurt's). What does not exist
// is absent from it; any other failure to read is an error, never taken
// for absence.
func Read(ctx context.Context, c, live client.Reader, s *teamsv1alpha1.TeamSplit) (World, error) {
	var w World
	source := &teamsv1alpha1.NeighbourhoodTeam{}
	switch err := c.Get(ctx, client.ObjectKey{Name: s.Spec.Source}, source); {
	case err == nil:
		w.Source = source
	case !apierrors.IsNotFound(err):
		return w, fmt.Errorf("failed to read team %s: %w", s.Spec.Source, err)
	}
	if w.Source != nil {
		bp := &teamsv1alpha1.TeamBlueprint{}
		name := cmp.Or(w.Source.Spec.Blueprint, teamsv1alpha1.DefaultBlueprintName)
		switch err := c.Get(ctx, client.ObjectKey{Name: name}, bp); {
		case err == nil:
			w.Blueprint = bp
		case !apierrors.IsNotFound(err):
			return w, fmt.Errorf("failed to read blueprint %s: %w", name, err)
		}
	}
	ours := false
	newTeam := &teamsv1alpha1.NeighbourhoodTeam{}
	switch err := c.Get(ctx, client.ObjectKey{Name: s.Spec.NewTeam.Name}, newTeam); {
	case err == nil:
		ours = newTeam.Labels[teamsv1alpha1.SplitLabel] == s.Name
		w.NewTeamTaken = !ours
	case !apierrors.IsNotFound(err):
		return w, fmt.Errorf("failed to read team %s: %w", s.Spec.NewTeam.Name, err)
	}
	namespace := teamsv1alpha1.NamespacePrefix + s.Spec.NewTeam.Name
	switch err := live.Get(ctx, client.ObjectKey{Name: namespace}, &corev1.Namespace{}); {
	case err == nil:
		// The new team's own namespace, once this split made the team; the
		// namespace of another team of that name is said with the team.
		w.NamespaceTaken = !ours && !w.NewTeamTaken
	case !apierrors.IsNotFound(err):
		return w, fmt.Errorf("failed to read namespace %s: %w", namespace, err)
	}
	return w, nil
}
