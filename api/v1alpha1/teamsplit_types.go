package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SplitDatabase is what the new team's database starts as.
// +kubebuilder:validation:Enum=Empty;Copy
type SplitDatabase string

const (
	// SplitDatabaseEmpty gives the new team a database of its own, empty.
	SplitDatabaseEmpty SplitDatabase = "Empty"
	// SplitDatabaseCopy gives the new team a copy of the source team's
	// database, taken while the source's apps are stopped for a moment.
	SplitDatabaseCopy SplitDatabase = "Copy"
)

// TeamSplitNewTeam is the team a split makes.
type TeamSplitNewTeam struct {
	// name is the new team's name; its namespace is team-<name>.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=58
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="the new team's name must be a lowercase DNS label (a-z, 0-9 and '-'), since it names the team's namespace"
	Name string `json:"name,omitempty"`

	// neighbourhood is the area the new team serves; the source team's when
	// left out.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="neighbourhood must be a lowercase DNS label (a-z, 0-9 and '-'), since it becomes a label value"
	Neighbourhood string `json:"neighbourhood,omitempty"`

	// coach names the Coach the new team chooses; none when left out.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Coach string `json:"coach,omitempty"`
}

// TeamSplitSpec is how a team splits in two: who and what moves to a new
// team, and what its database starts as.
type TeamSplitSpec struct {
	// source names the NeighbourhoodTeam that splits. It keeps its name,
	// namespace, database and the members and apps that do not move.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=58
	Source string `json:"source,omitempty"`

	// newTeam is the team the split makes, of the source's blueprint.
	// +required
	NewTeam TeamSplitNewTeam `json:"newTeam,omitzero"`

	// members are the source's members who move to the new team; each must
	// be a member of the source now.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Members []Subject `json:"members,omitempty"`

	// apps name the source's own apps (spec.apps) that move to the new
	// team. The blueprint's standard apps run in both teams anyway.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=50
	Apps []string `json:"apps,omitempty"`

	// database is what the new team's database starts as: Empty, or a Copy
	// of the source's (a Shared database; the source's workloads stop while
	// it is copied, for about as long as status.plan.databaseCopy says).
	// +optional
	// +default="Empty"
	Database SplitDatabase `json:"database,omitempty"`

	// approved carries the split out once true. Until then buurt only
	// plans it (status.plan) and changes nothing.
	// +optional
	Approved *bool `json:"approved,omitempty"`
}

// TeamSplitPhase is where a split is.
// +kubebuilder:validation:Enum=Planned;Refused;Running;Succeeded;Failed
type TeamSplitPhase string

const (
	// TeamSplitPhasePlanned means the plan is in status.plan, waiting for
	// approval.
	TeamSplitPhasePlanned TeamSplitPhase = "Planned"
	// TeamSplitPhaseRefused means the plan breaks a rule (status.plan.problems);
	// nothing is done, approved or not, until the split is changed.
	TeamSplitPhaseRefused TeamSplitPhase = "Refused"
	// TeamSplitPhaseRunning means approved, its steps are being carried out.
	TeamSplitPhaseRunning TeamSplitPhase = "Running"
	// TeamSplitPhaseSucceeded means every step is done; the split is a record.
	TeamSplitPhaseSucceeded TeamSplitPhase = "Succeeded"
	// TeamSplitPhaseFailed means a step failed; both teams keep working and the
	// Ready condition says why.
	TeamSplitPhaseFailed TeamSplitPhase = "Failed"
)

// TeamSplitPlan is what a split will do, before it does it.
type TeamSplitPlan struct {
	// newTeam is the spec of the team the split makes.
	// +optional
	NewTeam *NeighbourhoodTeamSpec `json:"newTeam,omitempty"`

	// source is the source team's spec after the split.
	// +optional
	Source *NeighbourhoodTeamSpec `json:"source,omitempty"`

	// summary is the plan in one line, for kubectl get teamsplits.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Summary string `json:"summary,omitempty"`

	// databaseCopy says what copying the database costs the source team:
	// which of its apps stop, and for about how long. Empty without a copy.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	DatabaseCopy string `json:"databaseCopy,omitempty"`

	// problems are the rules the result would break; a split with problems
	// is not carried out.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=1024
	Problems []string `json:"problems,omitempty"`
}

// TeamSplitStepName names a step of carrying a split out, in order.
// +kubebuilder:validation:Enum=CreateTeam;CopyDatabase;WaitForTeam;MoveMembersAndApps
type TeamSplitStepName string

const (
	// StepCreateTeam makes the new team from the plan, labelled with the
	// split's name (SplitLabel). With database: Copy, the new team gets its
	// database role and Secret and waits for the copy (AwaitingCopy).
	StepCreateTeam TeamSplitStepName = "CreateTeam"
	// StepCopyDatabase (with database: Copy only) stops the source's
	// workloads, ends the sessions on its database, copies it for the new
	// team (CREATE DATABASE … TEMPLATE) and starts them again.
	StepCopyDatabase TeamSplitStepName = "CopyDatabase"
	// StepWaitForTeam waits until the new team is Ready: its members have
	// their access and its apps run before anything leaves the source.
	StepWaitForTeam TeamSplitStepName = "WaitForTeam"
	// StepMoveMembersAndApps takes the moved members and apps out of the
	// source team, in one change; members who leave lose their access and
	// the source's database password is made anew, as for anyone who
	// leaves.
	StepMoveMembersAndApps TeamSplitStepName = "MoveMembersAndApps"
)

// TeamSplitStepState is how far a step is.
// +kubebuilder:validation:Enum=Pending;Running;Done;Failed
type TeamSplitStepState string

const (
	// StepPending has not begun.
	StepPending TeamSplitStepState = "Pending"
	// StepRunning has begun and is not done.
	StepRunning TeamSplitStepState = "Running"
	// StepDone is done.
	StepDone TeamSplitStepState = "Done"
	// StepFailed failed; the split stops there.
	StepFailed TeamSplitStepState = "Failed"
)

// TeamSplitStep is one step of carrying a split out.
type TeamSplitStep struct {
	// name is the step.
	// +required
	Name TeamSplitStepName `json:"name,omitempty"`

	// state is how far it is.
	// +required
	State TeamSplitStepState `json:"state,omitempty"`

	// lastTransitionTime is when its state last changed.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`

	// message says what the step is doing or why it failed.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// TeamSplitStatus is the split's plan and how far it has come.
// +kubebuilder:validation:MinProperties=1
type TeamSplitStatus struct {
	// conditions are Ready (the split is done, or why not).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation last reconciled.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is where the split is.
	// +optional
	Phase TeamSplitPhase `json:"phase,omitempty"`

	// plan is what the split does, computed before it is approved and
	// kept as it was approved.
	// +optional
	Plan *TeamSplitPlan `json:"plan,omitempty"`

	// steps are the steps of carrying the split out, in order, once it is
	// approved.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Steps []TeamSplitStep `json:"steps,omitempty"`

	// startTime is when the split began to be carried out.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// completionTime is when it succeeded.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// TeamSplit splits a NeighbourhoodTeam in two: some of its members and its
// own apps move to a new team of the same blueprint, whose database starts
// empty or as a copy. buurt plans it first (status.plan) and carries it out
// once approved; the team itself (its members) or a platform engineer may
// split it. Deleting a TeamSplit never undoes a split or deletes a team.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=buurt,shortName=split
// +kubebuilder:metadata:annotations="helm.sh/resource-policy=keep"
// +kubebuilder:metadata:annotations="argocd.argoproj.io/sync-options=Delete=false,Prune=false"
// +kubebuilder:metadata:annotations="kustomize.toolkit.fluxcd.io/prune=disabled"
// +kubebuilder:metadata:labels="teams.buurt.dev/on-uninstall=keep"
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source`
// +kubebuilder:printcolumn:name="New",type=string,JSONPath=`.spec.newTeam.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Approved",type=boolean,JSONPath=`.spec.approved`
// +kubebuilder:printcolumn:name="Plan",type=string,JSONPath=`.status.plan.summary`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.spec.source != self.spec.newTeam.name",message="the new team needs a name of its own, not the source team's"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.spec.approved) || !oldSelf.spec.approved || self.spec == oldSelf.spec",message="an approved split cannot be changed: delete it (the teams stay as they are) and make a new one"
// +kubebuilder:validation:XValidation:rule="self.spec.source == oldSelf.spec.source",message="spec.source cannot be changed: make a new split for another team"
type TeamSplit struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is who and what moves to the new team.
	// +required
	Spec TeamSplitSpec `json:"spec,omitzero"`

	// status is the split's plan and progress.
	// +optional
	Status TeamSplitStatus `json:"status,omitempty,omitzero"`
}

// TeamSplitList is a list of TeamSplits.
//
// +kubebuilder:object:root=true
type TeamSplitList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []TeamSplit `json:"items"`
}
