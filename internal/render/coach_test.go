package render_test

import (
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

func TestCoachTeamsClusterRole(t *testing.T) {
	coach := &teamsv1alpha1.Coach{ObjectMeta: metav1.ObjectMeta{Name: "jan", UID: "0b7e5c1d-3a52-4f0e-8f55-5d2b1c9e7a10"}}
	ownCoach := rbacv1.PolicyRule{APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"coaches"}, ResourceNames: []string{"jan"}, Verbs: []string{"get"}}
	for _, tc := range []struct {
		name  string
		teams []string
		want  []rbacv1.PolicyRule
	}{
		// A rule without names would grant every team.
		{"no teams: only their own Coach", nil, []rbacv1.PolicyRule{ownCoach}},
		{"their own Coach and their teams by name", []string{"north", "south"}, []rbacv1.PolicyRule{ownCoach, {
			APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"neighbourhoodteams"}, ResourceNames: []string{"north", "south"}, Verbs: []string{"get"},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(typed[rbacv1.ClusterRole](g, render.CoachTeamsClusterRole(coach, tc.teams))).To(Equal(rbacv1.ClusterRole{
				TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
				ObjectMeta: metav1.ObjectMeta{
					Name:   "buurt:coach:jan",
					Labels: map[string]string{"teams.buurt.dev/coach": "jan", "app.kubernetes.io/managed-by": "buurt"},
					OwnerReferences: []metav1.OwnerReference{{
						APIVersion: "teams.buurt.dev/v1alpha1", Kind: "Coach", Name: "jan", UID: "0b7e5c1d-3a52-4f0e-8f55-5d2b1c9e7a10",
						Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
					}},
				},
				Rules: tc.want,
			}))
		})
	}
}
