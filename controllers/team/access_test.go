package team_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// TestMemberAccess asks the apiserver's authorizer what a member may do, so
// the shipped roles and the bindings are proved together.
func TestMemberAccess(t *testing.T) {
	create(t, designBlueprint("access"))
	mine := newTeam("access", "access", user("anna@care.example.org"), group("access-nurses"))
	mine.Spec.Coach = "access-coach"
	create(t, mine)
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
		{"list", "teams.buurt.dev", "neighbourhoodteams", "", "", false},
		// Their blueprint and their coach, to read and no more.
		{"get", "teams.buurt.dev", "teamblueprints", "", "access", true},
		{"update", "teams.buurt.dev", "teamblueprints", "", "access", false},
		{"get", "teams.buurt.dev", "teamblueprints", "", "default", false},
		{"list", "teams.buurt.dev", "teamblueprints", "", "", false},
		{"get", "teams.buurt.dev", "coaches", "", "access-coach", true},
		{"patch", "teams.buurt.dev", "coaches", "", "access-coach", false},
		{"get", "teams.buurt.dev", "coaches", "", "jan", false},
		{"list", "teams.buurt.dev", "coaches", "", "", false},
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

// TestRoleNotAllowed: buurt binds members only to a ClusterRole labelled fit
// for members, whatever the blueprint says, and removes the binding it made
// when the blueprint names one that is not.
func TestRoleNotAllowed(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := designBlueprint("role-check")
	create(t, bp)
	create(t, newTeam("role-check", "role-check", user("anna")))
	eventuallyCondition(t, "role-check", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	key := client.ObjectKey{Namespace: "team-role-check", Name: "buurt:members"}
	g.Expect(env.Client.Get(ctx, key, &rbacv1.RoleBinding{})).To(Succeed())

	// The operator's own role, say, named by a blueprint written before
	// admission checked the label (or by someone past admission).
	edit(t, bp, func() { bp.Spec.MemberRole = "buurt-manager" })
	tm := eventuallyCondition(t, "role-check", teamsv1alpha1.AccessReadyCondition, metav1.ConditionFalse, teamsv1alpha1.RoleNotAllowedReason)
	g.Expect(cond(tm, teamsv1alpha1.AccessReadyCondition).Message).To(Equal("The members have no access to the namespace: " +
		"ClusterRole buurt-manager is not labelled teams.buurt.dev/team-role=member (or does not exist), " +
		"which marks a role fit for teams: label the ClusterRole so, or name one that is"))
	g.Expect(apierrors.IsNotFound(env.Client.Get(ctx, key, &rbacv1.RoleBinding{}))).To(BeTrue(), "the binding was removed")
	// The self-service role is not the member role's: it stays.
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "buurt:team:role-check"}, &rbacv1.ClusterRole{})).To(Succeed())

	// A role that does not exist is no better.
	edit(t, bp, func() { bp.Spec.MemberRole = "no-such-role" })
	g.Eventually(func(g Gomega) metav1.Condition {
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "role-check"}, tm)).To(Succeed())
		return cond(tm, teamsv1alpha1.AccessReadyCondition)
	}).WithTimeout(timeout).Should(HaveField("Message", Equal("The members have no access to the namespace: "+
		"ClusterRole no-such-role is not labelled teams.buurt.dev/team-role=member (or does not exist), "+
		"which marks a role fit for teams: label the ClusterRole so, or name one that is")))

	// Back to a labelled role: the members get their binding again.
	edit(t, bp, func() { bp.Spec.MemberRole = "buurt:team-member" })
	eventuallyCondition(t, "role-check", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	binding := &rbacv1.RoleBinding{}
	g.Expect(env.Client.Get(ctx, key, binding)).To(Succeed())
	g.Expect(binding.RoleRef.Name).To(Equal("buurt:team-member"))
}

// The self-service role names the team's blueprint and coach as the spec
// has them now: a move takes the old one's away in the same pass, and a team
// without a coach reads no coach at all.
func TestSelfServiceFollowsBlueprintAndCoach(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, designBlueprint("follow-a"))
	create(t, designBlueprint("follow-b"))
	tm := newTeam("follow", "follow-a", user("anna"))
	tm.Spec.Coach = "jan"
	create(t, tm)
	rule := func(resource, name string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{"teams.buurt.dev"}, Resources: []string{resource}, ResourceNames: []string{name}, Verbs: verbs}
	}
	own := rule("neighbourhoodteams", "follow", "get", "update", "patch")
	rules := func(g Gomega) []rbacv1.PolicyRule {
		role := &rbacv1.ClusterRole{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "buurt:team:follow"}, role)).To(Succeed())
		return role.Rules
	}
	g.Eventually(rules).WithTimeout(timeout).Should(Equal([]rbacv1.PolicyRule{
		own, rule("teamblueprints", "follow-a", "get"), rule("coaches", "jan", "get"),
	}))

	edit(t, tm, func() { tm.Spec.Blueprint, tm.Spec.Coach = "follow-b", "els" })
	g.Eventually(rules).WithTimeout(timeout).Should(Equal([]rbacv1.PolicyRule{
		own, rule("teamblueprints", "follow-b", "get"), rule("coaches", "els", "get"),
	}))

	edit(t, tm, func() { tm.Spec.Coach = "" })
	g.Eventually(rules).WithTimeout(timeout).Should(Equal([]rbacv1.PolicyRule{own, rule("teamblueprints", "follow-b", "get")}))
}
