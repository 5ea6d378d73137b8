package render

import (
	"maps"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Pod Security Admission label keys.
const (
	podSecurityLabelPrefix = "pod-security.kubernetes.io/"
)

// Namespace is the team's namespace, labelled with its team, neighbourhood
// and the blueprint's Pod Security Admission level, pinned to a version.
func Namespace(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) *corev1ac.NamespaceApplyConfiguration {
	labels := Labels(team)
	labels[teamsv1alpha1.NeighbourhoodLabel] = team.Spec.Neighbourhood
	ps := blueprint.Spec.PodSecurity
	for _, mode := range []string{"enforce", "audit", "warn"} {
		maps.Copy(labels, map[string]string{
			podSecurityLabelPrefix + mode:              string(ps.Level),
			podSecurityLabelPrefix + mode + "-version": ps.Version,
		})
	}
	return corev1ac.Namespace(team.NamespaceName()).
		WithLabels(labels).
		WithOwnerReferences(ownerReference(team))
}
