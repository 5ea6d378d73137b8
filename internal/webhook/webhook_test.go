package webhook_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/testenv"
	buurtwebhook "github.com/buurt-dev/buurt/internal/webhook"
)

const anna = "anna@care.example.org"

func create(t *testing.T, obj client.Object) {
	t.Helper()
	NewWithT(t).Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
	t.Cleanup(func() {
		// A blueprint goes after its teams, which the webhook insists on.
		_ = env.Client.Delete(context.Background(), obj)
	})
}

// members makes n member entries, the first of them anna.
func members(n int) []teamsv1alpha1.Subject {
	out := []teamsv1alpha1.Subject{user(anna)}
	for i := 2; i <= n; i++ {
		out = append(out, user(fmt.Sprintf("colleague-%02d@care.example.org", i)))
	}
	return out
}

// waitForSelfService gives the team's members their self-service role, as
// the team controller does (the same render functions), and waits until
// RBAC lets c's user read the team: RBAC lets members edit their team, the
// webhook decides what they may change.
func waitForSelfService(t *testing.T, c client.Client, name string) *teamsv1alpha1.NeighbourhoodTeam {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: name}, team)).To(Succeed())
	g.Expect(env.Client.Apply(ctx, render.SelfServiceClusterRole(team), client.FieldOwner("test"), client.ForceOwnership)).To(Succeed())
	g.Expect(env.Client.Apply(ctx, render.SelfServiceClusterRoleBinding(team), client.FieldOwner("test"), client.ForceOwnership)).To(Succeed())
	g.Eventually(func() error {
		return c.Get(ctx, client.ObjectKey{Name: name}, team)
	}).WithTimeout(timeout).Should(Succeed())
	return team
}

// patchAs changes the team as c's user and returns the apiserver's answer.
func patchAs(c client.Client, team *teamsv1alpha1.NeighbourhoodTeam, change func(*teamsv1alpha1.NeighbourhoodTeam)) error {
	base := team.DeepCopy()
	change(team)
	return c.Patch(context.Background(), team, client.MergeFrom(base))
}

func TestMemberSelfService(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, testenv.DesignBlueprint("self-service"))
	create(t, testenv.DesignBlueprint("elsewhere"))
	tm := newTeam("self-service", "self-service", members(11)...)
	create(t, tm)
	create(t, newTeam("self-service-other", "self-service", user("someone-else@care.example.org")))
	asAnna, warnings, err := clientAs(anna, nil)
	g.Expect(err).NotTo(HaveOccurred())

	// A member adds a colleague: the twelfth, the limit, so a warning.
	mine := waitForSelfService(t, asAnna, "self-service")
	g.Expect(patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Spec.Members = append(tm.Spec.Members, user("bram@care.example.org"))
	})).To(Succeed())
	g.Expect(warnings.all()).To(ContainElement("the team has reached its limit of 12 members (blueprint self-service); " +
		"a further colleague means splitting into a second team"))
	// The change is audited: who changed which fields, no values.
	g.Eventually(func(g Gomega) {
		events := &eventsv1.EventList{}
		g.Expect(env.Client.List(ctx, events)).To(Succeed())
		var notes []string
		for _, e := range events.Items {
			if e.Regarding.Name == "self-service" && e.Reason == teamsv1alpha1.SelfServiceChangeReason {
				notes = append(notes, e.Note)
			}
		}
		g.Expect(notes).To(Equal([]string{"anna@care.example.org changed members"}))
	}).WithTimeout(timeout).Should(Succeed())

	// A thirteenth member: the team should split instead.
	err = patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Spec.Members = append(tm.Spec.Members, user("cor@care.example.org"))
	})
	g.Expect(err).To(MatchError(`admission webhook "vneighbourhoodteam.teams.buurt.dev" denied the request: ` +
		`NeighbourhoodTeam.teams.buurt.dev "self-service" is invalid: spec.members: Invalid value: 13: ` +
		`blueprint self-service allows at most 12 members; buurt teams stay small and grow by splitting into a second team`))

	// The blueprint, neighbourhood and database are a platform engineer's.
	mine = waitForSelfService(t, asAnna, "self-service")
	err = patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Spec.Blueprint = "elsewhere"
		tm.Spec.Neighbourhood = "hillside"
	})
	g.Expect(err).To(MatchError(`admission webhook "vneighbourhoodteam.teams.buurt.dev" denied the request: ` +
		`NeighbourhoodTeam.teams.buurt.dev "self-service" is invalid: [` +
		`spec.blueprint: Forbidden: members of the team may change only members, apps, coach, lifecycle, credentials, sleep; ask a platform engineer, ` +
		`spec.neighbourhood: Forbidden: members of the team may change only members, apps, coach, lifecycle, credentials, sleep; ask a platform engineer]`))
	mine = waitForSelfService(t, asAnna, "self-service")
	g.Expect(mine.Finalizers).To(BeEmpty())
	err = patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Finalizers = []string{"example.org/mine"} })
	g.Expect(err).To(MatchError(ContainSubstring("metadata.finalizers: Forbidden: members of the team may not change finalizers")))
	// Adding buurt's own finalizer, as the operator does, is not sent to
	// the webhook (a matchCondition): that a member may shows it. Taking
	// it away is the webhook's to refuse.
	mine = waitForSelfService(t, asAnna, "self-service")
	g.Expect(patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Finalizers = []string{"teams.buurt.dev/database"} })).To(Succeed())
	mine = waitForSelfService(t, asAnna, "self-service")
	err = patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Finalizers = nil })
	g.Expect(err).To(MatchError(ContainSubstring("metadata.finalizers: Forbidden: members of the team may not change finalizers")))
	mine = waitForSelfService(t, env.Client, "self-service")
	g.Expect(patchAs(env.Client, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Finalizers = nil })).To(Succeed())

	// Their own apps, coach and lifecycle are theirs to change.
	mine = waitForSelfService(t, asAnna, "self-service")
	g.Expect(patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Spec.Apps = []teamsv1alpha1.App{{Name: "rota", Image: "registry.example.org/care/rota:2.0.1", Port: 8080}}
		tm.Spec.Lifecycle = teamsv1alpha1.LifecycleDormant
	})).To(Succeed())

	// Archiving is a platform engineer's, and so is an archived team.
	mine = waitForSelfService(t, asAnna, "self-service")
	err = patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleArchived })
	g.Expect(err).To(MatchError(`admission webhook "vneighbourhoodteam.teams.buurt.dev" denied the request: ` +
		`NeighbourhoodTeam.teams.buurt.dev "self-service" is invalid: spec.lifecycle: Forbidden: only platform engineers ` +
		`(verb "manage" on neighbourhoodteams) archive a team; members may set Active or Dormant`))
	mine = waitForSelfService(t, env.Client, "self-service")
	g.Expect(patchAs(env.Client, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleArchived })).To(Succeed())
	// The self-service role of an archived team only reads: RBAC refuses
	// a member's change before admission is asked.
	// (Until the authorizer sees the new role, the webhook refuses it.)
	mine = waitForSelfService(t, asAnna, "self-service")
	g.Eventually(func(g Gomega) {
		err := patchAs(asAnna, mine.DeepCopy(), func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleActive })
		g.Expect(err).To(HaveOccurred())
		if !apierrors.IsForbidden(err) {
			g.Expect(err.Error()).To(ContainSubstring("spec: Forbidden: the team is archived: only platform engineers"))
		}
		g.Expect(err.Error()).To(ContainSubstring(`cannot patch resource "neighbourhoodteams" in API group "teams.buurt.dev"`))
	}).WithTimeout(timeout).Should(Succeed())
	mine = waitForSelfService(t, env.Client, "self-service")
	g.Expect(patchAs(env.Client, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleActive })).To(Succeed())

	// Another team is not theirs: RBAC says no before admission is asked.
	other := &teamsv1alpha1.NeighbourhoodTeam{}
	err = asAnna.Get(ctx, client.ObjectKey{Name: "self-service-other"}, other)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	other = &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "self-service-other"}}
	err = asAnna.Patch(ctx, other, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"coach":"anna"}}`)))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring(`cannot patch resource "neighbourhoodteams" in API group "teams.buurt.dev"`))
}

func TestPlatformEngineerAndCoach(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, testenv.DesignBlueprint("managed"))
	create(t, testenv.DesignBlueprint("managed-next"))
	create(t, &teamsv1alpha1.Coach{
		ObjectMeta: metav1.ObjectMeta{Name: "jan"},
		Spec:       teamsv1alpha1.CoachSpec{Subject: user("jan@care.example.org"), MaxTeams: 5},
	})
	tm := newTeam("managed", "managed", user(anna))
	tm.Spec.Coach = "jan"
	create(t, tm)

	// A platform engineer may change anything, the blueprint included.
	asPia, _, err := clientAs(platformEngineer, nil)
	g.Expect(err).NotTo(HaveOccurred())
	theirs := waitForSelfService(t, asPia, "managed")
	g.Expect(patchAs(asPia, theirs, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Spec.Blueprint = "managed-next"
		tm.Spec.Neighbourhood = "hillside"
		tm.Spec.Members = members(12)
	})).To(Succeed())
	// ... but not past the blueprint's limits.
	err = patchAs(asPia, theirs, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Members = members(13) })
	g.Expect(err).To(MatchError(ContainSubstring("spec.members: Invalid value: 13: blueprint managed-next allows at most 12 members")))

	// The coach reads, and changes nothing.
	asJan, _, err := clientAs("jan@care.example.org", nil)
	g.Expect(err).NotTo(HaveOccurred())
	seen := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "managed"}}
	err = asJan.Patch(ctx, seen, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"lifecycle":"Dormant"}}`)))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	// Had RBAC let them through, admission would not: a coach is no member.
	g.Expect(err.Error()).To(ContainSubstring(`User "jan@care.example.org" cannot patch resource "neighbourhoodteams"`))
}

func TestTeamLimitsAtCreation(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := testenv.DesignBlueprint("guarded")
	bp.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	bp.Spec.Apps = []teamsv1alpha1.App{{Name: "care-planner", Image: "registry.example.org/care/planner:1.4.2", Port: 8080}}
	create(t, bp)
	asAdmin, warnings, err := clientAs("", nil)
	g.Expect(err).NotTo(HaveOccurred())

	bad := newTeam("guarded", "guarded", user(anna))
	bad.Spec.Apps = []teamsv1alpha1.App{
		{Name: "miner", Image: "docker.io/evil/miner:1", Port: 80},
		{Name: "care-planner", Image: "registry.example.org/care/planner:0.9", Port: 80},
	}
	err = asAdmin.Create(ctx, bad)
	g.Expect(err).To(MatchError(`admission webhook "vneighbourhoodteam.teams.buurt.dev" denied the request: ` +
		`NeighbourhoodTeam.teams.buurt.dev "guarded" is invalid: [` +
		`spec.apps[0].image: Invalid value: "docker.io/evil/miner:1": blueprint guarded allows images only from registry.example.org/care/, ` +
		`spec.apps[1].name: Invalid value: "care-planner": blueprint guarded already runs an app of that name for every team; ` +
		`give the team's app another name]`))

	// A missing blueprint and coach are warnings: GitOps applies in any order.
	early := newTeam("early", "not-yet", user(anna))
	early.Spec.Coach = "not-yet-either"
	g.Expect(asAdmin.Create(ctx, early)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, early) })
	g.Expect(warnings.all()).To(ConsistOf(
		`coach "not-yet-either" does not exist (yet); the team reports CoachNotFound until it does`,
		`blueprint "not-yet" does not exist (yet); the team's workspace is made when it does`))
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(early), &teamsv1alpha1.NeighbourhoodTeam{})).To(Succeed())

	// A sleep schedule in a time zone nobody knows; one in a real zone is
	// fine (TestMemberSelfService: a member may change it).
	sleepy := newTeam("sleepy", "guarded", user(anna))
	sleepy.Spec.Sleep = &teamsv1alpha1.SleepSchedule{SleepAt: "20:00", WakeAt: "07:00",
		Days: []teamsv1alpha1.Weekday{"Monday", "Friday"}, TimeZone: "Europe/Amsterdamm"}
	err = asAdmin.Create(ctx, sleepy)
	g.Expect(err).To(MatchError(`admission webhook "vneighbourhoodteam.teams.buurt.dev" denied the request: ` +
		`NeighbourhoodTeam.teams.buurt.dev "sleepy" is invalid: spec.sleep.timeZone: Invalid value: "Europe/Amsterdamm": ` +
		`not a time zone buurt knows; use an IANA name such as Europe/Amsterdam or UTC`))
	sleepy.Spec.Sleep.TimeZone = "Europe/Amsterdam"
	g.Expect(asAdmin.Create(ctx, sleepy)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, sleepy) })

	// A name whose namespace is taken by someone else.
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-squatted"}})
	err = asAdmin.Create(ctx, newTeam("squatted", "guarded", user(anna)))
	g.Expect(err).To(MatchError(ContainSubstring(`metadata.name: Invalid value: "squatted": namespace team-squatted already exists ` +
		`and buurt does not manage it for this team; choose another name or remove the namespace`)))
}

func TestBlueprintChangesAndDeletion(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := testenv.DesignBlueprint("shared-by-two")
	create(t, bp)
	big := newTeam("big", "shared-by-two", members(5)...)
	create(t, big)
	create(t, newTeam("small", "shared-by-two", user(anna)))
	asAdmin, warnings, err := clientAs("", nil)
	g.Expect(err).NotTo(HaveOccurred())

	// Lowering the limit below a team's size is allowed, with a warning.
	g.Eventually(func(g Gomega) {
		fresh := &teamsv1alpha1.TeamBlueprint{}
		g.Expect(asAdmin.Get(ctx, client.ObjectKeyFromObject(bp), fresh)).To(Succeed())
		fresh.Spec.MaxMembers = 3
		g.Expect(asAdmin.Update(ctx, fresh)).To(Succeed())
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(warnings.all()).To(ContainElement("these teams now have more than 3 members and report SizeWithinLimit=False: big (5)"))

	// Deleting it while teams use it is not.
	err = asAdmin.Delete(ctx, bp)
	g.Expect(err).To(MatchError(`admission webhook "vteamblueprint.teams.buurt.dev" denied the request: ` +
		`teamblueprints.teams.buurt.dev "shared-by-two" is forbidden: 2 teams use it: big, small; ` +
		`move them to another blueprint or delete them first`))

	// The big team can still be edited as long as it does not grow.
	asAnna, _, err := clientAs(anna, nil)
	g.Expect(err).NotTo(HaveOccurred())
	mine := waitForSelfService(t, asAnna, "big")
	g.Expect(patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Coach = "jan" })).To(Succeed())
}

func TestCertificateFromColdStartAndRestart(t *testing.T) {
	g := NewWithT(t)
	first, again := certificates.first, certificates.afterRestart
	g.Expect(first.Data).To(HaveKey("ca.crt"))
	g.Expect(first.Data).To(HaveKey("tls.crt"))
	g.Expect(first.Data).To(HaveKey("tls.key"))
	g.Expect(again.Data).To(Equal(first.Data), "the restarted operator reused the stored certificate")
	g.Expect(certificates.caBundle).To(Equal(first.Data["ca.crt"]), "the CA was injected into the webhook configuration")
}

// A certificate that does not name every DNS name the operator is given (an
// installation from before buurt-api, whose Service it must name too) is
// cleared for the rotator to issue a new one from the same CA; one that
// does is left alone.
func TestCertificateThatMissesANameIsRenewed(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	old := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.OperatorNamespace, Name: "renewal-test"},
		Data:       certificates.first.Data,
	}
	g.Expect(env.Client.Create(ctx, old)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), old) })

	g.Expect(buurtwebhook.EnsureCertSecret(ctx, env.Client, old.Namespace, old.Name, []string{serviceName, "localhost"})).To(Succeed())
	kept := &corev1.Secret{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(old), kept)).To(Succeed())
	g.Expect(kept.ResourceVersion).To(Equal(old.ResourceVersion), "a certificate naming every name is not touched")

	const api = "buurt-api.buurt-system.svc"
	g.Expect(buurtwebhook.EnsureCertSecret(ctx, env.Client, old.Namespace, old.Name, []string{serviceName, "localhost", api})).To(Succeed())
	renewed := &corev1.Secret{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(old), renewed)).To(Succeed())
	g.Expect(renewed.Data).To(Equal(map[string][]byte{"ca.crt": old.Data["ca.crt"], "ca.key": old.Data["ca.key"]}),
		"the serving certificate and key are cleared for the rotator; the CA stays")
}
