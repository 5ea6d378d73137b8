//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestTeamSplitsItself: in a real installation (the operator as its
// ServiceAccount, its admission webhooks and bounds), a member of a team
// asks for a split with plain kubectl, reads the plan, approves it, and
// the team is two: each member has access to exactly one team's namespace
// and the moved app runs in the new namespace only. A member of another
// team cannot split it.
func TestTeamSplitsItself(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := testenv.DesignBlueprint("e2e-split")
	bp.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	source := newTeam("split-riverside", bp.Name, user("sanne@care.example.org"), user("sem@care.example.org"),
		user("sofie@care.example.org"))
	source.Spec.Apps = []teamsv1alpha1.App{
		{Name: "rota", Image: "registry.example.org/care/rota:1", Port: 8080},
		{Name: "wiki", Image: "registry.example.org/care/wiki:2", Port: 8080},
	}
	readyTeam(t, bp, source)
	readyTeam(t, testenv.DesignBlueprint("e2e-split-other"), newTeam("split-other", "e2e-split-other", user("otto@care.example.org")))
	t.Cleanup(func() {
		_ = admin.Delete(context.Background(), &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "split-hillside"}})
		reallyGone(t, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "split-hillside"}})
	})

	// docs/splitting.md, as Sanne.
	var commands, outputs []string
	for _, b := range fencedBlocks(t, "splitting.md", "## The database") {
		switch b.lang {
		case "sh":
			commands = append(commands, strings.TrimSpace(b.body))
		case "":
			outputs = append(outputs, b.body)
		}
	}
	g.Expect(commands).To(HaveLen(4), "docs/splitting.md: ask, plan, approve, done")
	g.Expect(outputs).To(HaveLen(2), "docs/splitting.md: the plan, done")

	// Someone of another team is refused, whatever the plan.
	_, stderr, err := commandAs(t, "otto@care.example.org")(commands[0])
	g.Expect(err).To(HaveOccurred())
	g.Expect(stderr).To(ContainSubstring(`only team split-riverside's members and platform engineers (verb "manage" on neighbourhoodteams) may split it`))

	sanne := shellAs(t, "sanne@care.example.org")
	g.Expect(sanne(g, commands[0])).To(Equal("teamsplit.teams.buurt.dev/split-riverside-grows created\n"))
	t.Cleanup(func() {
		_ = admin.Delete(context.Background(), &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "split-riverside-grows"}})
	})
	// The plan, before anything changes.
	g.Eventually(func(g Gomega) string { return sanne(g, commands[1]) + "\n" }).WithTimeout(timeout).Should(Equal(outputs[0]))
	g.Expect(apierrors.IsNotFound(admin.Get(ctx, client.ObjectKey{Name: "split-hillside"}, &teamsv1alpha1.NeighbourhoodTeam{}))).To(BeTrue())

	g.Expect(sanne(g, commands[2])).To(Equal("teamsplit.teams.buurt.dev/split-riverside-grows patched\n"))
	g.Eventually(func(g Gomega) string { return sanne(g, commands[3]) + "\n" }).WithTimeout(timeout).Should(Equal(outputs[1]))

	// Each member in exactly one team's namespace; the moved app in the new
	// namespace only.
	for member, want := range map[string][]bool{
		"sanne@care.example.org": {true, false}, "sem@care.example.org": {true, false}, "sofie@care.example.org": {false, true},
	} {
		g.Eventually(func() []bool {
			return []bool{mayReadSecrets(g, member, "team-split-riverside"), mayReadSecrets(g, member, "team-split-hillside")}
		}).WithTimeout(timeout).Should(Equal(want), member)
	}
	g.Eventually(func() bool {
		return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKey{Namespace: "team-split-riverside", Name: "rota"}, &appsv1.Deployment{}))
	}).WithTimeout(timeout).Should(BeTrue(), "rota left the source")
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "team-split-hillside", Name: "rota"}, &appsv1.Deployment{})).To(Succeed())
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "team-split-riverside", Name: "wiki"}, &appsv1.Deployment{})).To(Succeed())
	// Sofie, who moved, still reads the record.
	g.Expect(shellAs(t, "sofie@care.example.org")(g, "kubectl get split split-riverside-grows -o jsonpath='{.status.phase}'")).To(Equal("Succeeded"))
}
