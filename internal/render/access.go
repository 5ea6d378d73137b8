package render

import (
	rbacv1 "k8s.io/api/rbac/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// MembersRoleBindingName is the RoleBinding that gives a team's members the
// blueprint's member role in their namespace.
const MembersRoleBindingName = "buurt:members"

// SelfServiceName is the name of a team's self-service ClusterRole and
// ClusterRoleBinding.
func SelfServiceName(team *teamsv1alpha1.NeighbourhoodTeam) string {
	return "buurt:team:" + team.Name
}

// MembersRoleBinding binds the team's members to the blueprint's member role
// inside the team's namespace.
func MembersRoleBinding(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) *rbacv1ac.RoleBindingApplyConfiguration {
	return rbacv1ac.RoleBinding(MembersRoleBindingName, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithRoleRef(clusterRoleRef(blueprint.Spec.MemberRole)).
		WithSubjects(subjects(team.Spec.Members)...)
}

// SelfServiceClusterRole lets a team's members read and edit their own
// NeighbourhoodTeam and no other; admission keeps their edits inside the
// blueprint's guardrails.
func SelfServiceClusterRole(team *teamsv1alpha1.NeighbourhoodTeam) *rbacv1ac.ClusterRoleApplyConfiguration {
	return rbacv1ac.ClusterRole(SelfServiceName(team)).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithRules(rbacv1ac.PolicyRule().
			WithAPIGroups(teamsv1alpha1.GroupVersion.Group).
			WithResources("neighbourhoodteams").
			WithResourceNames(team.Name).
			WithVerbs("get", "update", "patch"))
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
