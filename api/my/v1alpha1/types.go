package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the group of the API.
const GroupName = "my.buurt.dev"

var (
	// GroupVersion is the group and version of the API.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

	schemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the API's kinds to a scheme.
	AddToScheme = schemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &Team{}, &TeamList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}

// Role is the requester's part in a team.
// +kubebuilder:validation:Enum=Member;Coach;PlatformEngineer
type Role string

const (
	// RoleMember means the requester is one of the team's members, or in a
	// group that is.
	RoleMember Role = "Member"
	// RoleCoach means a coach the requester is, or is in the group of,
	// supports the team.
	RoleCoach Role = "Coach"
	// RolePlatformEngineer means the requester may list every team, and
	// sees this one for that alone.
	RolePlatformEngineer Role = "PlatformEngineer"
)

// +kubebuilder:object:root=true

// Team is a NeighbourhoodTeam as the requester sees it: their part in it and
// how it is. Its name, labels, creation time and resourceVersion are the
// team's.
type Team struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the team's.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// status is the team as the requester sees it.
	// +optional
	Status TeamStatus `json:"status,omitzero"`
}

// TeamStatus is the requester's part in a team and the team's state.
type TeamStatus struct {
	// role is the requester's part in the team.
	// +optional
	Role Role `json:"role,omitempty"`

	// coaches names the requester's coaches that support the team, for
	// role Coach.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=253
	Coaches []string `json:"coaches,omitempty"`

	// phase is the team's phase: Forming, Active, Degraded, Dormant,
	// Archived or Terminating.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Phase string `json:"phase,omitempty"`

	// ready is the status of the team's Ready condition.
	// +optional
	Ready metav1.ConditionStatus `json:"ready,omitempty"`

	// reason is the reason of the team's Ready condition.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`

	// namespace is the team's namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// neighbourhood is the area the team serves.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Neighbourhood string `json:"neighbourhood,omitempty"`

	// coach is the coach the team chose.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Coach string `json:"coach,omitempty"`

	// memberCount is how many member entries the team has.
	// +optional
	MemberCount int32 `json:"memberCount,omitempty"`

	// lifecycle is the team's lifecycle: Active, Dormant or Archived.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Lifecycle string `json:"lifecycle,omitempty"`

	// sleep is Asleep or Awake by the team's own schedule; empty for a team
	// without one.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Sleep string `json:"sleep,omitempty"`

	// nextSleepTransition is when the team's schedule next wakes it or puts
	// it to sleep.
	// +optional
	NextSleepTransition *metav1.Time `json:"nextSleepTransition,omitempty"`
}

// +kubebuilder:object:root=true

// TeamList is a list of Teams.
type TeamList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the teams.
	Items []Team `json:"items"`
}
