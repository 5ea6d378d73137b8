package render

import (
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// CoachLabels are on everything made for a coach; the coach's access is
// pruned by them.
func CoachLabels(coach *teamsv1alpha1.Coach) map[string]string {
	return map[string]string{
		teamsv1alpha1.CoachLabel:     coach.Name,
		teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue,
	}
}

// coachOwnerReference makes the coach the controller of its access, so it is
// garbage collected with the coach.
func coachOwnerReference(coach *teamsv1alpha1.Coach) *metav1ac.OwnerReferenceApplyConfiguration {
	return controllerReference("Coach", coach.Name, coach.UID)
}

// CoachRoleBindingName is the name of a coach's RoleBinding in a team
// namespace: one per coach, so a team moving between coaches never has two
// controllers fight over one binding.
func CoachRoleBindingName(coach *teamsv1alpha1.Coach) string {
	return "buurt:coach:" + coach.Name
}

// CoachRoleBinding binds the coach to the blueprint's coachRole in the team's
// namespace.
func CoachRoleBinding(coach *teamsv1alpha1.Coach, team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) *rbacv1ac.RoleBindingApplyConfiguration {
	labels := CoachLabels(coach)
	labels[teamsv1alpha1.TeamLabel] = team.Name
	return rbacv1ac.RoleBinding(CoachRoleBindingName(coach), team.NamespaceName()).
		WithLabels(labels).
		WithOwnerReferences(coachOwnerReference(coach)).
		WithRoleRef(clusterRoleRef(blueprint.Spec.CoachRole)).
		WithSubjects(subjects([]teamsv1alpha1.Subject{coach.Spec.Subject})...)
}

// CoachTeamsName names the ClusterRole and ClusterRoleBinding that let a
// coach read their own Coach and their teams' NeighbourhoodTeams.
func CoachTeamsName(coach *teamsv1alpha1.Coach) string {
	return "buurt:coach:" + coach.Name
}

// CoachTeamsClusterRole lets a coach get their own Coach, whose status lists
// the teams they support (RBAC cannot filter a list, so that is how a coach
// finds their teams), and the NeighbourhoodTeams they support, by name, and
// nothing else.
func CoachTeamsClusterRole(coach *teamsv1alpha1.Coach, teams []string) *rbacv1ac.ClusterRoleApplyConfiguration {
	rules := []*rbacv1ac.PolicyRuleApplyConfiguration{namedRule("coaches", []string{"get"}, coach.Name)}
	// A rule with no names would cover every team.
	if len(teams) > 0 {
		rules = append(rules, namedRule("neighbourhoodteams", []string{"get"}, teams...))
	}
	return rbacv1ac.ClusterRole(CoachTeamsName(coach)).
		WithLabels(CoachLabels(coach)).
		WithOwnerReferences(coachOwnerReference(coach)).
		WithRules(rules...)
}

// CoachTeamsClusterRoleBinding binds the coach to CoachTeamsClusterRole.
func CoachTeamsClusterRoleBinding(coach *teamsv1alpha1.Coach) *rbacv1ac.ClusterRoleBindingApplyConfiguration {
	return rbacv1ac.ClusterRoleBinding(CoachTeamsName(coach)).
		WithLabels(CoachLabels(coach)).
		WithOwnerReferences(coachOwnerReference(coach)).
		WithRoleRef(clusterRoleRef(CoachTeamsName(coach))).
		WithSubjects(subjects([]teamsv1alpha1.Subject{coach.Spec.Subject})...)
}
