package blueprint_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/controllers/blueprint"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
)

var (
	env *testenv.Env
	pg  *testpg.Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if pg, err = testpg.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = pg.Stop() }()
	if err := testenv.InstallOperatorRBAC(context.Background(), env.Client); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := testenv.OperatorManager(env.Config, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pools := database.NewPools()
	defer pools.Close()
	r := blueprint.NewReconciler(mgr, testenv.OperatorNamespace, pools)
	r.HardeningInterval = time.Second
	if err := r.SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return testenv.RunWithManager(mgr, m)
}

func team(name, blueprint string, members int) *teamsv1alpha1.NeighbourhoodTeam {
	t := &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       teamsv1alpha1.NeighbourhoodTeamSpec{Neighbourhood: "riverside", Blueprint: blueprint},
	}
	for i := range members {
		t.Spec.Members = append(t.Spec.Members, teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: fmt.Sprintf("m%d", i)})
	}
	return t
}

func TestBlueprintStatusCountsItsTeams(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := testenv.DesignBlueprint("counted")
	bp.Spec.MaxMembers = 2
	g.Expect(env.Client.Create(ctx, bp)).To(Succeed())
	status := func(g Gomega) (int32, metav1.Condition) {
		got := &teamsv1alpha1.TeamBlueprint{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bp), got)).To(Succeed())
		c := meta.FindStatusCondition(got.Status.Conditions, teamsv1alpha1.ReadyCondition)
		g.Expect(c).NotTo(BeNil())
		return got.Status.TeamCount, *c
	}
	expect := func(count int32, conditionStatus metav1.ConditionStatus, message string) {
		t.Helper()
		g.Eventually(func(g Gomega) {
			n, c := status(g)
			g.Expect(n).To(Equal(count))
			g.Expect(c.Status).To(Equal(conditionStatus))
			g.Expect(c.Message).To(Equal(message))
		}).WithTimeout(30 * time.Second).Should(Succeed())
	}
	expect(0, metav1.ConditionTrue, "Used by 0 teams")

	g.Expect(env.Client.Create(ctx, team("counted-a", "counted", 1))).To(Succeed())
	expect(1, metav1.ConditionTrue, "Used by 1 team")
	big := team("counted-b", "counted", 3)
	g.Expect(env.Client.Create(ctx, big)).To(Succeed())
	expect(2, metav1.ConditionFalse, "Used by 2 teams; more members than maxMembers 2: counted-b")
	g.Expect(env.Client.Create(ctx, team("elsewhere", "other", 1))).To(Succeed())
	g.Expect(env.Client.Delete(ctx, big)).To(Succeed())
	expect(1, metav1.ConditionTrue, "Used by 1 team")
}

// TestBlueprintReportsRefusedQuota stands in for the team controller, which
// does not run here: it sets teams' QuotaReady condition as the team
// controller does when the apiserver refuses the quota or limits made from
// the blueprint, and expects the blueprint to say so, with one Event.
func TestBlueprintReportsRefusedQuota(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := testenv.DesignBlueprint("refused")
	bp.Spec.MaxMembers = 2
	g.Expect(env.Client.Create(ctx, bp)).To(Succeed())
	a, b := team("refused-a", "refused", 1), team("refused-b", "refused", 1)
	g.Expect(env.Client.Create(ctx, a)).To(Succeed())
	g.Expect(env.Client.Create(ctx, b)).To(Succeed())

	expectReady := func(status metav1.ConditionStatus, reason, message string) {
		t.Helper()
		g.Eventually(func(g Gomega) {
			got := &teamsv1alpha1.TeamBlueprint{}
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bp), got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, teamsv1alpha1.ReadyCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect(*c).To(Equal(metav1.Condition{
				Type: teamsv1alpha1.ReadyCondition, Status: status, Reason: reason, Message: message,
				ObservedGeneration: got.Generation, LastTransitionTime: c.LastTransitionTime,
			}))
		}).WithTimeout(30 * time.Second).Should(Succeed())
	}
	setQuotaReady := func(team *teamsv1alpha1.NeighbourhoodTeam, status metav1.ConditionStatus, reason, message string) {
		t.Helper()
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(team), team)).To(Succeed())
		meta.SetStatusCondition(&team.Status.Conditions, metav1.Condition{
			Type: teamsv1alpha1.QuotaReadyCondition, Status: status, Reason: reason, Message: message, ObservedGeneration: team.Generation,
		})
		g.Expect(env.Client.Status().Update(ctx, team)).To(Succeed())
	}
	events := func(g Gomega) []string {
		list := &eventsv1.EventList{}
		g.Expect(env.Client.List(ctx, list)).To(Succeed())
		var got []string
		for _, e := range list.Items {
			if e.Regarding.UID == bp.UID {
				got = append(got, e.Type+" "+e.Reason+": "+e.Note)
			}
		}
		return got
	}
	expectReady(metav1.ConditionTrue, teamsv1alpha1.ReconciledReason, "Used by 2 teams")

	const refusal = `ResourceQuota "buurt-quota" is invalid: spec.hard[pods]: Invalid value: "-5": must be greater than or equal to 0`
	setQuotaReady(a, metav1.ConditionFalse, teamsv1alpha1.RejectedReason, refusal)
	first := "Used by 2 teams; the apiserver refused the quota or limits made from this blueprint for team refused-a: " +
		refusal + "; fix spec.quota or spec.limits"
	expectReady(metav1.ConditionFalse, teamsv1alpha1.RejectedReason, first)
	g.Eventually(events).WithTimeout(30 * time.Second).Should(HaveExactElements(corev1.EventTypeWarning + " Rejected: " + first))

	// More refused teams and a team over the limit are reported without
	// another Event.
	setQuotaReady(b, metav1.ConditionFalse, teamsv1alpha1.RejectedReason,
		`LimitRange "buurt-limits" is invalid: spec.limits[0].default[cpu]: Invalid value: "2": default value 2 is greater than max value 1`)
	big := team("refused-c", "refused", 3)
	g.Expect(env.Client.Create(ctx, big)).To(Succeed())
	expectReady(metav1.ConditionFalse, teamsv1alpha1.RejectedReason, "Used by 3 teams; more members than maxMembers 2: refused-c; "+
		"the apiserver refused the quota or limits made from this blueprint for teams refused-a, refused-b: "+refusal+"; fix spec.quota or spec.limits")
	g.Consistently(events).WithTimeout(3 * time.Second).Should(HaveExactElements(corev1.EventTypeWarning + " Rejected: " + first))

	// Once the teams' quota and limits are in place, the blueprint is Ready.
	setQuotaReady(a, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason, "The team's ResourceQuota and LimitRange are the blueprint's")
	setQuotaReady(b, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason, "The team's ResourceQuota and LimitRange are the blueprint's")
	g.Expect(env.Client.Delete(ctx, big)).To(Succeed())
	expectReady(metav1.ConditionTrue, teamsv1alpha1.ReconciledReason, "Used by 2 teams")
}
