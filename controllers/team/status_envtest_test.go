package team_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// warnings are the Warning Events recorded on a team, as reason: note.
func warnings(g Gomega, team string) []string {
	events := &eventsv1.EventList{}
	g.Expect(env.Client.List(context.Background(), events)).To(Succeed())
	out := []string{}
	for _, e := range events.Items {
		if e.Regarding.Kind == "NeighbourhoodTeam" && e.Regarding.Name == team && e.Type == corev1.EventTypeWarning {
			out = append(out, e.Reason+": "+e.Note)
		}
	}
	return out
}

// A phase that fails turns a Ready team not Ready in the same status write,
// with the failing condition's reason, and the phases after it still run.
func TestAPhaseErrorTurnsReadyFalse(t *testing.T) {
	g := NewWithT(t)
	bp := designBlueprint("forbidden")
	create(t, bp)
	create(t, newTeam("forbidden", "forbidden", user("anna")))
	eventuallyCondition(t, "forbidden", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)

	// buurt may bind only buurt:team-member and buurt:coach, and roles
	// whose permissions it holds itself: not this one.
	// It is labelled fit for members, so only RBAC stops buurt.
	create(t, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "test-pod-exec", Labels: map[string]string{
		teamsv1alpha1.TeamRoleLabel: teamsv1alpha1.TeamRoleMember,
	}}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create"},
	}}})
	edit(t, bp, func() { bp.Spec.MemberRole = "test-pod-exec" })
	tm := eventuallyCondition(t, "forbidden", teamsv1alpha1.AccessReadyCondition, metav1.ConditionFalse, teamsv1alpha1.AccessForbiddenReason)
	message := "buurt may not bind ClusterRole test-pod-exec: grant the operator's ServiceAccount the bind verb on it, or use buurt:team-member"
	g.Expect(cond(tm, teamsv1alpha1.AccessReadyCondition).Message).To(Equal(message))
	// Not eventually: the same write that says AccessReady=False says Ready=False.
	ready := cond(tm, teamsv1alpha1.ReadyCondition)
	g.Expect([]string{string(ready.Status), ready.Reason, ready.Message}).To(Equal([]string{"False", "AccessForbidden", "AccessReady: " + message}))
	g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseDegraded))
	// The other phases ran and say so; observedGeneration waits for a pass without errors.
	g.Expect(cond(tm, teamsv1alpha1.NetworkReadyCondition).Status).To(Equal(metav1.ConditionTrue))
	g.Expect(cond(tm, teamsv1alpha1.NetworkReadyCondition).ObservedGeneration).To(Equal(tm.Generation))
	g.Expect(tm.Status.ObservedGeneration).To(BeNumerically("<", tm.Generation+1))
	g.Eventually(func(g Gomega) []string { return warnings(g, "forbidden") }).WithTimeout(timeout).Should(ContainElement("AccessForbidden: " + message))

	// The members kept their access all along.
	binding := &rbacv1.RoleBinding{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: "team-forbidden", Name: "buurt:members"}, binding)).To(Succeed())
	g.Expect(binding.RoleRef.Name).To(Equal("buurt:team-member"))

	edit(t, bp, func() { bp.Spec.MemberRole = "buurt:team-member" })
	eventuallyCondition(t, "forbidden", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
}

// A quota the apiserver refuses (here an admission policy refuses it, as a
// cluster's own policy could) is a condition and an Event on the team, with
// the apiserver's words, and the team recovers when the cause goes.
func TestRefusedQuotaIsReported(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "test-refuse-quota"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"resourcequotas"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: "this cluster takes no quota here"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test-refuse-quota"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: []string{"team-refused", "refused-probe"},
				}},
			}},
		},
	}
	create(t, policy)
	create(t, binding)
	// The apiserver loads a new policy in a moment: wait until it refuses a
	// quota in a namespace it covers before the team is made.
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "refused-probe"}})
	g.Eventually(func() error {
		return env.Client.Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: "refused-probe", Name: "probe"}})
	}).WithTimeout(timeout).Should(MatchError(ContainSubstring("this cluster takes no quota here")))

	create(t, designBlueprint("refused"))
	create(t, newTeam("refused", "refused", user("anna")))
	tm := eventuallyCondition(t, "refused", teamsv1alpha1.QuotaReadyCondition, metav1.ConditionFalse, teamsv1alpha1.RejectedReason)
	message := "The apiserver refused it: resourcequotas \"buurt-quota\" is forbidden: " +
		"ValidatingAdmissionPolicy 'test-refuse-quota' with binding 'test-refuse-quota' denied request: this cluster takes no quota here"
	g.Expect(cond(tm, teamsv1alpha1.QuotaReadyCondition).Message).To(Equal(message))
	ready := cond(tm, teamsv1alpha1.ReadyCondition)
	g.Expect([]string{string(ready.Status), ready.Reason, ready.Message}).To(Equal([]string{"False", "Rejected", "QuotaReady: " + message}))
	g.Eventually(func(g Gomega) []string { return warnings(g, "refused") }).WithTimeout(timeout).Should(ContainElement("Rejected: " + message))

	g.Expect(env.Client.Delete(ctx, binding)).To(Succeed())
	eventuallyCondition(t, "refused", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
}

// What buurt cannot see it does not take away: while the shared server's
// admin Secret is missing, or the server does not answer, the team keeps its
// route to the server (the same NetworkPolicy object), its database Secret,
// and says why; it is Ready again once buurt can see.
func TestSoftFailuresKeepTheDatabaseRoute(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	admin := adminSecret("pg-admin-soft", pg.Password)
	create(t, admin)
	create(t, sharedBlueprint("soft", "pg-admin-soft"))
	create(t, newTeam("soft", "soft", user("anna")))
	eventuallyCondition(t, "soft", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	route := eventuallyPolicy(g, "team-soft", "buurt-allow-database")
	secret := dbSecret(g, "soft")
	unchanged := func(g Gomega) {
		now := &networkingv1.NetworkPolicy{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(route), now)).To(Succeed())
		g.Expect(now.UID).To(Equal(route.UID))
		g.Expect(now.DeletionTimestamp).To(BeNil())
		g.Expect(dbSecret(g, "soft").UID).To(Equal(secret.UID))
	}

	g.Expect(env.Client.Delete(ctx, admin)).To(Succeed())
	tm := eventuallyCondition(t, "soft", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionUnknown, teamsv1alpha1.AdminSecretMissingReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(
		"Secret buurt-system/pg-admin-soft with the shared server's admin connection does not exist; " +
			"create it with the keys host, port, user, password and sslmode; " +
			"the team's database, its Secret and its network policy are kept as they are"))
	g.Consistently(unchanged).WithTimeout(3 * time.Second).Should(Succeed())
	create(t, adminSecret("pg-admin-soft", pg.Password))
	eventuallyCondition(t, "soft", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)

	pg.Halt()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = pg.Restart(context.Background())
		}
	})
	tm = eventuallyCondition(t, "soft", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionUnknown, teamsv1alpha1.ServerUnreachableReason)
	g.Expect(tm.Status.Database).NotTo(BeNil())
	g.Consistently(unchanged).WithTimeout(3 * time.Second).Should(Succeed())
	g.Expect(pg.Restart(ctx)).To(Succeed())
	restarted = true
	eventuallyCondition(t, "soft", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	unchanged(g)
}

// TestReconcileRequest: a new value of the reconcile-requested-at
// annotation is handled once, and the status says which.
func TestReconcileRequest(t *testing.T) {
	g := NewWithT(t)
	create(t, designBlueprint("reconcile-request"))
	tm := newTeam("reconcile-request", "reconcile-request", user("anna"))
	create(t, tm)
	tm = eventuallyCondition(t, "reconcile-request", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	g.Expect(tm.Status.LastHandledReconcileAt).To(BeEmpty())
	edit(t, tm, func() {
		tm.Annotations = map[string]string{teamsv1alpha1.ReconcileRequestAnnotation: "2026-11-24T07:45:00Z"}
	})
	g.Eventually(func(g Gomega) string {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		return tm.Status.LastHandledReconcileAt
	}).WithTimeout(timeout).Should(Equal("2026-11-24T07:45:00Z"))
}
