package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CoachSpec is a coach and how many teams they can support.
type CoachSpec struct {
	// subject is the person or group who coaches, as authentication names
	// them.
	// +required
	Subject Subject `json:"subject,omitzero"`

	// maxTeams is the most teams the coach supports at once. Teams beyond it
	// wait, oldest first.
	// +optional
	// +default=40
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=500
	MaxTeams int32 `json:"maxTeams,omitempty"`
}

// CoachStatus is which teams a coach supports.
// +kubebuilder:validation:MinProperties=1
type CoachStatus struct {
	// conditions are Ready and AtCapacity.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation last reconciled.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// teams are the names of the teams the coach supports, sorted.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:MaxLength=253
	Teams []string `json:"teams,omitempty"`

	// teamCount is the number of teams the coach supports.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TeamCount int32 `json:"teamCount,omitempty"`

	// waitingTeams are the names of teams that chose the coach but are beyond
	// its capacity, oldest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=500
	// +kubebuilder:validation:items:MaxLength=253
	WaitingTeams []string `json:"waitingTeams,omitempty"`
}

// Coach is a person or group who supports teams without managing them: teams
// choose their coach, and the coach gets read-only access to each team they
// accept, up to maxTeams.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=buurt
// +kubebuilder:metadata:annotations="helm.sh/resource-policy=keep"
// +kubebuilder:metadata:annotations="argocd.argoproj.io/sync-options=Delete=false,Prune=false"
// +kubebuilder:metadata:annotations="kustomize.toolkit.fluxcd.io/prune=disabled"
// +kubebuilder:metadata:labels="teams.buurt.dev/on-uninstall=keep"
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject.name`
// +kubebuilder:printcolumn:name="Teams",type=integer,JSONPath=`.status.teamCount`
// +kubebuilder:printcolumn:name="MaxTeams",type=integer,JSONPath=`.spec.maxTeams`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Coach struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is the coach and their capacity.
	// +required
	Spec CoachSpec `json:"spec,omitzero"`

	// status is which teams the coach supports.
	// +optional
	Status CoachStatus `json:"status,omitempty,omitzero"`
}

// CoachList is a list of Coaches.
//
// +kubebuilder:object:root=true
type CoachList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Coach `json:"items"`
}
