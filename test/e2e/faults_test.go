//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
)

// restoreAdminSecret puts the shared server's admin Secret back as the suite
// made it.
func restoreAdminSecret(ctx context.Context) error {
	return localcluster.ApplyAdminSecret(ctx, admin, "pg-admin", map[string]string{
		"host": pg.Host, "port": strconv.Itoa(pg.Port), "user": testpg.AdminUser, "password": pg.Password, "sslmode": "disable",
	})
}

// databaseRoute is the team's NetworkPolicy to its shared server.
func databaseRoute(g Gomega, team string) *networkingv1.NetworkPolicy {
	policy := &networkingv1.NetworkPolicy{}
	g.Expect(admin.Get(context.Background(), client.ObjectKey{Namespace: "team-" + team, Name: "buurt-allow-database"}, policy)).To(Succeed())
	return policy
}

// A Ready Shared team keeps its route to its database server (the same
// NetworkPolicy object) and its connection Secret while buurt cannot see the
// server, for a minute with the server stopped and while its admin Secret
// is gone; it says why, and is Ready again within seconds of the server's
// return.
func TestDatabaseOutageTakesNothingAway(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	g.Expect(admin.Create(ctx, sharedBlueprint("outage"))).To(Succeed())
	g.Expect(admin.Create(ctx, newTeam("outage", "outage", user("anna@care.example.org")))).To(Succeed())
	eventuallyTeam(t, "outage", ready)
	route := databaseRoute(g, "outage")
	secret := &corev1.Secret{}
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "team-outage", Name: "outage-db"}, secret)).To(Succeed())
	kept := func(g Gomega) {
		g.Expect(databaseRoute(g, "outage").UID).To(Equal(route.UID))
		now := &corev1.Secret{}
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(secret), now)).To(Succeed())
		g.Expect(now.UID).To(Equal(secret.UID))
	}
	keptMessage := "; the team's database, its Secret and its network policy are kept as they are"

	pg.Halt()
	restarted := false
	t.Cleanup(func() {
		// A second start would find the first one's port taken and look
		// ready: start it only when the test did not.
		if !restarted {
			_ = pg.Restart(context.Background())
		}
	})
	stopped := time.Now()
	team := eventuallyTeam(t, "outage", func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		conditionIs(g, team, teamsv1alpha1.DatabaseReadyCondition, teamsv1alpha1.ServerUnreachableReason, metav1.ConditionUnknown)
	})
	t.Logf("DatabaseReady said ServerUnreachable %s after the server stopped", time.Since(stopped).Round(time.Second))
	g.Expect(meta.FindStatusCondition(team.Status.Conditions, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(fmt.Sprintf(
		"Shared database server 127.0.0.1:%d does not answer; buurt asks again%s", pg.Port, keptMessage)))
	g.Consistently(kept).WithTimeout(time.Minute - time.Since(stopped)).WithPolling(5 * time.Second).Should(Succeed())
	g.Expect(pg.Restart(ctx)).To(Succeed())
	restarted = true
	back := time.Now()
	eventuallyTeam(t, "outage", ready)
	t.Logf("Ready %s after the server came back", time.Since(back).Round(time.Second))

	g.Expect(admin.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: localcluster.OperatorNamespace, Name: "pg-admin"}})).To(Succeed())
	t.Cleanup(func() { _ = restoreAdminSecret(context.Background()) })
	team = eventuallyTeam(t, "outage", func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		conditionIs(g, team, teamsv1alpha1.DatabaseReadyCondition, teamsv1alpha1.AdminSecretMissingReason, metav1.ConditionUnknown)
	})
	g.Expect(meta.FindStatusCondition(team.Status.Conditions, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(
		"Secret buurt-system/pg-admin with the shared server's admin connection does not exist; " +
			"create it with the keys host, port, user, password and sslmode" + keptMessage))
	g.Consistently(kept).WithTimeout(10 * time.Second).WithPolling(2 * time.Second).Should(Succeed())
	g.Expect(restoreAdminSecret(ctx)).To(Succeed())
	eventuallyTeam(t, "outage", ready)
	kept(g)
}

// A server that takes connections and never answers (SIGSTOP) holds up no
// other team: a team without a database made meanwhile is Ready within
// seconds, while the teams on that server soon say it does not answer, and
// all recover when it answers again.
func TestSilentServerHoldsUpNoOne(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := sharedBlueprint("silent")
	bp.Spec.Apps = nil
	g.Expect(admin.Create(ctx, bp)).To(Succeed())
	// More Shared teams than the operator has workers.
	var shared []string
	for i := range 5 {
		name := fmt.Sprintf("silent-%d", i)
		shared = append(shared, name)
		g.Expect(admin.Create(ctx, newTeam(name, "silent", user("anna@care.example.org")))).To(Succeed())
	}
	for _, name := range shared {
		eventuallyTeam(t, name, ready)
	}
	g.Expect(admin.Create(ctx, testenv.DesignBlueprint("silent-none"))).To(Succeed())

	g.Expect(pg.Pause()).To(Succeed())
	t.Cleanup(func() { _ = pg.Resume() })
	paused := time.Now()
	// Every Shared team is reconciled, and asks the silent server.
	for _, name := range shared {
		team := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: name}}
		edit(t, team, func() { team.Spec.Members = append(team.Spec.Members, user("bram@care.example.org")) })
	}
	created := time.Now()
	g.Expect(admin.Create(ctx, newTeam("silent-none", "silent-none", user("anna@care.example.org")))).To(Succeed())
	g.Eventually(func(g Gomega) {
		team := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Name: "silent-none"}, team)).To(Succeed())
		ready(g, team)
	}).WithTimeout(10*time.Second).WithPolling(200*time.Millisecond).Should(Succeed(),
		"a team without a database is Ready within 10 s while the shared server is silent")
	t.Logf("the team without a database was Ready %s after it was made", time.Since(created).Round(100*time.Millisecond))
	for _, name := range shared {
		g.Eventually(func(g Gomega) {
			team := &teamsv1alpha1.NeighbourhoodTeam{}
			g.Expect(admin.Get(ctx, client.ObjectKey{Name: name}, team)).To(Succeed())
			conditionIs(g, team, teamsv1alpha1.DatabaseReadyCondition, teamsv1alpha1.ServerUnreachableReason, metav1.ConditionUnknown)
		}).WithTimeout(15*time.Second-time.Since(paused)).WithPolling(200*time.Millisecond).Should(Succeed(),
			"team %s says within 15 s that its server does not answer", name)
	}
	t.Logf("every Shared team said ServerUnreachable %s after the server went silent", time.Since(paused).Round(100*time.Millisecond))

	g.Expect(pg.Resume()).To(Succeed())
	for _, name := range shared {
		eventuallyTeam(t, name, ready)
	}
}
