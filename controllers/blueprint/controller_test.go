package blueprint_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/controllers/blueprint"
	"github.com/buurt-dev/buurt/internal/testenv"
)

var env *testenv.Env

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
	if err := testenv.InstallOperatorRBAC(context.Background(), env.Client); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := testenv.OperatorManager(env.Config, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := (&blueprint.Reconciler{Client: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
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
