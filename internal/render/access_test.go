package render_test

import (
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

func TestMembersRoleBinding(t *testing.T) {
	g := NewWithT(t)
	bp := blueprint()
	bp.Spec.MemberRole = "care-team-member"
	got := typed[rbacv1.RoleBinding](g, render.MembersRoleBinding(team(user("anna@care.example.org"), group("north-riverside-nurses")), bp.Spec.MemberRole))
	g.Expect(got).To(Equal(rbacv1.RoleBinding{
		TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "buurt:members", Namespace: "team-north-riverside", Labels: wantLabels, OwnerReferences: wantOwner,
		},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "care-team-member"},
		Subjects: wantSubjects,
	}))
}

// TestMemberRoleArchived: an archived team's members have the blueprint's
// coachRole (read-only) and may only read their team object.
func TestMemberRoleArchived(t *testing.T) {
	g := NewWithT(t)
	bp := blueprint()
	bp.Spec.MemberRole, bp.Spec.CoachRole = "care-team-member", "care-coach"
	tm := team(user("anna@care.example.org"))
	role, use := render.MemberRole(tm, bp)
	g.Expect([]string{role, use}).To(Equal([]string{"care-team-member", "member"}))
	tm.Spec.Lifecycle = teamsv1alpha1.LifecycleArchived
	role, use = render.MemberRole(tm, bp)
	g.Expect([]string{role, use}).To(Equal([]string{"care-coach", "coach"}))
	got := typed[rbacv1.ClusterRole](g, render.SelfServiceClusterRole(tm))
	g.Expect(got.Rules[0]).To(Equal(rbacv1.PolicyRule{
		APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"neighbourhoodteams"},
		ResourceNames: []string{"north-riverside"}, Verbs: []string{"get"},
	}))
}

func TestSelfService(t *testing.T) {
	own := rbacv1.PolicyRule{
		APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"neighbourhoodteams"},
		ResourceNames: []string{"north-riverside"}, Verbs: []string{"get", "update", "patch"},
	}
	blueprintRule := func(name string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"teamblueprints"}, ResourceNames: []string{name}, Verbs: []string{"get"}}
	}
	meta := metav1.ObjectMeta{Name: "buurt:team:north-riverside", Labels: wantLabels, OwnerReferences: wantOwner}
	for _, tc := range []struct {
		name, blueprint, coach string
		want                   []rbacv1.PolicyRule
	}{
		{"no coach: no coach to read", "default", "", []rbacv1.PolicyRule{own, blueprintRule("default")}},
		{"the team's blueprint and coach", "care", "jan", []rbacv1.PolicyRule{own, blueprintRule("care"), {
			APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"coaches"}, ResourceNames: []string{"jan"}, Verbs: []string{"get"},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			tm := team(user("anna@care.example.org"), group("north-riverside-nurses"))
			tm.Spec.Blueprint, tm.Spec.Coach = tc.blueprint, tc.coach
			g.Expect(typed[rbacv1.ClusterRole](g, render.SelfServiceClusterRole(tm))).To(Equal(rbacv1.ClusterRole{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
				ObjectMeta: meta,
				Rules:      tc.want,
			}))
			g.Expect(typed[rbacv1.ClusterRoleBinding](g, render.SelfServiceClusterRoleBinding(tm))).To(Equal(rbacv1.ClusterRoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
				ObjectMeta: meta,
				RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "buurt:team:north-riverside"},
				Subjects:   wantSubjects,
			}))
		})
	}
}

func TestOperatorRoleBinding(t *testing.T) {
	for _, tc := range []struct {
		name    string
		subject rbacv1.Subject
	}{
		{"the operator's ServiceAccount", rbacv1.Subject{Kind: "ServiceAccount", Namespace: "buurt-system", Name: "buurt-controller-manager"}},
		{"the user of a kubeconfig", rbacv1.Subject{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "dev"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			got := typed[rbacv1.RoleBinding](g, render.OperatorRoleBinding(team(user("anna@care.example.org")), tc.subject))
			g.Expect(got).To(Equal(rbacv1.RoleBinding{
				TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{
					Name: "buurt:operator", Namespace: "team-north-riverside", Labels: wantLabels, OwnerReferences: wantOwner,
				},
				RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "buurt:operator-in-team"},
				Subjects: []rbacv1.Subject{tc.subject},
			}))
		})
	}
}
