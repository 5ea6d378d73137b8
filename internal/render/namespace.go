package render

import (
	"maps"
	"strings"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Pod Security Admission label keys.
const (
	podSecurityLabelPrefix = "pod-security.kubernetes.io/"
)

// Namespace is the team's namespace, labelled with its team, neighbourhood
// and the blueprint's Pod Security Admission level, pinned to a version, and
// annotated with the blueprint's tenant rules that buurt's admission
// policies read (TenantRuleAnnotations).
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
	ns := corev1ac.Namespace(team.NamespaceName()).
		WithLabels(labels).
		WithOwnerReferences(ownerReference(team))
	if annotations := TenantRuleAnnotations(team, blueprint); len(annotations) > 0 {
		ns.WithAnnotations(annotations)
	}
	return ns
}

// TenantRuleAnnotations are the parameters of buurt's admission policies for
// the team's namespace: the blueprint's allowed registries, the domain its
// Ingress hosts must be under and the pull policy every container must have.
// A rule the blueprint does not set has no annotation; the namespace is
// applied with server-side apply, so an annotation the blueprint no longer
// asks for is removed.
func TenantRuleAnnotations(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) map[string]string {
	annotations := map[string]string{}
	if registries := blueprint.Spec.AllowedRegistries; len(registries) > 0 {
		annotations[teamsv1alpha1.AllowedRegistriesAnnotation] = strings.Join(registries, ",")
	}
	if domain := TeamDomain(team, blueprint); domain != "" {
		annotations[teamsv1alpha1.IngressDomainAnnotation] = domain
	}
	if policy := blueprint.Spec.ImagePullPolicy; policy != "" {
		annotations[teamsv1alpha1.ImagePullPolicyAnnotation] = string(policy)
	}
	return annotations
}
