package team_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// TestMemberAccess asks the apiserver's authorizer what a member may do, so
// the shipped roles and the bindings are proved together.
func TestMemberAccess(t *testing.T) {
	create(t, designBlueprint("access"))
	create(t, newTeam("access", "access", user("anna@care.example.org"), group("access-nurses")))
	create(t, newTeam("access-other", "access", user("someone-else")))
	eventuallyCondition(t, "access", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	eventuallyCondition(t, "access-other", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)

	cases := []struct {
		verb, group, resource, namespace, name string
		allowed                                bool
	}{
		{"create", "apps", "deployments", "team-access", "", true},
		{"delete", "", "pods", "team-access", "", true},
		{"get", "", "secrets", "team-access", "", true},
		{"create", "networking.k8s.io", "ingresses", "team-access", "", true},
		{"get", "", "resourcequotas", "team-access", "", true},
		{"update", "", "resourcequotas", "team-access", "buurt-quota", false},
		{"delete", "", "limitranges", "team-access", "buurt-limits", false},
		{"delete", "networking.k8s.io", "networkpolicies", "team-access", "buurt-default-deny", false},
		{"create", "rbac.authorization.k8s.io", "rolebindings", "team-access", "", false},
		{"create", "apps", "deployments", "team-access-other", "", false},
		{"create", "apps", "deployments", "default", "", false},
		{"patch", "teams.buurt.dev", "neighbourhoodteams", "", "access", true},
		{"update", "teams.buurt.dev", "neighbourhoodteams", "", "access", true},
		{"patch", "teams.buurt.dev", "neighbourhoodteams", "", "access-other", false},
		{"delete", "teams.buurt.dev", "neighbourhoodteams", "", "access", false},
		{"create", "teams.buurt.dev", "neighbourhoodteams", "", "", false},
	}
	for _, who := range []struct {
		name   string
		user   string
		groups []string
	}{
		{"user member", "anna@care.example.org", nil},
		{"group member", "bram@care.example.org", []string{"access-nurses"}},
	} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s %s %s/%s %s", who.name, tc.verb, tc.resource, tc.name, tc.namespace), func(t *testing.T) {
				g := NewWithT(t)
				review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
					User: who.user, Groups: append([]string{"system:authenticated"}, who.groups...),
					ResourceAttributes: &authorizationv1.ResourceAttributes{
						Verb: tc.verb, Group: tc.group, Resource: tc.resource, Namespace: tc.namespace, Name: tc.name,
					},
				}}
				g.Eventually(func(g Gomega) {
					g.Expect(env.Client.Create(context.Background(), review)).To(Succeed())
					g.Expect(review.Status.Allowed).To(Equal(tc.allowed), review.Status.Reason)
				}).WithTimeout(timeout).Should(Succeed())
			})
		}
	}
}
