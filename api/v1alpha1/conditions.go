package v1alpha1

// Condition types. Every condition buurt writes carries observedGeneration.
const (
	// ReadyCondition is the roll-up: True when every other condition of the
	// object is in its good state. A team's CoachAssigned is not part of it:
	// a team works without a coach; nor is a blueprint's
	// TenantRulesEnforced, which is about the installation.
	ReadyCondition = "Ready"

	// NamespaceReadyCondition is True when the team's namespace exists, is
	// buurt's and carries the blueprint's labels.
	NamespaceReadyCondition = "NamespaceReady"

	// AccessReadyCondition is True when the members' RoleBindings and the
	// team's self-service role match spec.members.
	AccessReadyCondition = "AccessReady"

	// DatabaseReadyCondition is True when the team's database and its
	// connection Secret exist and the team's NetworkPolicies let its pods
	// reach the database, or when the team has no database.
	DatabaseReadyCondition = "DatabaseReady"

	// AppsReadyCondition is True when every app of the team is available, or
	// scaled to zero while the team is Dormant.
	AppsReadyCondition = "AppsReady"

	// CoachAssignedCondition is True when the team's chosen coach has
	// accepted it.
	CoachAssignedCondition = "CoachAssigned"

	// QuotaReadyCondition is True when the team's ResourceQuota and
	// LimitRange are the blueprint's.
	QuotaReadyCondition = "QuotaReady"

	// NetworkReadyCondition is True when the team's NetworkPolicies are in
	// place.
	NetworkReadyCondition = "NetworkReady"

	// SizeWithinLimitCondition is True when the team has no more members than
	// its blueprint's maxMembers.
	SizeWithinLimitCondition = "SizeWithinLimit"

	// AtCapacityCondition is True on a coach who supports maxTeams teams.
	AtCapacityCondition = "AtCapacity"

	// DatabaseServerHardenedCondition is on a blueprint that names a shared
	// database server: True when the server's admin has revoked CONNECT on
	// its maintenance databases (postgres, template1) from PUBLIC, so a
	// team's role can connect to its own database only. It is a warning
	// about a server buurt does not own and not part of the blueprint's
	// Ready: teams are provisioned either way.
	DatabaseServerHardenedCondition = "DatabaseServerHardened"

	// TenantRulesEnforcedCondition is True on a blueprint when buurt's
	// admission policies, which hold team namespaces to the blueprint's
	// tenant rules, and their bindings are installed. It is not part of the
	// blueprint's Ready.
	TenantRulesEnforcedCondition = "TenantRulesEnforced"
)

// Condition reasons.
const (
	// ReconciledReason: the object's desired state is in place.
	ReconciledReason = "Reconciled"

	// ProvisioningReason: buurt is still making what the condition covers.
	ProvisioningReason = "Provisioning"

	// NotReadyReason: the Ready roll-up is False because another condition is.
	NotReadyReason = "NotReady"

	// RejectedReason: the apiserver refused an object buurt made from the
	// team and its blueprint as invalid (or an admission policy refused it);
	// the message says which field and why.
	RejectedReason = "Rejected"

	// ForbiddenReason: buurt's ServiceAccount may not make or change an
	// object the condition covers.
	ForbiddenReason = "Forbidden"

	// ReconcileErrorReason: buurt could not check or apply what the condition
	// covers this time (the apiserver did not answer, or a write conflicted);
	// what was in place is kept and buurt tries again.
	ReconcileErrorReason = "ReconcileError"

	// BlueprintNotFoundReason: the team names a TeamBlueprint that does not
	// exist.
	BlueprintNotFoundReason = "BlueprintNotFound"

	// NamespaceConflictReason: a namespace of the team's name exists and buurt
	// did not make it for this team, so buurt leaves it alone.
	NamespaceConflictReason = "NamespaceConflict"

	// NamespaceTerminatingReason: the team's namespace is being deleted.
	NamespaceTerminatingReason = "NamespaceTerminating"

	// AccessForbiddenReason: the apiserver refused to let buurt bind a role,
	// typically a custom memberRole buurt has no bind permission on.
	AccessForbiddenReason = "AccessForbidden"

	// RoleNotAllowedReason: the blueprint's memberRole (on a team) or
	// coachRole (on a coach) is a ClusterRole without the label
	// TeamRoleLabel=TeamRoleMember or TeamRoleCoach, or none at all, so buurt
	// does not bind it (and removes a binding to it that it made before).
	RoleNotAllowedReason = "RoleNotAllowed"

	// WaitingForNamespaceReason: nothing is made inside the team's namespace
	// until the namespace is buurt's and ready.
	WaitingForNamespaceReason = "WaitingForNamespace"

	// DatabaseNotRequestedReason: the team's database class is None.
	DatabaseNotRequestedReason = "DatabaseNotRequested"

	// DatabaseClassMismatchReason: the blueprint now names another database
	// class than the one the team's database was made with; buurt does not
	// move data.
	DatabaseClassMismatchReason = "DatabaseClassMismatch"

	// DatabaseUnavailableReason: the database server refused an operation.
	DatabaseUnavailableReason = "DatabaseUnavailable"

	// AdminSecretMissingReason: the shared server's admin Secret does not
	// exist in the operator's namespace.
	AdminSecretMissingReason = "AdminSecretMissing"

	// AdminSecretInvalidReason: the shared server's admin Secret lacks a key.
	AdminSecretInvalidReason = "AdminSecretInvalid"

	// ServerUnreachableReason: the shared database server does not answer.
	ServerUnreachableReason = "ServerUnreachable"

	// AuthenticationFailedReason: the shared server refused the admin
	// Secret's user or password.
	AuthenticationFailedReason = "AuthenticationFailed"

	// DatabaseConflictReason: a role or database of the team's database
	// name exists on the shared server and buurt did not make it for this
	// team; buurt never takes one over.
	DatabaseConflictReason = "DatabaseConflict"

	// PublicCanConnectReason: every role on the shared server, every
	// team's included, may connect to a maintenance database; the message
	// names them and the SQL that fixes it.
	PublicCanConnectReason = "PublicCanConnect"

	// PublicConnectRevokedReason: only roles granted CONNECT may connect to
	// the shared server's maintenance databases.
	PublicConnectRevokedReason = "PublicConnectRevoked"

	// ProvisionedReason: the team's database and its Secret exist.
	ProvisionedReason = "Provisioned"

	// NoDatabaseEgressReason: the team's Shared database, its role and its
	// Secret exist, but the blueprint does not say where the server is
	// (spec.database.shared.egress), so the team's default-deny
	// NetworkPolicies keep its pods from the server. A Dedicated database
	// runs in the team's namespace, which the team's own policy opens, and
	// never has this reason.
	NoDatabaseEgressReason = "NoDatabaseEgress"

	// RetainedReason: the team is being deleted and its database is kept
	// under reclaimPolicy Retain.
	RetainedReason = "Retained"

	// DatabaseDeletedReason: the team is being deleted and so is its
	// database, under reclaimPolicy Delete. Used on Events.
	DatabaseDeletedReason = "DatabaseDeleted"

	// ImageNotAllowedReason: an app's image is not under the blueprint's
	// allowedRegistries, so the app is not deployed.
	ImageNotAllowedReason = "ImageNotAllowed"

	// AppNameConflictReason: a team app has the name of a blueprint app.
	AppNameConflictReason = "AppNameConflict"

	// AppNeedsDatabaseReason: an app asks for the database and the team has
	// none (class None), so the app is not deployed.
	AppNeedsDatabaseReason = "AppNeedsDatabase"

	// AppsAvailableReason: every app has all its replicas available.
	AppsAvailableReason = "AppsAvailable"

	// AppsUnavailableReason: some app has fewer available replicas than it
	// wants, or is rolling out.
	AppsUnavailableReason = "AppsUnavailable"

	// NoAppsReason: the team runs no apps.
	NoAppsReason = "NoApps"

	// DormantReason: the team is Dormant; its apps are scaled to zero.
	DormantReason = "Dormant"

	// PausedForCopyReason: the team's workloads are stopped for a moment
	// while a TeamSplit copies its database for the new team.
	PausedForCopyReason = "PausedForCopy"

	// AwaitingCopyReason: the team's database role and Secret exist, and
	// its database is to be a copy of another team's, which a TeamSplit
	// makes; buurt does not make it empty meanwhile.
	AwaitingCopyReason = "AwaitingCopy"

	// ArchivedReason: the team is Archived; what the condition covers is
	// kept, stopped or closed until a platform engineer brings it back.
	ArchivedReason = "Archived"

	// UnarchivedReason: the team came back from Archived (an Event).
	UnarchivedReason = "Unarchived"

	// FellAsleepReason: the team's workloads were stopped for Dormant or
	// Archived (an Event).
	FellAsleepReason = "FellAsleep"

	// WokeUpReason: the team's workloads were brought back as they were
	// (an Event).
	WokeUpReason = "WokeUp"

	// NoCoachReason: the team has not chosen a coach.
	NoCoachReason = "NoCoach"

	// CoachNotFoundReason: the team's chosen coach does not exist.
	CoachNotFoundReason = "CoachNotFound"

	// CoachAtCapacityReason: the team's chosen coach supports maxTeams other
	// teams that chose them earlier.
	CoachAtCapacityReason = "CoachAtCapacity"

	// SelfServiceChangeReason: a member changed their own team. Used on the
	// audit Event, which names who changed which fields.
	SelfServiceChangeReason = "SelfServiceChange"

	// MemberAddedReason: members were given access to the team. Used on
	// Events.
	MemberAddedReason = "MemberAdded"

	// MemberRemovedReason: members left the team and lost their access.
	// Used on Events.
	MemberRemovedReason = "MemberRemoved"

	// CredentialsRotatedReason: the team's database password was made anew.
	// Used on Events, which say why and never the password.
	CredentialsRotatedReason = "CredentialsRotated"

	// RotationFailedReason: buurt could not make the team's database
	// password anew; the old one keeps working and buurt tries again.
	RotationFailedReason = "RotationFailed"

	// TeamAcceptedReason: a coach now supports a team. Used on Events.
	TeamAcceptedReason = "TeamAccepted"

	// TeamReleasedReason: a coach no longer supports a team. Used on Events.
	TeamReleasedReason = "TeamReleased"

	// CoachAcceptedReason: the chosen coach supports the team.
	CoachAcceptedReason = "CoachAccepted"

	// TooManyMembersReason: the team lists more members than its blueprint's
	// maxMembers.
	TooManyMembersReason = "TooManyMembers"

	// WithinLimitReason: the team's size is within its blueprint's limit.
	WithinLimitReason = "WithinLimit"

	// HasCapacityReason: the coach can accept more teams.
	HasCapacityReason = "HasCapacity"

	// CapacityReachedReason: the coach supports maxTeams teams.
	CapacityReachedReason = "CapacityReached"

	// PoliciesMissingReason: some of buurt's admission policies or their
	// bindings are not installed (or the cluster does not serve
	// ValidatingAdmissionPolicies); the message names them.
	PoliciesMissingReason = "PoliciesMissing"
)
