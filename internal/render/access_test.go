package render_test

import (
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/buurt-dev/buurt/internal/render"
)

func TestMembersRoleBinding(t *testing.T) {
	g := NewWithT(t)
	bp := blueprint()
	bp.Spec.MemberRole = "care-team-member"
	got := typed[rbacv1.RoleBinding](g, render.MembersRoleBinding(team(user("anna@care.example.org"), group("north-riverside-nurses")), bp))
	g.Expect(got).To(Equal(rbacv1.RoleBinding{
		TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "buurt:members", Namespace: "team-north-riverside", Labels: wantLabels, OwnerReferences: wantOwner,
		},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "care-team-member"},
		Subjects: wantSubjects,
	}))
}

func TestSelfService(t *testing.T) {
	g := NewWithT(t)
	tm := team(user("anna@care.example.org"), group("north-riverside-nurses"))
	meta := metav1.ObjectMeta{Name: "buurt:team:north-riverside", Labels: wantLabels, OwnerReferences: wantOwner}

	g.Expect(typed[rbacv1.ClusterRole](g, render.SelfServiceClusterRole(tm))).To(Equal(rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: meta,
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"neighbourhoodteams"},
			ResourceNames: []string{"north-riverside"}, Verbs: []string{"get", "update", "patch"},
		}},
	}))
	g.Expect(typed[rbacv1.ClusterRoleBinding](g, render.SelfServiceClusterRoleBinding(tm))).To(Equal(rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: meta,
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "buurt:team:north-riverside"},
		Subjects:   wantSubjects,
	}))
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
