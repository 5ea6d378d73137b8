package render

import (
	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// MembersRoleBindingName is the RoleBinding that gives a team's members the
// blueprint's member role in their namespace.
const MembersRoleBindingName = "buurt:members"

// OperatorRoleName is the ClusterRole the operator binds itself to in each
// team namespace (config/rbac/operator_team_role.yaml): the team's Secrets,
// which its ClusterRole does not grant anywhere.
const OperatorRoleName = "buurt:operator-in-team"

// OperatorRoleBindingName is the RoleBinding that binds the operator to
// OperatorRoleName in a team namespace.
const OperatorRoleBindingName = "buurt:operator"

// SelfServiceName is the name of a team's self-service ClusterRole and
// ClusterRoleBinding.
func SelfServiceName(team *teamsv1alpha1.NeighbourhoodTeam) string {
	return "buurt:team:" + team.Name
}

// MembersRoleBinding binds the team's members to role (MemberRole) inside
// the team's namespace.
func MembersRoleBinding(team *teamsv1alpha1.NeighbourhoodTeam, role string) *rbacv1ac.RoleBindingApplyConfiguration {
	return rbacv1ac.RoleBinding(MembersRoleBindingName, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithRoleRef(clusterRoleRef(role)).
		WithSubjects(subjects(team.Spec.Members)...)
}

// MemberRole is the ClusterRole a team's members have in its namespace, and
// the label it must carry: the blueprint's memberRole, or its coachRole
// (read-only) while the team is Archived, so that members can still see
// what the team kept and change nothing.
func MemberRole(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) (role, fitFor string) {
	if team.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived {
		return blueprint.Spec.CoachRole, teamsv1alpha1.TeamRoleCoach
	}
	return blueprint.Spec.MemberRole, teamsv1alpha1.TeamRoleMember
}

// SelfServiceClusterRole lets a team's members read and edit (only read,
// while it is Archived) their own NeighbourhoodTeam and no other (admission
// keeps their edits inside the blueprint's guardrails), and read the
// TeamBlueprint and the Coach it names, so they can see what their workspace
// is made of and who supports them. The names follow the team's spec: a new
// blueprint or coach takes the place of the old in the next reconcile.
func SelfServiceClusterRole(team *teamsv1alpha1.NeighbourhoodTeam) *rbacv1ac.ClusterRoleApplyConfiguration {
	verbs := []string{"get", "update", "patch"}
	if team.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived {
		// An archived team is a platform engineer's to bring back.
		verbs = []string{"get"}
	}
	rules := []*rbacv1ac.PolicyRuleApplyConfiguration{
		namedRule("neighbourhoodteams", verbs, team.Name),
		namedRule("teamblueprints", []string{"get"}, team.Spec.Blueprint),
	}
	// A rule with no name would cover every coach.
	if team.Spec.Coach != "" {
		rules = append(rules, namedRule("coaches", []string{"get"}, team.Spec.Coach))
	}
	return rbacv1ac.ClusterRole(SelfServiceName(team)).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithRules(rules...)
}

// namedRule grants verbs on the objects of one of buurt's resources by name.
// names must not be empty: a rule without names covers every object.
func namedRule(resource string, verbs []string, names ...string) *rbacv1ac.PolicyRuleApplyConfiguration {
	return rbacv1ac.PolicyRule().
		WithAPIGroups(teamsv1alpha1.GroupVersion.Group).
		WithResources(resource).
		WithResourceNames(names...).
		WithVerbs(verbs...)
}

// SelfServiceClusterRoleBinding binds the team's members to its self-service
// ClusterRole.
func SelfServiceClusterRoleBinding(team *teamsv1alpha1.NeighbourhoodTeam) *rbacv1ac.ClusterRoleBindingApplyConfiguration {
	return rbacv1ac.ClusterRoleBinding(SelfServiceName(team)).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithRoleRef(clusterRoleRef(SelfServiceName(team))).
		WithSubjects(subjects(team.Spec.Members)...)
}

// OperatorRoleBinding binds the operator, as subject, to OperatorRoleName in
// the team's namespace.
func OperatorRoleBinding(team *teamsv1alpha1.NeighbourhoodTeam, subject rbacv1.Subject) *rbacv1ac.RoleBindingApplyConfiguration {
	s := rbacv1ac.Subject().WithKind(subject.Kind).WithName(subject.Name)
	if subject.APIGroup != "" {
		s.WithAPIGroup(subject.APIGroup)
	}
	if subject.Namespace != "" {
		s.WithNamespace(subject.Namespace)
	}
	return rbacv1ac.RoleBinding(OperatorRoleBindingName, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithRoleRef(clusterRoleRef(OperatorRoleName)).
		WithSubjects(s)
}

func clusterRoleRef(name string) *rbacv1ac.RoleRefApplyConfiguration {
	return rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(name)
}

// subjects are RBAC subjects for a team's members, in the team's order.
func subjects(members []teamsv1alpha1.Subject) []*rbacv1ac.SubjectApplyConfiguration {
	out := make([]*rbacv1ac.SubjectApplyConfiguration, 0, len(members))
	for _, m := range members {
		kind := rbacv1.UserKind
		if m.Kind == teamsv1alpha1.SubjectKindGroup {
			kind = rbacv1.GroupKind
		}
		out = append(out, rbacv1ac.Subject().WithKind(kind).WithAPIGroup(rbacv1.GroupName).WithName(m.Name))
	}
	return out
}
