//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/countingproxy"
	"github.com/buurt-dev/buurt/internal/kinds"
	"github.com/buurt-dev/buurt/internal/operatorprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/webhook"
)

// teamController is the name controller-runtime gives the team controller
// (the kind it is for, in lower case): the label of its metrics.
const teamController = "neighbourhoodteam"

// quietFor is how long the operator must send no mutating request to count
// as settled.
const quietFor = 5 * time.Second

// oncePerStart are the writes the operator makes each time it starts,
// whatever the number of teams, with why; a restart may make these and no
// others. The suite's operator runs without leader election (one replica),
// so it writes no Lease.
var oncePerStart = map[string]string{
	"PUT /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/" + webhook.ConfigurationName: "" +
		"the certificate rotator (cert-controller) puts its CA into the webhook configuration with an " +
		"unconditional update whenever it reconciles its Secret, and it does at every start; an unchanged " +
		"update changes nothing at the apiserver",
}

// TestARestartedOperatorWritesNothing stops the operator once every team
// is settled, starts it again, waits until it has reconciled every team,
// and counts what it wrote meanwhile at the proxy in front of it: nothing
// but the writes it makes once per start (oncePerStart) and the reviews it
// asks (questions, not writes). The objects of its teams keep their
// resourceVersions and the teams stay Ready.
//
// Other tests of the suite leave teams behind, some still being deleted.
// The test waits until none is, and then asks that the restart writes
// nothing at all, not only nothing for its own teams: every team that is
// settled is unchanged, and a write for any of them is the same fault. The
// proxy keeps every name in a request's path, so the counts printed on a
// failure say whose object was written.
func TestARestartedOperatorWritesNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	shared := sharedBlueprint("restart-shared")
	none := testenv.DesignBlueprint("restart-none")
	none.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	coach := &teamsv1alpha1.Coach{
		ObjectMeta: metav1.ObjectMeta{Name: "restart-coach"},
		Spec:       teamsv1alpha1.CoachSpec{Subject: user("jan@care.example.org"), MaxTeams: 5},
	}
	nurses := teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindGroup, Name: "restart-nurses"}
	coached := newTeam("restart-coached", shared.Name, user("anna@care.example.org"), nurses)
	coached.Spec.Coach = coach.Name
	plain := newTeam("restart-plain", shared.Name, user("bram@care.example.org"))
	noDatabase := newTeam("restart-no-database", none.Name, user("cor@care.example.org"), nurses)
	noDatabase.Spec.Apps = []teamsv1alpha1.App{{Name: "rota", Image: "registry.example.org/care/rota:2.0.1", Port: 9000}}
	teams := []*teamsv1alpha1.NeighbourhoodTeam{coached, plain, noDatabase}

	for _, obj := range []client.Object{shared, none, coach} {
		g.Expect(admin.Create(ctx, obj)).To(Succeed())
	}
	creating := operatorProxy.Snapshot()
	for _, team := range teams {
		g.Expect(admin.Create(ctx, team)).To(Succeed())
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, team := range teams {
			_ = admin.Delete(ctx, team)
		}
		for _, team := range teams {
			reallyGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-" + team.Name}})
		}
		for _, obj := range []client.Object{coach, shared, none} {
			_ = admin.Delete(ctx, obj)
		}
	})
	for _, team := range teams {
		eventuallyTeam(t, team.Name, ready)
	}
	// A new team costs no question to the authorizer, and no read of a
	// Secret in a namespace made a moment ago, which cannot hold one yet (a
	// later reconcile may read the Secret made, before its watch has it).
	created := operatorProxy.Snapshot().Since(creating).Kinds()
	g.Expect(created).NotTo(HaveKey(HavePrefix("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews")))
	for _, team := range []*teamsv1alpha1.NeighbourhoodTeam{coached, plain} {
		secret := fmt.Sprintf("/api/v1/namespaces/team-%s/secrets/%s-db", team.Name, team.Name)
		g.Expect(created).To(HaveKey("PATCH(apply) "+secret), "the operator made the database Secret of team %s", team.Name)
		g.Expect(created).NotTo(HaveKey("GET "+secret+" → Not Found"), "the operator looked for the database Secret of new team %s", team.Name)
	}
	waitUntilNoTeamIsLeaving(t)
	waitUntilQuiet(t)
	before := resourceVersions(g, teams, shared, none, coach)
	// The teams' children are found by their label.
	g.Expect(before).To(HaveKey("Namespace /team-restart-plain"))
	g.Expect(before).To(HaveKey("Secret team-restart-plain/restart-plain-db"))
	g.Expect(before).To(HaveKey("Deployment team-restart-no-database/rota"))

	operator.Stop()
	requestsBefore := operatorProxy.Snapshot()
	g.Expect(operator.Start()).To(Succeed())
	// Whatever happens below, the tests after this one, and this one's
	// clean-up, find the webhooks served. Waiting for them makes and
	// deletes a blueprint, a write of the operator's: it is done last.
	t.Cleanup(func() { NewWithT(t).Expect(operatorprocess.WaitForWebhooks(context.Background(), admin)).To(Succeed()) })
	waitUntilEveryTeamIsReconciled(t)
	waitUntilQuiet(t)

	written := operatorProxy.Snapshot().Since(requestsBefore)
	t.Logf("the restarted operator sent %d requests, %d of them mutating (reviews included):\n%s",
		written.Total(), written.Mutating(), formatKinds(written.Kinds()))
	writes := written.Kinds(countingproxy.ClassWrite, countingproxy.ClassEvent)
	for kind := range oncePerStart {
		delete(writes, kind)
	}
	g.Expect(writes).To(BeEmpty(), "the restarted operator wrote (requests by kind, besides those it makes once "+
		"per start and the reviews it asks):\n%s", formatKinds(writes))
	for _, team := range teams {
		got := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(team), got)).To(Succeed())
		ready(g, got)
	}
	g.Expect(resourceVersions(g, teams, shared, none, coach)).To(Equal(before))
}

// waitUntilNoTeamIsLeaving waits until no team is being deleted and no
// namespace of buurt's is terminating: what other tests deleted is gone, so
// the operator has nothing left to do for them.
func waitUntilNoTeamIsLeaving(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	NewWithT(t).Eventually(func(g Gomega) {
		teams := &teamsv1alpha1.NeighbourhoodTeamList{}
		g.Expect(admin.List(ctx, teams)).To(Succeed())
		for _, team := range teams.Items {
			g.Expect(team.DeletionTimestamp).To(BeNil(), "team %s is being deleted", team.Name)
		}
		namespaces := &corev1.NamespaceList{}
		g.Expect(admin.List(ctx, namespaces, client.MatchingLabels{teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue})).To(Succeed())
		for _, ns := range namespaces.Items {
			g.Expect(ns.Status.Phase).NotTo(Equal(corev1.NamespaceTerminating), "namespace %s is terminating", ns.Name)
		}
	}).WithTimeout(2 * timeout).WithPolling(time.Second).Should(Succeed())
}

// waitUntilQuiet waits until the operator has sent no mutating request for
// quietFor. It is a wait, not an assertion: what the operator sends
// meanwhile is counted all the same.
func waitUntilQuiet(t *testing.T) {
	t.Helper()
	NewWithT(t).Eventually(func() time.Duration {
		return time.Since(operatorProxy.LastMutation())
	}).WithTimeout(timeout).WithPolling(500*time.Millisecond).Should(BeNumerically(">=", quietFor),
		"the operator is settled: it sent no mutating request for %s", quietFor)
}

// waitUntilEveryTeamIsReconciled waits until the operator, counting from
// its start, has reconciled at least as many times as there are teams
// (each team is queued once as its informer starts) and its team queue is
// empty and idle.
func waitUntilEveryTeamIsReconciled(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	g := NewWithT(t)
	teams := &teamsv1alpha1.NeighbourhoodTeamList{}
	g.Expect(admin.List(ctx, teams)).To(Succeed())
	metric := func(g Gomega, m operatorprocess.Metrics, name, label string) float64 {
		v, found := m.Sum(name, map[string]string{label: teamController})
		g.Expect(found).To(BeTrue(), "the operator's metrics have %s{%s=%q}", name, label, teamController)
		return v
	}
	g.Eventually(func(g Gomega) {
		m, err := operator.Metrics(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(metric(g, m, "controller_runtime_reconcile_total", "controller")).To(BeNumerically(">=", len(teams.Items)))
		g.Expect(metric(g, m, "workqueue_depth", "name")).To(BeZero())
		g.Expect(metric(g, m, "controller_runtime_active_workers", "controller")).To(BeZero())
	}).WithTimeout(timeout).WithPolling(200*time.Millisecond).Should(Succeed(),
		"the restarted operator reconciles all %d teams", len(teams.Items))
}

// resourceVersions are the resourceVersions of the teams, of every object
// labelled as one of theirs, and of others, by kind, namespace and name.
func resourceVersions(g Gomega, teams []*teamsv1alpha1.NeighbourhoodTeam, others ...client.Object) map[string]string {
	ctx := context.Background()
	out := map[string]string{}
	add := func(kind string, obj metav1.Object) {
		out[fmt.Sprintf("%s %s/%s", kind, obj.GetNamespace(), obj.GetName())] = obj.GetResourceVersion()
	}
	for _, obj := range others {
		got := obj.DeepCopyObject().(client.Object)
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), got)).To(Succeed())
		add(fmt.Sprintf("%T", obj), got)
	}
	for _, team := range teams {
		got := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(team), got)).To(Succeed())
		add("NeighbourhoodTeam", got)
		for _, obj := range append(kinds.Managed(), &corev1.Secret{}) {
			gvk, err := apiutil.GVKForObject(obj, testenv.Scheme)
			g.Expect(err).NotTo(HaveOccurred())
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			g.Expect(admin.List(ctx, list, client.MatchingLabels{teamsv1alpha1.TeamLabel: team.Name})).To(Succeed())
			for _, item := range list.Items {
				add(gvk.Kind, &item)
			}
		}
	}
	return out
}

// formatKinds is one line per kind of request, most first.
func formatKinds(kinds map[string]int64) string {
	keys := slices.SortedFunc(maps.Keys(kinds), func(a, b string) int {
		if kinds[a] != kinds[b] {
			return int(kinds[b] - kinds[a])
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %5d  %s\n", kinds[k], k)
	}
	if b.Len() == 0 {
		return "  none\n"
	}
	return b.String()
}
