package coach_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/controllers/coach"
	"github.com/buurt-dev/buurt/internal/testenv"
)

const jan = "jan@care.example.org"

// bindings lists the coach's RoleBindings by namespace.
func bindings(g Gomega, coachName string) map[string]rbacv1.RoleBinding {
	list := &rbacv1.RoleBindingList{}
	g.Expect(env.Client.List(context.Background(), list, client.MatchingLabels{"teams.buurt.dev/coach": coachName})).To(Succeed())
	out := map[string]rbacv1.RoleBinding{}
	for _, b := range list.Items {
		out[b.Namespace] = b
	}
	return out
}

func eventuallyBoundIn(t *testing.T, coachName string, namespaces ...string) map[string]rbacv1.RoleBinding {
	t.Helper()
	var got map[string]rbacv1.RoleBinding
	NewWithT(t).Eventually(func(g Gomega) {
		got = bindings(g, coachName)
		have := []string{}
		for ns := range got {
			have = append(have, ns)
		}
		g.Expect(have).To(ConsistOf(namespaces))
	}).WithTimeout(timeout).Should(Succeed())
	return got
}

func coachEvents(g Gomega, c *teamsv1alpha1.Coach) []string {
	events := &eventsv1.EventList{}
	g.Expect(env.Client.List(context.Background(), events)).To(Succeed())
	var notes []string
	for _, e := range events.Items {
		if e.Regarding.UID == c.UID {
			notes = append(notes, e.Reason+": "+e.Note)
		}
	}
	return notes
}

// coachGauges gathers the coach metrics of one coach from the manager's
// registry.
func coachGauges(g Gomega, coachName string) map[string]float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	out := map[string]float64{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "buurt_coach_") {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == coachName {
				out[f.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func TestCoachCapacityAndAccess(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, testenv.DesignBlueprint("coached"))
	jansCoach := newCoach("jan", jan, 2)
	create(t, jansCoach)
	// The oldest team is created first; then two more, of which the coach
	// has a place for one.
	create(t, newTeam("coached-c", "coached", "jan"))
	time.Sleep(1100 * time.Millisecond)
	create(t, newTeam("coached-a", "coached", "jan"))
	create(t, newTeam("coached-b", "coached", "jan"))

	got := eventuallyBoundIn(t, "jan", "team-coached-c", "team-coached-a")
	c := eventuallyCoach(t, "jan", func(g Gomega, c *teamsv1alpha1.Coach) {
		g.Expect(c.Status.Teams).To(Equal([]string{"coached-a", "coached-c"}))
		g.Expect(c.Status.WaitingTeams).To(Equal([]string{"coached-b"}))
	})
	for ns, b := range got {
		g.Expect(b.Name).To(Equal("buurt:coach:jan"), ns)
		g.Expect(b.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "buurt:coach"}), ns)
		g.Expect(b.Subjects).To(Equal([]rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: jan}}), ns)
		g.Expect(b.OwnerReferences).To(Equal([]metav1.OwnerReference{{
			APIVersion: "teams.buurt.dev/v1alpha1", Kind: "Coach", Name: "jan", UID: c.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}}), ns)
	}
	g.Expect(got["team-coached-a"].Labels).To(Equal(map[string]string{
		"teams.buurt.dev/coach": "jan", "teams.buurt.dev/team": "coached-a", "app.kubernetes.io/managed-by": "buurt",
	}))
	g.Expect(c.Status.TeamCount).To(Equal(int32(2)))
	g.Expect(c.Status.WaitingTeams).To(Equal([]string{"coached-b"}))
	g.Expect(c.Finalizers).To(Equal([]string{coach.AccessFinalizer}))
	g.Expect(meta.FindStatusCondition(c.Status.Conditions, teamsv1alpha1.AtCapacityCondition)).To(And(
		HaveField("Status", metav1.ConditionTrue), HaveField("Reason", teamsv1alpha1.CapacityReachedReason),
		HaveField("Message", "Supports 2 of at most 2 teams; waiting: coached-b")))
	g.Expect(meta.FindStatusCondition(c.Status.Conditions, teamsv1alpha1.ReadyCondition)).To(And(
		HaveField("Status", metav1.ConditionTrue), HaveField("Message", "Read access to 2 teams")))
	role := &rbacv1.ClusterRole{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "buurt:coach:jan"}, role)).To(Succeed())
	g.Expect(role.Rules).To(Equal([]rbacv1.PolicyRule{{
		APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"coaches"}, ResourceNames: []string{"jan"}, Verbs: []string{"get"},
	}, {
		APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"neighbourhoodteams"},
		ResourceNames: []string{"coached-a", "coached-c"}, Verbs: []string{"get"},
	}}))

	g.Expect(eventuallyTeamCondition(t, "coached-b", teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse,
		teamsv1alpha1.CoachAtCapacityReason)).To(Equal("Coach jan is full (maxTeams 2); the team is number 1 in line"))
	g.Expect(eventuallyTeamCondition(t, "coached-c", teamsv1alpha1.CoachAssignedCondition, metav1.ConditionTrue,
		teamsv1alpha1.CoachAcceptedReason)).To(Equal("Coach jan (User jan@care.example.org) supports the team, read-only"))
	// A full coach does not make the team's workspace any less ready.
	eventuallyTeamCondition(t, "coached-b", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	g.Eventually(func(g Gomega) {
		g.Expect(coachEvents(g, c)).To(ConsistOf(
			"TeamAccepted: Supports team coached-a, read-only", "TeamAccepted: Supports team coached-c, read-only"))
	}).WithTimeout(timeout).Should(Succeed())

	g.Eventually(func(g Gomega) {
		g.Expect(coachGauges(g, "jan")).To(Equal(map[string]float64{
			"buurt_coach_teams": 2, "buurt_coach_max_teams": 2, "buurt_coach_waiting_teams": 1,
		}))
	}).WithTimeout(timeout).Should(Succeed())

	// What the coach may do, asked of the apiserver as the coach.
	expectCoachMayOnlyRead(t)

	// More capacity admits the team that waited.
	edit(t, jansCoach, func() { jansCoach.Spec.MaxTeams = 3 })
	eventuallyBoundIn(t, "jan", "team-coached-a", "team-coached-b", "team-coached-c")
	eventuallyTeamCondition(t, "coached-b", teamsv1alpha1.CoachAssignedCondition, metav1.ConditionTrue, teamsv1alpha1.CoachAcceptedReason)

	// A team moves to another coach: the binding moves in the same pass.
	create(t, newCoach("els", "els@care.example.org", 5))
	tm := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "coached-a"}}
	edit(t, tm, func() { tm.Spec.Coach = "els" })
	eventuallyBoundIn(t, "jan", "team-coached-b", "team-coached-c")
	eventuallyBoundIn(t, "els", "team-coached-a")
	c = eventuallyCoach(t, "jan", func(g Gomega, c *teamsv1alpha1.Coach) {
		g.Expect(c.Status.Teams).To(Equal([]string{"coached-b", "coached-c"}))
		g.Expect(c.Status.WaitingTeams).To(BeEmpty())
	})
	g.Eventually(func(g Gomega) {
		g.Expect(coachEvents(g, c)).To(ContainElement("TeamReleased: No longer supports team coached-a; its access is removed"))
	}).WithTimeout(timeout).Should(Succeed())

	// Less capacity: the newest team loses access.
	edit(t, jansCoach, func() { jansCoach.Spec.MaxTeams = 1 })
	eventuallyBoundIn(t, "jan", "team-coached-c")
	g.Expect(eventuallyTeamCondition(t, "coached-b", teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse,
		teamsv1alpha1.CoachAtCapacityReason)).To(Equal("Coach jan is full (maxTeams 1); the team is number 1 in line"))

	// The coach goes: every access goes first, and the teams say so.
	g.Expect(env.Client.Delete(ctx, jansCoach)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(jansCoach), &teamsv1alpha1.Coach{}))
	}).WithTimeout(timeout).Should(BeTrue())
	g.Expect(bindings(g, "jan")).To(BeEmpty())
	for _, obj := range []client.Object{&rbacv1.ClusterRole{}, &rbacv1.ClusterRoleBinding{}} {
		err := env.Client.Get(ctx, client.ObjectKey{Name: "buurt:coach:jan"}, obj)
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T: %v", obj, err)
	}
	for _, name := range []string{"coached-b", "coached-c"} {
		g.Eventually(func() string {
			return eventuallyTeamCondition(t, name, teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse, teamsv1alpha1.CoachNotFoundReason)
		}).WithTimeout(timeout).Should(Equal(`Coach "jan" does not exist; choose another or ask for it to be created`))
	}
	eventuallyBoundIn(t, "els", "team-coached-a")
}

// expectCoachMayOnlyRead acts as jan, who supports coached-a and coached-c:
// reading works, every write is forbidden, Secrets stay hidden.
func expectCoachMayOnlyRead(t *testing.T) {
	ctx := context.Background()
	asJan, err := testenv.ClientAs(env.Config, jan)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	const ns = "team-coached-c"
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	for _, tc := range []struct {
		name    string
		do      func() error
		allowed bool
	}{
		{"list pods", func() error { return asJan.List(ctx, &corev1.PodList{}, client.InNamespace(ns)) }, true},
		{"list events", func() error { return asJan.List(ctx, &eventsv1.EventList{}, client.InNamespace(ns)) }, true},
		{"get own team", func() error { return asJan.Get(ctx, client.ObjectKey{Name: "coached-c"}, team) }, true},
		{"get own coach", func() error { return asJan.Get(ctx, client.ObjectKey{Name: "jan"}, &teamsv1alpha1.Coach{}) }, true},
		{"get another coach", func() error { return asJan.Get(ctx, client.ObjectKey{Name: "els"}, &teamsv1alpha1.Coach{}) }, false},
		{"list coaches", func() error { return asJan.List(ctx, &teamsv1alpha1.CoachList{}) }, false},
		{"get a waiting team", func() error {
			return asJan.Get(ctx, client.ObjectKey{Name: "coached-b"}, &teamsv1alpha1.NeighbourhoodTeam{})
		}, false},
		{"list teams", func() error { return asJan.List(ctx, &teamsv1alpha1.NeighbourhoodTeamList{}) }, false},
		{"list secrets", func() error { return asJan.List(ctx, &corev1.SecretList{}, client.InNamespace(ns)) }, false},
		{"create a config map", func() error {
			return asJan.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "coach-was-here"}})
		}, false},
		{"delete the quota", func() error {
			return asJan.Delete(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buurt-quota"}})
		}, false},
		{"delete their own binding", func() error {
			return asJan.Delete(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buurt:coach:jan"}})
		}, false},
		{"patch the team", func() error {
			patch := client.MergeFrom(team.DeepCopy())
			team.Spec.Lifecycle = teamsv1alpha1.LifecycleDormant
			return asJan.Patch(ctx, team, patch)
		}, false},
		{"update the team", func() error { return asJan.Update(ctx, team) }, false},
		{"delete the team", func() error { return asJan.Delete(ctx, team) }, false},
		{"create a team", func() error {
			return asJan.Create(ctx, newTeam("jans-own", "coached", "jan"))
		}, false},
	} {
		t.Run("coach "+tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.allowed {
				NewWithT(t).Expect(err).NotTo(HaveOccurred())
				return
			}
			NewWithT(t).Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want Forbidden, got %v", err)
		})
	}
}

// A coach never gets into a namespace buurt does not manage for the team,
// even when the team chose them and the namespace wears buurt's labels.
func TestCoachStaysOutOfANamespaceBuurtDoesNotOwn(t *testing.T) {
	g := NewWithT(t)
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-taken", Labels: map[string]string{
		"teams.buurt.dev/team": "taken", "app.kubernetes.io/managed-by": "buurt",
	}}})
	create(t, testenv.DesignBlueprint("taken"))
	create(t, newCoach("wim", "wim@care.example.org", 3))
	create(t, newTeam("taken", "taken", "wim"))

	c := eventuallyCoach(t, "wim", func(g Gomega, c *teamsv1alpha1.Coach) {
		g.Expect(meta.FindStatusCondition(c.Status.Conditions, teamsv1alpha1.ReadyCondition)).To(And(
			HaveField("Status", metav1.ConditionFalse), HaveField("Reason", teamsv1alpha1.WaitingForNamespaceReason),
			HaveField("Message", "Access is given once these teams' namespaces are ready: taken")))
	})
	g.Expect(c.Status.Teams).To(Equal([]string{"taken"}))
	g.Consistently(func(g Gomega) {
		list := &rbacv1.RoleBindingList{}
		g.Expect(env.Client.List(context.Background(), list, client.InNamespace("team-taken"))).To(Succeed())
		g.Expect(list.Items).To(BeEmpty())
	}).WithTimeout(2 * time.Second).Should(Succeed())
}

// A coach of 60 teams reconciles from the cache alone: no request reaches
// the apiserver while nothing changed.
func TestCoachOfManyTeamsReadsOnlyTheCache(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, testenv.DesignBlueprint("many"))
	create(t, newCoach("marijke", "marijke@care.example.org", 100))
	const teams = 60
	for i := range teams {
		create(t, newTeam(fmt.Sprintf("many-%02d", i), "many", "marijke"))
	}
	namespaces := make([]string, 0, teams)
	for i := range teams {
		namespaces = append(namespaces, fmt.Sprintf("team-many-%02d", i))
	}
	eventuallyBoundIn(t, "marijke", namespaces...)
	eventuallyCoach(t, "marijke", func(g Gomega, c *teamsv1alpha1.Coach) {
		g.Expect(c.Status.TeamCount).To(Equal(int32(teams)))
	})

	// Wait until the cache has seen everything and the manager is quiet
	// (the team controller reports each team's coach), then reconcile again.
	g.Eventually(func(g Gomega) {
		start := requests.Load()
		_, err := reconciler.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKey{Name: "marijke"}})
		g.Expect(err).NotTo(HaveOccurred())
		time.Sleep(time.Second)
		g.Expect(requests.Load() - start).To(BeZero())
	}).WithTimeout(timeout).Should(Succeed())
	start := requests.Load()
	for range 5 {
		_, err := reconciler.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKey{Name: "marijke"}})
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(requests.Load()-start).To(BeZero(), "reconciling a coach of %d teams sent requests", teams)
}
