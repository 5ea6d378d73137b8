//go:build e2e

package e2e

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestTeamWithTwoAppsBecomesReadyAndSleeps proves the readiness roll-up where
// Deployments really become Available: the apps' pods pass the namespace's
// restricted Pod Security and its quota (with the LimitRange's defaults),
// the team is Ready, and Dormant scales them to zero and says so.
func TestTeamWithTwoAppsBecomesReadyAndSleeps(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := testenv.DesignBlueprint("e2e-apps")
	bp.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	bp.Spec.Ingress = teamsv1alpha1.Ingress{Domain: "care.example.org"}
	bp.Spec.Apps = []teamsv1alpha1.App{{Name: "care-planner", Image: "registry.example.org/care/planner:1.4.2", Port: 8080}}
	g.Expect(admin.Create(ctx, bp)).To(Succeed())
	team := &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-apps"},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside", Blueprint: "e2e-apps",
			Members: []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna@care.example.org"}},
			Apps: []teamsv1alpha1.App{{
				Name: "rota", Image: "registry.example.org/care/rota:2.0.1", Port: 9000, Replicas: ptr.To[int32](2),
			}},
		},
	}
	g.Expect(admin.Create(ctx, team)).To(Succeed())

	team = eventuallyTeam(t, "e2e-apps", func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		conditionIs(g, team, teamsv1alpha1.ReadyCondition, teamsv1alpha1.ReconciledReason, metav1.ConditionTrue)
	})
	g.Expect(meta.FindStatusCondition(team.Status.Conditions, teamsv1alpha1.AppsReadyCondition)).To(And(
		HaveField("Status", metav1.ConditionTrue), HaveField("Reason", teamsv1alpha1.AppsAvailableReason),
		HaveField("Message", "All 2 apps are available")))
	g.Expect(team.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseActive))
	g.Expect(team.Status.Apps).To(Equal([]teamsv1alpha1.AppStatus{
		{Name: "care-planner", DesiredReplicas: 1, AvailableReplicas: 1, URL: "http://care-planner.e2e-apps.care.example.org"},
		{Name: "rota", DesiredReplicas: 2, AvailableReplicas: 2, URL: "http://rota.e2e-apps.care.example.org"},
	}))
	pods := &corev1.PodList{}
	g.Expect(admin.List(ctx, pods, client.InNamespace("team-e2e-apps"))).To(Succeed())
	g.Expect(pods.Items).To(HaveLen(3))
	for _, pod := range pods.Items {
		g.Expect(pod.Status.Phase).To(Equal(corev1.PodRunning), pod.Name)
		// The LimitRange filled in what the quota needs.
		g.Expect(pod.Spec.Containers[0].Resources.Requests.Cpu().String()).To(Equal("100m"), pod.Name)
	}

	// Dormant: every app to zero, namespace and access stay.
	patch := client.MergeFrom(team.DeepCopy())
	team.Spec.Lifecycle = teamsv1alpha1.LifecycleDormant
	g.Expect(admin.Patch(ctx, team, patch)).To(Succeed())
	team = eventuallyTeam(t, "e2e-apps", func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		conditionIs(g, team, teamsv1alpha1.AppsReadyCondition, teamsv1alpha1.DormantReason, metav1.ConditionTrue)
		g.Expect(team.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseDormant))
	})
	conditionIs(g, team, teamsv1alpha1.ReadyCondition, teamsv1alpha1.ReconciledReason, metav1.ConditionTrue)
	g.Eventually(func(g Gomega) {
		g.Expect(admin.List(ctx, pods, client.InNamespace("team-e2e-apps"))).To(Succeed())
		g.Expect(pods.Items).To(BeEmpty())
	}).WithTimeout(timeout).Should(Succeed())
	for _, name := range []string{"care-planner", "rota"} {
		d := &appsv1.Deployment{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "team-e2e-apps", Name: name}, d)).To(Succeed())
		g.Expect(d.Spec.Replicas).To(Equal(ptr.To[int32](0)))
	}
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "team-e2e-apps", Name: "buurt:members"}, &rbacv1.RoleBinding{})).To(Succeed())

	// The team goes, and with it, by garbage collection, its namespace.
	g.Expect(admin.Delete(ctx, team)).To(Succeed())
	reallyGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-e2e-apps"}})
}
