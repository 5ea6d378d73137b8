//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

const timeout = 2 * time.Minute

// as is a client that impersonates user with groups, through the cluster
// admin's configuration.
func as(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	c, err := testenv.ClientAs(adminConfig, user, groups...)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return c
}

func newTeam(name, blueprint string, members ...teamsv1alpha1.Subject) *teamsv1alpha1.NeighbourhoodTeam {
	return &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       teamsv1alpha1.NeighbourhoodTeamSpec{Neighbourhood: "riverside", Blueprint: blueprint, Members: members},
	}
}

func user(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: name}
}

// readyTeam creates blueprint and team as the cluster admin, waits until the
// team is Ready, and deletes both, and the team's namespace with them, when
// the test ends.
func readyTeam(t *testing.T, blueprint *teamsv1alpha1.TeamBlueprint, team *teamsv1alpha1.NeighbourhoodTeam) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	g.Expect(admin.Create(ctx, blueprint)).To(Succeed())
	g.Expect(admin.Create(ctx, team)).To(Succeed())
	t.Cleanup(func() {
		_ = admin.Delete(context.Background(), team)
		reallyGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: team.NamespaceName()}})
		_ = admin.Delete(context.Background(), blueprint)
	})
	eventuallyTeam(t, team.Name, ready)
}

// eventuallyTeam waits until check holds for the team and returns it.
func eventuallyTeam(t *testing.T, name string, check func(Gomega, *teamsv1alpha1.NeighbourhoodTeam)) *teamsv1alpha1.NeighbourhoodTeam {
	t.Helper()
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(admin.Get(context.Background(), client.ObjectKey{Name: name}, team)).To(Succeed())
		check(g, team)
	}).WithTimeout(timeout).Should(Succeed())
	return team
}

func conditionIs(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam, conditionType, reason string, status metav1.ConditionStatus) {
	c := meta.FindStatusCondition(team.Status.Conditions, conditionType)
	g.Expect(c).NotTo(BeNil(), "condition %s", conditionType)
	g.Expect(c.Status).To(Equal(status), c.Message)
	g.Expect(c.Reason).To(Equal(reason), c.Message)
	g.Expect(c.ObservedGeneration).To(Equal(team.Generation))
}

func ready(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
	conditionIs(g, team, teamsv1alpha1.ReadyCondition, teamsv1alpha1.ReconciledReason, metav1.ConditionTrue)
}

// edit changes the team with a merge patch, as a platform engineer.
func edit(t *testing.T, team *teamsv1alpha1.NeighbourhoodTeam, change func()) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(admin.Get(context.Background(), client.ObjectKeyFromObject(team), team)).To(Succeed())
	base := team.DeepCopy()
	change()
	g.Expect(admin.Patch(context.Background(), team, client.MergeFrom(base))).To(Succeed())
}

// reallyGone waits until obj no longer exists.
func reallyGone(t *testing.T, obj client.Object) {
	t.Helper()
	NewWithT(t).Eventually(func() bool {
		return apierrors.IsNotFound(admin.Get(context.Background(), client.ObjectKeyFromObject(obj), obj))
	}).WithTimeout(timeout).Should(BeTrue(), "%T %s is gone", obj, obj.GetName())
}
