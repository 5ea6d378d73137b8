package v1alpha1

// Labels buurt puts on what it makes. They are part of the API: select on them
// to find a team's objects.
const (
	// TeamLabel names the team an object belongs to.
	TeamLabel = "teams.buurt.dev/team"

	// CoachLabel names the coach an object gives access to.
	CoachLabel = "teams.buurt.dev/coach"

	// NeighbourhoodLabel is the neighbourhood of the team a namespace
	// belongs to.
	NeighbourhoodLabel = "teams.buurt.dev/neighbourhood"

	// ManagedByLabel is the standard label for the tool that manages an
	// object; buurt's caches see only objects where it is ManagedByValue.
	ManagedByLabel = "app.kubernetes.io/managed-by"

	// ManagedByValue is ManagedByLabel's value on everything buurt makes.
	ManagedByValue = "buurt"

	// ComponentLabel says what an object is part of: a team's app
	// (ComponentApp) or its Dedicated database (ComponentDatabase). The
	// database takes connections from its own namespace only, never from the
	// ingress controller.
	ComponentLabel = "teams.buurt.dev/component"

	// ComponentDatabase is ComponentLabel's value on a Dedicated database.
	ComponentDatabase = "database"

	// ComponentApp is ComponentLabel's value on a team app's Deployment,
	// pods, Service and Ingress.
	ComponentApp = "app"

	// OriginalReclaimPolicyAnnotation is set on a PersistentVolume whose
	// reclaim policy buurt switched to Retain to keep a team's data; it holds
	// the policy from before, which buurt restores if the team's reclaim
	// policy becomes Delete.
	OriginalReclaimPolicyAnnotation = "teams.buurt.dev/original-reclaim-policy"

	// SplitLabel on a NeighbourhoodTeam names the TeamSplit that made it:
	// a split recognises its own new team (and a crashed split its half
	// made work) by it, and never takes another team of that name.
	SplitLabel = "teams.buurt.dev/split"

	// ReconcileRequestAnnotation on a NeighbourhoodTeam asks buurt to look
	// at the whole team again now, its database on the shared server too,
	// rather than trust what it found before; any new value (a time, by
	// convention) asks once, and status.lastHandledReconcileAt says when
	// it was handled. Members may set it (Flux's reconcile.fluxcd.io/
	// requestedAt works the same way).
	ReconcileRequestAnnotation = "teams.buurt.dev/reconcile-requested-at"

	// SleepAnnotation is on the namespace of a team whose workloads buurt
	// stopped (SleepStopping while it stops them, SleepStopped once all
	// are); it goes once they are back. It is how a pass knows there is
	// something to bring back, also after a restart.
	SleepAnnotation = "teams.buurt.dev/sleep"

	// SleepStopping is SleepAnnotation's value while buurt stops a team's
	// workloads.
	SleepStopping = "Stopping"

	// SleepStopped is SleepAnnotation's value once every workload of the
	// team is stopped.
	SleepStopped = "Stopped"

	// AwakeReplicasAnnotation is on a Deployment or StatefulSet that buurt
	// scaled to zero for a sleeping or archived team: the replicas it had,
	// which it gets back when the team wakes.
	AwakeReplicasAnnotation = "teams.buurt.dev/awake-replicas"

	// AwakeSuspendAnnotation is on a CronJob that buurt suspended for a
	// sleeping or archived team: its spec.suspend from before ("true" or
	// "false"), which it gets back when the team wakes.
	AwakeSuspendAnnotation = "teams.buurt.dev/awake-suspend"

	// TeamRoleLabel marks a ClusterRole fit to be a blueprint's memberRole
	// (TeamRoleMember) or coachRole (TeamRoleCoach). Only a labelled role is
	// admitted in a blueprint and bound by buurt: an allow-list, so that no
	// role the operator holds for itself can be handed to a team.
	TeamRoleLabel = "teams.buurt.dev/team-role"

	// TeamRoleMember is TeamRoleLabel's value on a ClusterRole fit for a
	// team's members.
	TeamRoleMember = "member"

	// TeamRoleCoach is TeamRoleLabel's value on a ClusterRole fit for a
	// team's coach.
	TeamRoleCoach = "coach"

	// QuotaMembersAnnotation is set on a NeighbourhoodTeam by buurt's
	// MutatingAdmissionPolicy (config/policies/team-quota.yaml): the number
	// of member entries a platform engineer last set. The per-member quota
	// counts at most that many, so members cannot buy quota with names they
	// add themselves. A team without it (from before the policy) counts
	// every member entry.
	QuotaMembersAnnotation = "teams.buurt.dev/quota-members"

	// AllowedRegistriesAnnotation on a team namespace holds its blueprint's
	// allowedRegistries, comma-separated; absent when any registry is
	// allowed. buurt's admission policies read it (and the two below) from
	// the namespace, so the blueprint's rules reach them without an object
	// per team; members cannot write namespaces.
	AllowedRegistriesAnnotation = "teams.buurt.dev/allowed-registries"

	// IngressDomainAnnotation on a team namespace is the domain its Ingress
	// hosts must be under, <team>.<blueprint's ingress domain>; absent when
	// the blueprint names no ingress domain, and then no host is allowed.
	IngressDomainAnnotation = "teams.buurt.dev/ingress-domain"

	// ImagePullPolicyAnnotation on a team namespace is the pull policy every
	// container must have (Always); absent when any is allowed.
	ImagePullPolicyAnnotation = "teams.buurt.dev/image-pull-policy"
)
