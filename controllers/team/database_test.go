package team_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/controllers/team"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
)

// adminSecret is the throwaway server's admin connection in the operator's
// namespace, as a platform engineer would create it.
func adminSecret(name, password string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: name},
		StringData: map[string]string{
			"host": pg.Host, "port": strconv.Itoa(pg.Port), "user": testpg.AdminUser, "password": password, "sslmode": "disable",
		},
	}
}

func sharedBlueprint(name, adminSecretName string) *teamsv1alpha1.TeamBlueprint {
	bp := designBlueprint(name)
	bp.Spec.Database = testenv.SharedDatabase(adminSecretName)
	return bp
}

func dbSecret(g Gomega, teamName string) *corev1.Secret {
	secret := &corev1.Secret{}
	g.Expect(env.Client.Get(context.Background(),
		client.ObjectKey{Namespace: "team-" + teamName, Name: teamName + "-db"}, secret)).To(Succeed())
	return secret
}

// databaseExists asks the server itself.
func databaseExists(g Gomega, name string) (role, database bool) {
	ctx := context.Background()
	conn, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(ctx) }()
	g.Expect(conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), "+
		"EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&role, &database)).To(Succeed())
	return role, database
}

// expectSecretNowhere searches status, Events and the operator's logs for a
// password.
func expectSecretNowhere(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam, password string) {
	status, err := json.Marshal(tm.Status)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(status)).NotTo(ContainSubstring(password))
	events := &eventsv1.EventList{}
	g.Expect(env.Client.List(context.Background(), events)).To(Succeed())
	for _, e := range events.Items {
		g.Expect(e.Note).NotTo(ContainSubstring(password))
	}
	g.Expect(logs.String()).NotTo(ContainSubstring(password))
}

// expectNotShown searches the team's status and its Events for what its
// members must not read.
func expectNotShown(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam, hidden string) {
	status, err := json.Marshal(tm.Status)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(status)).NotTo(ContainSubstring(hidden))
	events := &eventsv1.EventList{}
	g.Expect(env.Client.List(context.Background(), events)).To(Succeed())
	for _, e := range events.Items {
		if e.Regarding.UID == tm.UID {
			g.Expect(e.Note).NotTo(ContainSubstring(hidden))
		}
	}
}

func TestSharedDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin", pg.Password))
	create(t, sharedBlueprint("shared", "pg-admin"))
	tm := newTeam("shared-one", "shared", user("anna"))
	create(t, tm)

	tm = eventuallyCondition(t, "shared-one", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition)).To(And(
		HaveField("Status", metav1.ConditionTrue), HaveField("Reason", teamsv1alpha1.ProvisionedReason),
		HaveField("Message", fmt.Sprintf("Database buurt_shared_one on 127.0.0.1:%d; connection in Secret shared-one-db", pg.Port))))
	g.Expect(tm.Status.Database).To(Equal(&teamsv1alpha1.TeamDatabaseStatus{ //nolint:gosec // names, not credentials
		Class: teamsv1alpha1.DatabaseClassShared, Name: "buurt_shared_one", SecretName: "shared-one-db",
	}))
	g.Expect(tm.Finalizers).To(ContainElement(team.DatabaseFinalizer))

	secret := dbSecret(g, "shared-one")
	g.Expect(secret.Data).To(HaveLen(7))
	g.Expect(string(secret.Data["host"])).To(Equal("127.0.0.1"))
	g.Expect(string(secret.Data["port"])).To(Equal(strconv.Itoa(pg.Port)))
	g.Expect(string(secret.Data["dbname"])).To(Equal("buurt_shared_one"))
	g.Expect(string(secret.Data["user"])).To(Equal("buurt_shared_one"))
	g.Expect(string(secret.Data["sslmode"])).To(Equal("disable"))
	password := string(secret.Data["password"])
	g.Expect(len(password)).To(BeNumerically(">=", 40))
	conn, err := pgx.Connect(ctx, string(secret.Data["uri"]))
	g.Expect(err).NotTo(HaveOccurred(), "the Secret's uri connects")
	g.Expect(conn.Close(ctx)).To(Succeed())

	policy := eventuallyPolicy(g, "team-shared-one", "buurt-allow-database")
	g.Expect(policy.Spec.Egress).To(HaveLen(1))
	g.Expect(policy.Spec.Egress[0].To[0].IPBlock.CIDR).To(Equal("127.0.0.1/32"))
	g.Expect(policy.Spec.Egress[0].Ports[0].Port.IntValue()).To(Equal(pg.Port))
	expectSecretNowhere(g, tm, password)

	// Secret deleted: a new password is made and set; the old one stops working.
	t.Cleanup(func() {
		if t.Failed() {
			// What the operator logged about the team helps to read a failure.
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "shared-one") {
					t.Log(line)
				}
			}
		}
	})
	g.Expect(env.Client.Delete(ctx, secret)).To(Succeed())
	var fresh string
	g.Eventually(func(g Gomega) {
		fresh = string(dbSecret(g, "shared-one").Data["password"])
		g.Expect(fresh).NotTo(BeEmpty())
		g.Expect(fresh).NotTo(Equal(password))
		conn, err := pgx.Connect(ctx, string(dbSecret(g, "shared-one").Data["uri"]))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(conn.Close(ctx)).To(Succeed())
	}).WithTimeout(timeout).Should(Succeed())
	_, err = pgx.Connect(ctx, pg.URI("buurt_shared_one", password, "buurt_shared_one"))
	g.Expect(err).To(MatchError(ContainSubstring("password authentication failed")))

	// Retain: the team goes, its data stays, and an Event says where.
	g.Expect(env.Client.Delete(ctx, tm)).To(Succeed())
	gone(g, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: tm.Name}})
	role, db := databaseExists(g, "buurt_shared_one")
	g.Expect([]bool{role, db}).To(Equal([]bool{true, true}))
	// Its members are gone with the team: the password they could read
	// opens nothing.
	refused(g, "buurt_shared_one", fresh)
	expectSecretNowhere(g, tm, fresh)
	expectSecretNowhere(g, tm, password)
}

// TestASettledSharedDatabaseIsTrustedUntilItsSecretChanges: reconciles of a
// team whose database was found in place neither read its Secret nor talk
// to the server; a change of the Secret makes the next one look again.
func TestASettledSharedDatabaseIsTrustedUntilItsSecretChanges(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-settled", pg.Password))
	create(t, sharedBlueprint("shared-settled", "pg-admin-settled"))
	create(t, newTeam("settled", "shared-settled", user("anna")))
	eventuallyCondition(t, "settled", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	reconcileTeam := func(g Gomega) {
		_, err := reconciler.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKey{Name: "settled"}})
		g.Expect(err).NotTo(HaveOccurred())
	}
	// Once the server watch has seen the server, a pass records what it
	// found in place.
	g.Eventually(func(g Gomega) {
		reconcileTeam(g)
		start := secretReadsIn("team-settled")
		reconcileTeam(g)
		g.Expect(secretReadsIn("team-settled") - start).To(BeZero())
	}).WithTimeout(timeout).Should(Succeed())
	start := secretReadsIn("team-settled")
	for range 10 {
		reconcileTeam(g)
	}
	g.Expect(secretReadsIn("team-settled")-start).To(BeZero(), "a settled team's database Secret was read again")

	// The Secret's watch wakes the team, or this reconcile comes first.
	secret := dbSecret(g, "settled")
	start = secretReadsIn("team-settled")
	edit(t, secret, func() { secret.Labels["edited"] = "by-hand" })
	g.Eventually(func(g Gomega) {
		reconcileTeam(g)
		g.Expect(secretReadsIn("team-settled") - start).To(BeNumerically(">=", 1))
	}).WithTimeout(timeout).Should(Succeed())
}

func TestSharedDatabaseDeletePolicyDropsIt(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-drop", pg.Password))
	create(t, sharedBlueprint("shared-drop", "pg-admin-drop"))
	tm := newTeam("shared-drop", "shared-drop", user("anna"))
	tm.Spec.Database = &teamsv1alpha1.TeamDatabase{ReclaimPolicy: teamsv1alpha1.ReclaimPolicyDelete}
	create(t, tm)
	eventuallyCondition(t, "shared-drop", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ProvisionedReason)

	var open *pgx.Conn
	g.Eventually(func(g Gomega) {
		var err error
		open, err = pgx.Connect(ctx, string(dbSecret(g, "shared-drop").Data["uri"]))
		g.Expect(err).NotTo(HaveOccurred())
	}).WithTimeout(timeout).Should(Succeed())
	defer func() { _ = open.Close(ctx) }()

	g.Expect(env.Client.Delete(ctx, tm)).To(Succeed())
	gone(g, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: tm.Name}})
	role, db := databaseExists(g, "buurt_shared_drop")
	g.Expect([]bool{role, db}).To(Equal([]bool{false, false}))
}

func TestAdminSecretProblemsAreReportedAndRecover(t *testing.T) {
	g := NewWithT(t)
	create(t, sharedBlueprint("shared-late", "pg-admin-late"))
	create(t, newTeam("shared-late", "shared-late", user("anna")))

	tm := eventuallyCondition(t, "shared-late", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.AdminSecretMissingReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(
		"Secret buurt-system/pg-admin-late with the shared server's admin connection does not exist; " +
			"create it with the keys host, port, user, password and sslmode"))
	g.Expect(cond(tm, teamsv1alpha1.ReadyCondition).Status).To(Equal(metav1.ConditionFalse))

	wrong := adminSecret("pg-admin-late", "not-the-admin-password")
	create(t, wrong)
	tm = eventuallyCondition(t, "shared-late", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.AuthenticationFailedReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(fmt.Sprintf(
		"Shared database server 127.0.0.1:%d refused the admin Secret's login; check its user and password", pg.Port)))
	expectSecretNowhere(g, tm, "not-the-admin-password")

	edit(t, wrong, func() { wrong.StringData = map[string]string{"password": pg.Password} })
	eventuallyCondition(t, "shared-late", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ProvisionedReason)
	eventuallyCondition(t, "shared-late", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
}

// A Shared team whose blueprint does not say where the server is gets its
// database, role and Secret, but is not Ready: its NetworkPolicies keep its
// pods from the server. The blueprint's egress makes it Ready; taking the
// egress away again takes the team's route to the server with it.
func TestSharedDatabaseWithoutEgressIsNotReady(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-no-egress", pg.Password))
	bp := sharedBlueprint("shared-no-egress", "pg-admin-no-egress")
	egress := bp.Spec.Database.Shared.Egress
	bp.Spec.Database.Shared.Egress = nil
	create(t, bp)
	create(t, newTeam("shared-no-egress", "shared-no-egress", user("anna")))

	tm := eventuallyCondition(t, "shared-no-egress", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse,
		teamsv1alpha1.NoDatabaseEgressReason)
	message := fmt.Sprintf("Database buurt_shared_no_egress on 127.0.0.1:%d and its connection Secret shared-no-egress-db are made, "+
		"but the team's NetworkPolicies keep its pods from the server: blueprint shared-no-egress does not say where the server is. "+
		"Set its spec.database.shared.egress to the server's address range (cidr: 10.0.12.5/32) or, for a server in this cluster, "+
		"its pods (peer: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: databases}}}); "+
		"the Helm chart sets it from region.defaultBlueprint.database.egress", pg.Port)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(message))
	ready := cond(tm, teamsv1alpha1.ReadyCondition)
	g.Expect([]string{string(ready.Status), ready.Reason, ready.Message}).To(Equal(
		[]string{"False", teamsv1alpha1.NoDatabaseEgressReason, "DatabaseReady: " + message}))
	g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseForming))
	// Only the route is missing: the database is provisioned and usable.
	g.Expect(tm.Status.Database).To(Equal(&teamsv1alpha1.TeamDatabaseStatus{
		Class: teamsv1alpha1.DatabaseClassShared, Name: "buurt_shared_no_egress", SecretName: "shared-no-egress-db",
	}))
	conn, err := pgx.Connect(ctx, string(dbSecret(g, "shared-no-egress").Data["uri"]))
	g.Expect(err).NotTo(HaveOccurred(), "the Secret's uri connects")
	g.Expect(conn.Close(ctx)).To(Succeed())
	g.Expect(apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Namespace: "team-shared-no-egress", Name: "buurt-allow-database"},
		&networkingv1.NetworkPolicy{}))).To(BeTrue(), "no policy opens egress to the server")

	edit(t, bp, func() { bp.Spec.Database.Shared.Egress = egress })
	tm = eventuallyCondition(t, "shared-no-egress", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition)).To(And(
		HaveField("Status", metav1.ConditionTrue), HaveField("Reason", teamsv1alpha1.ProvisionedReason)))
	g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseActive))
	policy := eventuallyPolicy(g, "team-shared-no-egress", "buurt-allow-database")
	g.Expect(policy.Spec.Egress[0].To).To(Equal([]networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "127.0.0.1/32"}}}))

	edit(t, bp, func() { bp.Spec.Database.Shared.Egress = nil })
	tm = eventuallyCondition(t, "shared-no-egress", teamsv1alpha1.ReadyCondition, metav1.ConditionFalse, teamsv1alpha1.NoDatabaseEgressReason)
	g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseDegraded))
	gone(g, policy)
}

func eventuallyPolicy(g Gomega, namespace, name string) *networkingv1.NetworkPolicy {
	policy := &networkingv1.NetworkPolicy{}
	g.Eventually(func() error {
		return env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, policy)
	}).WithTimeout(timeout).Should(Succeed())
	return policy
}

func TestSharedDatabaseDeletionWaitsForTheServer(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-outage", pg.Password))
	create(t, sharedBlueprint("shared-outage", "pg-admin-outage"))
	tm := newTeam("shared-outage", "shared-outage", user("anna"))
	tm.Spec.Database = &teamsv1alpha1.TeamDatabase{ReclaimPolicy: teamsv1alpha1.ReclaimPolicyDelete}
	create(t, tm)
	eventuallyCondition(t, "shared-outage", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ProvisionedReason)

	pg.Halt()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			g.Expect(pg.Restart(context.Background())).To(Succeed())
		}
	})
	g.Expect(env.Client.Delete(ctx, tm)).To(Succeed())
	tm = eventuallyCondition(t, "shared-outage", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionUnknown, teamsv1alpha1.ServerUnreachableReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(fmt.Sprintf(
		"Shared database server 127.0.0.1:%d does not answer; buurt asks again; "+
			"the team's database, its Secret and its network policy are kept as they are", pg.Port)))
	g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseTerminating))
	g.Consistently(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		g.Expect(tm.Finalizers).To(ContainElement(team.DatabaseFinalizer))
	}).WithTimeout(3 * time.Second).Should(Succeed())

	g.Expect(pg.Restart(ctx)).To(Succeed())
	restarted = true
	gone(g, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: tm.Name}})
	role, db := databaseExists(g, "buurt_shared_outage")
	g.Expect([]bool{role, db}).To(Equal([]bool{false, false}))
}

// A team named after the shared server's admin user (buurt_admin here) is
// not handed the admin's account: its database is reported as a conflict,
// nothing on the server changes, and deleting the team drops nothing.
func TestSharedDatabaseNeverTakesOverARole(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-conflict", pg.Password))
	create(t, sharedBlueprint("shared-conflict", "pg-admin-conflict"))
	tm := newTeam("admin", "shared-conflict", user("anna"))
	tm.Spec.Database = &teamsv1alpha1.TeamDatabase{ReclaimPolicy: teamsv1alpha1.ReclaimPolicyDelete}
	create(t, tm)

	tm = eventuallyCondition(t, "admin", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.DatabaseConflictReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(fmt.Sprintf(
		"Shared database server 127.0.0.1:%d has a role of the name buurt gives this team's database that buurt did not make for this team, "+
			"and buurt does not take it over; give the team another name; the operator's log names the role", pg.Port)))
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: "team-admin", Name: "admin-db"}, &corev1.Secret{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no Secret with the admin's name: %v", err)
	conn, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred(), "the admin's password is unchanged")
	g.Expect(conn.Close(ctx)).To(Succeed())

	g.Expect(env.Client.Delete(ctx, tm)).To(Succeed())
	gone(g, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: tm.Name}})
	expectEvent(g, tm, teamsv1alpha1.DatabaseConflictReason, fmt.Sprintf(
		"Dropped nothing on 127.0.0.1:%d: it has a role of the name buurt gives this team's database that buurt did not make for this team", pg.Port))
	expectNotShown(g, tm, testpg.AdminUser)
	role, _ := databaseExists(g, "buurt_admin")
	g.Expect(role).To(BeTrue())
}

// A blueprint that moves to another class leaves an existing team's database
// as it is, reachable and reported; deleting the team then keeps the data,
// as buurt no longer knows the server, even under reclaimPolicy Delete.
func TestDatabaseClassChangeLeavesTheDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-moved", pg.Password))
	bp := sharedBlueprint("shared-moved", "pg-admin-moved")
	create(t, bp)
	tm := newTeam("shared-moved", "shared-moved", user("anna"))
	tm.Spec.Database = &teamsv1alpha1.TeamDatabase{ReclaimPolicy: teamsv1alpha1.ReclaimPolicyDelete}
	create(t, tm)
	eventuallyCondition(t, "shared-moved", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ProvisionedReason)
	uri := string(dbSecret(g, "shared-moved").Data["uri"])

	edit(t, bp, func() {
		bp.Spec.Database = teamsv1alpha1.BlueprintDatabase{Class: teamsv1alpha1.DatabaseClassNone, ReclaimPolicy: teamsv1alpha1.ReclaimPolicyRetain}
	})
	tm = eventuallyCondition(t, "shared-moved", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.DatabaseClassMismatchReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(
		"The team's database is Shared but its blueprint or override now says None; buurt leaves the database as it is " +
			"and does not move data: migrate it and make a new team, or set the class back"))
	g.Expect(tm.Status.Database).To(Equal(&teamsv1alpha1.TeamDatabaseStatus{
		Class: teamsv1alpha1.DatabaseClassShared, Name: "buurt_shared_moved", SecretName: "shared-moved-db",
	}))
	g.Consistently(func(g Gomega) {
		g.Expect(string(dbSecret(g, "shared-moved").Data["uri"])).To(Equal(uri))
		eventuallyPolicy(g, "team-shared-moved", "buurt-allow-database")
	}).WithTimeout(2 * time.Second).Should(Succeed())
	conn, err := pgx.Connect(ctx, uri)
	g.Expect(err).NotTo(HaveOccurred(), "the team still reaches its database")
	g.Expect(conn.Close(ctx)).To(Succeed())

	g.Expect(env.Client.Delete(ctx, tm)).To(Succeed())
	gone(g, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: tm.Name}})
	expectEvent(g, tm, teamsv1alpha1.RetainedReason, "Database buurt_shared_moved on the shared server is kept: "+
		"the team's blueprint no longer names the server; drop it by hand when it is no longer needed")
	role, db := databaseExists(g, "buurt_shared_moved")
	g.Expect([]bool{role, db}).To(Equal([]bool{true, true}))
}

// TestNoDriftForGitOps: buurt writes only status and its finalizer to a team
// it is given, so a GitOps tool that applied the team sees no drift.
func TestNoDriftForGitOps(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-gitops", pg.Password))
	create(t, sharedBlueprint("gitops", "pg-admin-gitops"))
	tm := newTeam("gitops", "gitops", user("anna"))
	tm.Spec.Apps = []teamsv1alpha1.App{{Name: "rota", Image: "registry.example.org/care/rota:2.0.1", Port: 8080}}
	g.Expect(env.Client.Create(ctx, tm, client.FieldOwner("argocd-controller"))).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, tm) })
	applied := tm.DeepCopy()

	markAvailable(t, "team-gitops", "rota")
	tm = eventuallyCondition(t, "gitops", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	g.Expect(tm.Generation).To(Equal(applied.Generation), "nothing wrote to the spec")
	g.Expect(tm.Spec).To(Equal(applied.Spec))
	g.Expect(tm.Labels).To(Equal(applied.Labels))
	g.Expect(tm.Annotations).To(Equal(applied.Annotations))
	g.Expect(tm.Finalizers).To(Equal([]string{team.DatabaseFinalizer}))
	for _, entry := range tm.ManagedFields {
		if entry.Manager == "argocd-controller" {
			continue
		}
		if entry.Subresource == "status" {
			continue
		}
		g.Expect(entry.FieldsV1.GetRawString()).To(Equal(`{"f:metadata":{"f:finalizers":{".":{},"v:\"teams.buurt.dev/database\"":{}}}}`),
			"%s wrote more than the finalizer", entry.Manager)
	}
}

// TestAdminNameNeverInTeamStatus drives the failures whose PostgreSQL text
// names the shared server's admin user — a wrong password, a user that does
// not exist, an admin without the privileges buurt needs — and expects the
// team's conditions and Events to say what happened in buurt's words,
// without the name.
func TestAdminNameNeverInTeamStatus(t *testing.T) {
	ctx := context.Background()
	conn, err := pg.Connect(ctx)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	// May log in, and nothing more.
	_, err = conn.Exec(ctx, "CREATE ROLE powerless_admin LOGIN PASSWORD 'powerless-admin'")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	NewWithT(t).Expect(conn.Close(ctx)).To(Succeed())

	for _, tc := range []struct {
		name, user, password string
		reason, message      string
	}{
		{"wrong-password", testpg.AdminUser, "not-the-admin-password", teamsv1alpha1.AuthenticationFailedReason,
			"Shared database server 127.0.0.1:%d refused the admin Secret's login; check its user and password"},
		{"wrong-user", "no_such_admin", pg.Password, teamsv1alpha1.AuthenticationFailedReason,
			"Shared database server 127.0.0.1:%d refused the admin Secret's login; check its user and password"},
		{"powerless", "powerless_admin", "powerless-admin", teamsv1alpha1.DatabaseUnavailableReason,
			"Shared database server 127.0.0.1:%d answered with SQLSTATE 42501: the admin user lacks a privilege buurt needs " +
				"(CREATEROLE, CREATEDB, and CONNECT on database postgres); the operator's log has the server's words"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			// Not admin-*: the team's own database would be buurt_admin_*.
			name := "hidden-" + tc.name
			secret := adminSecret(name, tc.password)
			secret.StringData["user"] = tc.user
			create(t, secret)
			create(t, sharedBlueprint(name, name))
			create(t, newTeam(name, name, user("anna")))
			tm := eventuallyCondition(t, name, teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, tc.reason)
			g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(fmt.Sprintf(tc.message, pg.Port)))
			expectEvent(g, tm, tc.reason, fmt.Sprintf(tc.message, pg.Port))
			expectNotShown(g, tm, tc.user)
			expectNotShown(g, tm, testpg.AdminUser)
		})
	}
}

// TestLongTeamNamesCannotTakeEachOthersDatabase: before, a 58-character
// team's database was named buurt_, 48 of its characters and 8 hex digits of
// a hash, which a 57-character team could spell out and take. The
// 58-character team made then keeps its database under that name (buurt
// finds it by the team named in the role's mark); the 57-character team
// that spells it out is refused it and gets none of its data.
func TestLongTeamNamesCannotTakeEachOthersDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	long := "upgraded-" + strings.Repeat("l", 49)
	old := "buurt_upgraded_" + strings.Repeat("l", 39) + "_5eed0bad"
	mimic := "upgraded-" + strings.Repeat("l", 39) + "-5eed0bad"
	g.Expect([]int{len(long), len(old), len(mimic)}).To(Equal([]int{58, 63, 57}))
	// What buurt made for the long team before; its status is gone (say,
	// the team was restored from git).
	conn, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	for _, stmt := range []string{
		"CREATE ROLE " + old + " LOGIN",
		"COMMENT ON ROLE " + old + " IS 'buurt: database of team " + long + "'",
		"GRANT " + old + " TO CURRENT_USER",
		"CREATE DATABASE " + old + " OWNER " + old,
	} {
		_, err := conn.Exec(ctx, stmt)
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Expect(conn.Close(ctx)).To(Succeed())
	create(t, adminSecret("pg-admin-long", pg.Password))
	create(t, sharedBlueprint("long-names", "pg-admin-long"))

	create(t, newTeam(mimic, "long-names", user("anna")))
	tm := eventuallyCondition(t, mimic, teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.DatabaseConflictReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(fmt.Sprintf(
		"Shared database server 127.0.0.1:%d has a role of the name buurt gives this team's database, made by buurt for another team, "+
			"and buurt does not take it over; give the team another name; the operator's log names the role", pg.Port)))

	create(t, newTeam(long, "long-names", user("anna")))
	tm = eventuallyCondition(t, long, teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ProvisionedReason)
	g.Expect(tm.Status.Database).To(Equal(&teamsv1alpha1.TeamDatabaseStatus{
		Class: teamsv1alpha1.DatabaseClassShared, Name: old, SecretName: long + "-db",
	}))
	g.Expect(string(dbSecret(g, long).Data["user"])).To(Equal(old))
}
