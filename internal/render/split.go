package render

import (
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// SplitAccessName names the ClusterRole and ClusterRoleBinding that let
// the source team's members read and approve their split.
func SplitAccessName(s *teamsv1alpha1.TeamSplit) string {
	return "buurt:split:" + s.Name
}

// SplitLabels mark the objects buurt makes for a split.
func SplitLabels(s *teamsv1alpha1.TeamSplit) map[string]string {
	return map[string]string{
		teamsv1alpha1.SplitLabel:     s.Name,
		teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue,
	}
}

// SplitAccessClusterRole lets whoever it is bound to read the split (its
// plan), watch it and change it (approve it), by name, and nothing else:
// RBAC cannot give a cluster-scoped object to the team it names.
func SplitAccessClusterRole(s *teamsv1alpha1.TeamSplit) *rbacv1ac.ClusterRoleApplyConfiguration {
	return rbacv1ac.ClusterRole(SplitAccessName(s)).
		WithLabels(SplitLabels(s)).
		WithOwnerReferences(controllerReference("TeamSplit", s.Name, s.UID)).
		WithRules(namedRule("teamsplits", []string{"get", "watch", "update", "patch"}, s.Name))
}

// SplitAccessClusterRoleBinding binds the source team's members to
// SplitAccessClusterRole; it goes with the split.
func SplitAccessClusterRoleBinding(s *teamsv1alpha1.TeamSplit, members []teamsv1alpha1.Subject) *rbacv1ac.ClusterRoleBindingApplyConfiguration {
	return rbacv1ac.ClusterRoleBinding(SplitAccessName(s)).
		WithLabels(SplitLabels(s)).
		WithOwnerReferences(controllerReference("TeamSplit", s.Name, s.UID)).
		WithRoleRef(clusterRoleRef(SplitAccessName(s))).
		WithSubjects(subjects(members)...)
}
