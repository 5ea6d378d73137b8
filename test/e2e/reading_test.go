//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// kubectl runs the cluster's kubectl as user, with args, as a reader of
// docs/members.md and docs/coaches.md would, and returns what it printed.
func kubectl(g Gomega, user string, args ...string) string {
	cmd := exec.CommandContext(context.Background(), filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"),
		append([]string{"--kubeconfig", adminKubeconfig, "--as", user}, args...)...)
	out, err := cmd.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "kubectl %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// teamEventsAs lists, as c's user, the Events in the team's namespace that
// regard the team, as "type/reason: note".
func teamEventsAs(g Gomega, c client.Client, team string) []string {
	events := &eventsv1.EventList{}
	g.Expect(c.List(context.Background(), events, client.InNamespace("team-"+team))).To(Succeed())
	out := []string{}
	for _, e := range events.Items {
		if e.Regarding.Kind == "NeighbourhoodTeam" && e.Regarding.Name == team {
			out = append(out, e.Type+"/"+e.Reason+": "+e.Note)
		}
	}
	return out
}

// TestReading is what a member and a coach can read about their team: its
// Events in its namespace, its blueprint and its coach; and what they
// cannot.
func TestReading(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const (
		anna = "anna@care.example.org"
		jan  = "jan@care.example.org"
	)
	for _, obj := range []client.Object{
		testenv.DesignBlueprint("reading"),
		testenv.DesignBlueprint("reading-other"),
		&teamsv1alpha1.Coach{
			ObjectMeta: metav1.ObjectMeta{Name: "reading-coach"},
			Spec:       teamsv1alpha1.CoachSpec{Subject: user(jan), MaxTeams: 5},
		},
		&teamsv1alpha1.Coach{
			ObjectMeta: metav1.ObjectMeta{Name: "reading-other-coach"},
			Spec:       teamsv1alpha1.CoachSpec{Subject: user("els@care.example.org"), MaxTeams: 5},
		},
	} {
		g.Expect(admin.Create(ctx, obj)).To(Succeed())
		t.Cleanup(func() { _ = admin.Delete(context.Background(), obj) })
	}
	team := newTeam("reading", "reading", user(anna))
	team.Spec.Coach = "reading-coach"
	g.Expect(admin.Create(ctx, team)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), team) })
	eventuallyTeam(t, "reading", func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		ready(g, team)
		conditionIs(g, team, teamsv1alpha1.CoachAssignedCondition, teamsv1alpha1.CoachAcceptedReason, metav1.ConditionTrue)
	})
	asAnna, asJan := as(t, anna), as(t, jan)

	// The team's Events are in its namespace, where anna reads them; the
	// copies in default are not hers to read.
	created := "Normal/NamespaceCreated: Created namespace team-reading"
	g.Eventually(func(g Gomega) []string { return teamEventsAs(g, asAnna, "reading") }).WithTimeout(timeout).Should(Equal([]string{created}))
	err := asAnna.List(ctx, &eventsv1.EventList{}, client.InNamespace("default"))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(kubectl(g, anna, "events", "-n", "team-reading")).To(MatchRegexp(`Normal\s+NamespaceCreated\s+NeighbourhoodTeam/reading\s+Created namespace team-reading`))

	// Her blueprint and her coach, and none other.
	g.Expect(kubectl(g, anna, "get", "teamblueprint", "reading", "-o", "jsonpath={.spec.maxMembers} {.spec.memberRole}")).To(Equal("12 buurt:team-member"))
	g.Expect(kubectl(g, anna, "get", "coach", "reading-coach", "-o", "jsonpath={.spec.subject.name} {.status.teams}")).To(Equal(jan + ` ["reading"]`))
	for _, obj := range []client.Object{
		&teamsv1alpha1.TeamBlueprint{ObjectMeta: metav1.ObjectMeta{Name: "reading-other"}},
		&teamsv1alpha1.Coach{ObjectMeta: metav1.ObjectMeta{Name: "reading-other-coach"}},
	} {
		err := asAnna.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%T %s: %v", obj, obj.GetName(), err)
	}
	err = asAnna.List(ctx, &teamsv1alpha1.TeamBlueprintList{})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)

	// jan reads his Coach, whose status lists his teams (he may not list
	// teams), the team and its pods and Events.
	g.Expect(kubectl(g, jan, "get", "coach", "reading-coach", "-o", "jsonpath={.status.teams}")).To(Equal(`["reading"]`))
	g.Expect(asJan.Get(ctx, client.ObjectKey{Name: "reading"}, &teamsv1alpha1.NeighbourhoodTeam{})).To(Succeed())
	g.Expect(asJan.List(ctx, &corev1.PodList{}, client.InNamespace("team-reading"))).To(Succeed())
	g.Expect(teamEventsAs(g, asJan, "reading")).To(Equal([]string{created}))
	err = asJan.List(ctx, &teamsv1alpha1.NeighbourhoodTeamList{})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	err = asJan.Get(ctx, client.ObjectKey{Name: "reading-other-coach"}, &teamsv1alpha1.Coach{})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)

	// anna chooses a coach that does not exist: her own change and what
	// went wrong are both in her team's Events, and her role follows the
	// team's choice.
	mine := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Expect(asAnna.Get(ctx, client.ObjectKey{Name: "reading"}, mine)).To(Succeed())
	base := mine.DeepCopy()
	mine.Spec.Coach = "reading-nobody"
	g.Expect(asAnna.Patch(ctx, mine, client.MergeFrom(base))).To(Succeed())
	g.Eventually(func(g Gomega) []string { return teamEventsAs(g, asAnna, "reading") }).WithTimeout(timeout).Should(ConsistOf(
		created,
		"Normal/SelfServiceChange: "+anna+" changed coach",
		`Warning/CoachNotFound: Coach "reading-nobody" does not exist; choose another or ask for it to be created`,
	))
	g.Eventually(func() bool {
		return apierrors.IsForbidden(asAnna.Get(ctx, client.ObjectKey{Name: "reading-coach"}, &teamsv1alpha1.Coach{}))
	}).WithTimeout(timeout).Should(BeTrue(), "anna still reads the coach her team left")
}
