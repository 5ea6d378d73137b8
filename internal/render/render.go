// Package render turns a NeighbourhoodTeam and its TeamBlueprint into the
// objects its workspace consists of. Every function here is pure: no client,
// no clock, no randomness. The controller applies what these return with
// server-side apply, so each result names exactly the fields buurt owns.
package render

import (
	"k8s.io/apimachinery/pkg/types"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Labels are the labels on every object made for team: the caches and the
// pruning select on them.
func Labels(team *teamsv1alpha1.NeighbourhoodTeam) map[string]string {
	return map[string]string{
		teamsv1alpha1.TeamLabel:      team.Name,
		teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue,
	}
}

// ownerReference makes team the controller of an object, so that deleting
// the team deletes the object through garbage collection. A cluster-scoped
// owner may own namespaced and cluster-scoped objects alike.
func ownerReference(team *teamsv1alpha1.NeighbourhoodTeam) *metav1ac.OwnerReferenceApplyConfiguration {
	return controllerReference("NeighbourhoodTeam", team.Name, team.UID)
}

// controllerReference makes one of buurt's objects, of kind, the controller
// of another.
func controllerReference(kind, name string, uid types.UID) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(teamsv1alpha1.GroupVersion.String()).
		WithKind(kind).
		WithName(name).
		WithUID(uid).
		WithController(true).
		WithBlockOwnerDeletion(true)
}
