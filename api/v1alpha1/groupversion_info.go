// Package v1alpha1 holds the buurt API: TeamBlueprint, NeighbourhoodTeam,
// Coach and TeamSplit in the teams.buurt.dev group. All of them are
// cluster-scoped, since a team owns a namespace rather than living in one.
//
// Each kind's CRD carries the metadata:annotations and metadata:labels markers
// that keep it when buurt is uninstalled (Helm's resource-policy, Argo CD's
// Delete=false and Prune=false, Flux's prune: disabled, and the label
// teams.buurt.dev/on-uninstall=keep that docs/upgrading.md's kustomize
// uninstall leaves out): deleting a CRD deletes every object of its kind, and
// so every team and its namespace.
//
// +kubebuilder:object:generate=true
// +groupName=teams.buurt.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "teams.buurt.dev", Version: "v1alpha1"}

	// schemeBuilder registers the kinds of this package with a scheme. It is
	// apimachinery's own builder, so the API package needs nothing from
	// controller-runtime.
	schemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a scheme.
	AddToScheme = schemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&TeamBlueprint{}, &TeamBlueprintList{},
		&NeighbourhoodTeam{}, &NeighbourhoodTeamList{},
		&Coach{}, &CoachList{},
		&TeamSplit{}, &TeamSplitList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
