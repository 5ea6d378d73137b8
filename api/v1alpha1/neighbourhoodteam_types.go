package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespacePrefix is put before a team's name to make its namespace's name.
const NamespacePrefix = "team-"

// Lifecycle is whether a team works, sleeps or is closed.
// +kubebuilder:validation:Enum=Active;Dormant;Archived
type Lifecycle string

const (
	// LifecycleActive runs the team's apps.
	LifecycleActive Lifecycle = "Active"
	// LifecycleDormant scales the team's workloads to zero (recording how
	// many replicas each had), suspends its CronJobs, stops a Dedicated
	// database, and keeps its namespace, access and data.
	LifecycleDormant Lifecycle = "Dormant"
	// LifecycleArchived closes the team and keeps everything: its workloads
	// stopped as for Dormant, its database kept and unable to log in,
	// members read-only, its coach released and a quota that starts no pod.
	// Only platform engineers archive a team or bring it back; back, its
	// database gets a new password.
	LifecycleArchived Lifecycle = "Archived"
)

// TeamPhase is the one-word summary of a team's health.
type TeamPhase string

const (
	// TeamPhaseForming is a team whose workspace is being made.
	TeamPhaseForming TeamPhase = "Forming"
	// TeamPhaseActive is a team whose workspace is complete and healthy.
	TeamPhaseActive TeamPhase = "Active"
	// TeamPhaseDegraded is a team that was Active and now has a problem.
	TeamPhaseDegraded TeamPhase = "Degraded"
	// TeamPhaseDormant is a team asleep (lifecycle Dormant, or its
	// schedule): no apps run.
	TeamPhaseDormant TeamPhase = "Dormant"
	// TeamPhaseArchived is a team with lifecycle Archived: closed, its data
	// kept.
	TeamPhaseArchived TeamPhase = "Archived"
	// TeamPhaseTerminating is a team being deleted.
	TeamPhaseTerminating TeamPhase = "Terminating"
)

// NeighbourhoodTeamSpec is what a team asks for.
type NeighbourhoodTeamSpec struct {
	// neighbourhood is the area the team serves, e.g. riverside. It becomes a
	// label on the team's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="neighbourhood must be a lowercase DNS label (a-z, 0-9 and '-'), since it becomes a label value"
	Neighbourhood string `json:"neighbourhood,omitempty"`

	// blueprint names the TeamBlueprint the team is made from.
	// +optional
	// +default="default"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Blueprint string `json:"blueprint,omitempty"`

	// coach names the Coach the team has chosen. The coach gets read-only
	// access to the team while it has capacity.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Coach string `json:"coach,omitempty"`

	// members are the people (users or groups) in the team. Each is bound to
	// the blueprint's member role in the team namespace and may edit this
	// object within the blueprint's guardrails.
	// +required
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.size() >= 1",message="a team needs at least one member"
	Members []Subject `json:"members,omitempty"`

	// apps are the team's own apps, beside its blueprint's standard apps.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	Apps []App `json:"apps,omitempty"`

	// lifecycle is Active; Dormant to stop the team's workloads while
	// keeping its namespace, access and data; or Archived to close the team
	// and keep everything (platform engineers only). docs/lifecycle.md says
	// what each does and who may set it.
	// +optional
	// +default="Active"
	Lifecycle Lifecycle `json:"lifecycle,omitempty"`

	// database overrides the blueprint's database class or reclaim policy.
	// +optional
	Database *TeamDatabase `json:"database,omitempty"`

	// credentials lets the team have its database password made anew.
	// +optional
	Credentials *TeamCredentials `json:"credentials,omitempty"`

	// sleep is the team's own hours: it goes Dormant at sleepAt and wakes at
	// wakeAt on the days given, by the clock of timeZone. lifecycle Dormant
	// set by hand wins over it.
	// +optional
	Sleep *SleepSchedule `json:"sleep,omitempty"`
}

// Weekday is a day of the week.
// +kubebuilder:validation:Enum=Monday;Tuesday;Wednesday;Thursday;Friday;Saturday;Sunday
type Weekday string

// SleepSchedule is when a team sleeps and wakes, as kube-green's SleepInfo
// has it: both happen on each of the days, so sleeping at 20:00 and waking
// at 07:00 Monday to Friday also sleeps from Friday evening to Monday
// morning.
// +kubebuilder:validation:XValidation:rule="self.sleepAt != self.wakeAt",message="wakeAt must differ from sleepAt: the team would sleep and wake at once"
type SleepSchedule struct {
	// sleepAt is the time of day the team goes to sleep, HH:MM (24-hour).
	// +required
	// +kubebuilder:validation:MinLength=5
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')",message="sleepAt must be a time of day as HH:MM (24-hour), such as 20:00"
	SleepAt string `json:"sleepAt,omitempty"`

	// wakeAt is the time of day the team wakes, HH:MM (24-hour).
	// +required
	// +kubebuilder:validation:MinLength=5
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:validation:XValidation:rule="self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')",message="wakeAt must be a time of day as HH:MM (24-hour), such as 07:00"
	WakeAt string `json:"wakeAt,omitempty"`

	// days are the days of the week the team sleeps and wakes on.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=7
	Days []Weekday `json:"days,omitempty"`

	// timeZone is the IANA time zone whose clock sleepAt and wakeAt are read
	// on, such as Europe/Amsterdam; the admission webhook refuses one it
	// does not know.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`
}

// TeamCredentials is what the team asks of its credentials.
type TeamCredentials struct {
	// rotationRequest has the database password made anew once when it is
	// set to a value it has not had (the date and time of the request, say): the old
	// one stops working, the connection Secret holds the new one and the
	// team's apps restart once to use it. status.credentials.rotationRequest
	// is the last request carried out.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	RotationRequest string `json:"rotationRequest,omitempty"`
}

// TeamDatabase is a team's own choice about its database.
type TeamDatabase struct {
	// class overrides the blueprint's database class. It cannot be changed or
	// removed once set: moving a team's data between classes is a migration,
	// not an edit, and changing it here would strand the existing database.
	// +optional
	Class DatabaseClass `json:"class,omitempty"`

	// reclaimPolicy overrides the blueprint's reclaim policy: Retain keeps
	// the database when the team is deleted, Delete drops it.
	// +optional
	ReclaimPolicy ReclaimPolicy `json:"reclaimPolicy,omitempty"`
}

// NeighbourhoodTeamStatus is the team's health roll-up.
// +kubebuilder:validation:MinProperties=1
type NeighbourhoodTeamStatus struct {
	// conditions are Ready, NamespaceReady, AccessReady, QuotaReady,
	// DatabaseReady, NetworkReady, AppsReady, CoachAssigned and
	// SizeWithinLimit.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation of the last complete reconcile.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastHandledReconcileAt is the value of the annotation
	// teams.buurt.dev/reconcile-requested-at that the last reconcile
	// handled (`kubectl buurt reconcile` waits for it).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// phase is Forming, Active, Degraded, Dormant or Terminating.
	// +optional
	// +kubebuilder:validation:Enum=Forming;Active;Degraded;Dormant;Archived;Terminating
	Phase TeamPhase `json:"phase,omitempty"`

	// namespace is the team's namespace once buurt has made it.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// memberCount is the number of member entries.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MemberCount int32 `json:"memberCount,omitempty"`

	// database is the team's database as provisioned.
	// +optional
	Database *TeamDatabaseStatus `json:"database,omitempty"`

	// apps is the readiness of each of the team's apps.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=40
	Apps []AppStatus `json:"apps,omitempty"`

	// members says of each member whether their access is in place.
	// +optional
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=50
	Members []MemberStatus `json:"members,omitempty"`

	// credentials says when the database password was last made and why.
	// It never holds the password, nor who was the reason.
	// +optional
	Credentials *CredentialsStatus `json:"credentials,omitempty"`

	// sleep says where the team is in its sleep schedule (spec.sleep).
	// +optional
	Sleep *SleepStatus `json:"sleep,omitempty"`

	// usage is what the team uses of its quota and, with the blueprint's
	// prices, what that costs.
	// +optional
	Usage *TeamUsage `json:"usage,omitempty"`
}

// TeamUsage is what a team uses of its quota, and its estimated cost. It is
// written when a figure moves by a step of UsageStep percent of the quota,
// not with every pod the team starts.
type TeamUsage struct {
	// resources are the team's use of each resource its ResourceQuota sets,
	// as Kubernetes counts it.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Resources []ResourceUsage `json:"resources,omitempty"`

	// estimatedMonthlyCost is what the team's requests would cost for a
	// month at the blueprint's prices: an estimate, not a bill.
	// +optional
	EstimatedMonthlyCost *Cost `json:"estimatedMonthlyCost,omitempty"`

	// databaseSize is the size of the team's Shared database as PostgreSQL
	// counts it (pg_database_size): read when the database is made and
	// then every few minutes, with one query per server, and written
	// rounded (DatabaseSizeOf), so that it is written again only when it
	// moves.
	// +optional
	DatabaseSize *resource.Quantity `json:"databaseSize,omitempty"`

	// summary is the use of cpu, memory, storage and pods and the cost in
	// a line, for kubectl get neighbourhoodteams.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Summary string `json:"summary,omitempty"`
}

// UsageStep is the step, in percent of the quota, by which a team's use is
// written in its status: a team sees where it stands, and its status is not
// written again for every pod.
const UsageStep = 5

// DatabaseSizeOf is a database size as status.usage.databaseSize says it:
// in whole MiB (at least 1), to two significant figures from 100 MiB on.
// A database that grows is written again every MiB up to 100 MiB and
// every 1 to 10% after, never for a few rows.
func DatabaseSizeOf(bytes int64) resource.Quantity {
	mib := max((bytes+1<<19)>>20, 1)
	unit := int64(1)
	for mib/unit >= 100 {
		unit *= 10
	}
	mib = (mib + unit/2) / unit * unit
	return *resource.NewQuantity(mib<<20, resource.BinarySI)
}

// ResourceUsage is a team's use of one resource of its quota.
type ResourceUsage struct {
	// name is the resource, as the quota names it (requests.cpu, pods).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// used is how much the team uses, as the quota counted it when the
	// figure was written.
	// +required
	Used *resource.Quantity `json:"used,omitempty"`

	// hard is the quota's limit.
	// +required
	Hard *resource.Quantity `json:"hard,omitempty"`

	// percent is used of hard, rounded down to a multiple of UsageStep.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	Percent *int32 `json:"percent,omitempty"`
}

// Cost is an amount of money.
type Cost struct {
	// amount is a decimal number with two decimals.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=24
	Amount string `json:"amount,omitempty"`

	// currency is the ISO 4217 code, as the blueprint's prices say.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=3
	Currency string `json:"currency,omitempty"`
}

// SleepState is whether a team's schedule has it asleep.
// +kubebuilder:validation:Enum=Asleep;Awake
type SleepState string

const (
	// SleepStateAsleep means the schedule has the team Dormant.
	SleepStateAsleep SleepState = "Asleep"
	// SleepStateAwake means the schedule has the team awake.
	SleepStateAwake SleepState = "Awake"
)

// SleepStatus is where a team is in its sleep schedule.
type SleepStatus struct {
	// state is Asleep or Awake, by the schedule alone: lifecycle Dormant
	// set by hand keeps the team Dormant whatever this says.
	// +required
	State SleepState `json:"state,omitempty"`

	// nextTransitionTime is when the schedule next wakes the team or puts
	// it to sleep.
	// +optional
	NextTransitionTime *metav1.Time `json:"nextTransitionTime,omitempty"`
}

// MemberAccess is whether a member's access to the team is in place.
// +kubebuilder:validation:Enum=Granted;Pending
type MemberAccess string

const (
	// MemberAccessGranted means the member is bound to the blueprint's member
	// role in the team namespace and may edit the team.
	MemberAccessGranted MemberAccess = "Granted"
	// MemberAccessPending means buurt has not yet given the member their access
	// (AccessReady says why).
	MemberAccessPending MemberAccess = "Pending"
)

// MemberStatus is one member and whether their access is in place.
type MemberStatus struct {
	// Subject is the member, as spec.members names them.
	Subject `json:",inline"`

	// access is Granted or Pending.
	// +required
	Access MemberAccess `json:"access,omitempty"`
}

// RotationReason is why a database password was made anew.
// +kubebuilder:validation:Enum=Created;MemberRemoved;Scheduled;Requested;SecretDeleted;Unarchived
type RotationReason string

const (
	// RotationCreated means the database was made, and its first password.
	RotationCreated RotationReason = "Created"
	// RotationMemberRemoved means a member left the team; they could read the
	// old password.
	RotationMemberRemoved RotationReason = "MemberRemoved"
	// RotationScheduled means the blueprint's passwordRotation interval passed.
	RotationScheduled RotationReason = "Scheduled"
	// RotationRequested means the team set a new spec.credentials.rotationRequest.
	RotationRequested RotationReason = "Requested"
	// RotationSecretDeleted means the connection Secret was deleted.
	RotationSecretDeleted RotationReason = "SecretDeleted"
	// RotationUnarchived means the team came back from Archived: whoever
	// could read the password before may have left.
	RotationUnarchived RotationReason = "Unarchived"
)

// CredentialsStatus is when a team's database password was last made, and
// why.
type CredentialsStatus struct {
	// lastRotationTime is when the current database password was made.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`

	// lastRotationReason is why it was made.
	// +optional
	LastRotationReason RotationReason `json:"lastRotationReason,omitempty"`

	// rotationRequest is the last spec.credentials.rotationRequest carried
	// out.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	RotationRequest string `json:"rotationRequest,omitempty"`

	// rotationPending is why the password is to be made anew when buurt
	// could not do it yet (the database server did not answer); the old
	// password works until then, and buurt tries again.
	// +optional
	RotationPending RotationReason `json:"rotationPending,omitempty"`
}

// TeamDatabaseStatus is a team's database as provisioned. Its class is fixed
// here once the database exists.
type TeamDatabaseStatus struct {
	// class is the class the database was provisioned with.
	// +optional
	Class DatabaseClass `json:"class,omitempty"`

	// name is the database's name (and, for Shared, its role's name).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name,omitempty"`

	// secretName names the Secret in the team namespace that says how to
	// connect.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName,omitempty"`
}

// AppStatus is the readiness of one app.
type AppStatus struct {
	// name is the app's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=50
	Name string `json:"name,omitempty"`

	// desiredReplicas is how many replicas should run.
	// +optional
	// +kubebuilder:validation:Minimum=0
	DesiredReplicas int32 `json:"desiredReplicas,omitempty"`

	// availableReplicas is how many replicas are available.
	// +optional
	// +kubebuilder:validation:Minimum=0
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`

	// url is where the app is reached when it has an Ingress.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	URL string `json:"url,omitempty"`
}

// NeighbourhoodTeam is a small self-managing team and the workspace buurt
// makes for it: a namespace team-<name> with access for its members, quota,
// network isolation, a database and its apps.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=nt;team;teams,categories=buurt
// +kubebuilder:metadata:annotations="helm.sh/resource-policy=keep"
// +kubebuilder:metadata:annotations="argocd.argoproj.io/sync-options=Delete=false,Prune=false"
// +kubebuilder:metadata:annotations="kustomize.toolkit.fluxcd.io/prune=disabled"
// +kubebuilder:metadata:labels="teams.buurt.dev/on-uninstall=keep"
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Members",type=integer,JSONPath=`.status.memberCount`
// +kubebuilder:printcolumn:name="Coach",type=string,JSONPath=`.spec.coach`
// +kubebuilder:printcolumn:name="Coached",type=string,JSONPath=`.status.conditions[?(@.type=="CoachAssigned")].status`,description="Whether the chosen coach supports the team"
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.status.namespace`
// +kubebuilder:printcolumn:name="Usage",type=string,JSONPath=`.status.usage.summary`,description="Use of the quota, and the estimated monthly cost"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Neighbourhood",type=string,JSONPath=`.spec.neighbourhood`,priority=1
// +kubebuilder:printcolumn:name="Blueprint",type=string,JSONPath=`.spec.blueprint`,priority=1
// +kubebuilder:printcolumn:name="Sleep",type=string,JSONPath=`.status.sleep.state`,priority=1,description="Asleep or Awake by the team's own schedule"
// +kubebuilder:printcolumn:name="Next",type=date,JSONPath=`.status.sleep.nextTransitionTime`,priority=1,description="When the schedule next wakes the team or puts it to sleep"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 58",message="team name must be at most 58 characters, so that its namespace team-<name> is at most 63"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="team name must be a lowercase DNS label (a-z, 0-9 and '-'), since it names the team's namespace"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.spec.database) || !has(oldSelf.spec.database.class) || (has(self.spec.database) && has(self.spec.database.class) && self.spec.database.class == oldSelf.spec.database.class)",message="spec.database.class cannot be changed or removed once set: moving a team's data between classes is a migration"
type NeighbourhoodTeam struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec is what the team asks for.
	// +required
	Spec NeighbourhoodTeamSpec `json:"spec,omitzero"`

	// status is the team's health roll-up.
	// +optional
	Status NeighbourhoodTeamStatus `json:"status,omitempty,omitzero"`
}

// NamespaceName is the name of the namespace buurt makes for the team.
func (t *NeighbourhoodTeam) NamespaceName() string {
	return NamespacePrefix + t.Name
}

// NeighbourhoodTeamList is a list of NeighbourhoodTeams.
//
// +kubebuilder:object:root=true
type NeighbourhoodTeamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []NeighbourhoodTeam `json:"items"`
}
