package team_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// refused asserts that the shared server refuses password for the team's
// role with SQLSTATE 28P01 (invalid_password).
func refused(g Gomega, role, password string) {
	_, err := pgx.Connect(context.Background(), pg.URI(role, password, role))
	pgErr := &pgconn.PgError{}
	g.Expect(errors.As(err, &pgErr)).To(BeTrue(), "connecting with the old password: %v", err)
	g.Expect(pgErr.Code).To(Equal("28P01"))
}

// works asserts that the team's database Secret's uri connects.
func works(g Gomega, teamName string) {
	conn, err := pgx.Connect(context.Background(), string(dbSecret(g, teamName).Data["uri"]))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(conn.Close(context.Background())).To(Succeed())
}

// rotated waits until the team's status says its password was made anew
// for reason after since, and the Secret holds a password other than old;
// it returns the new password.
// A status change wakes no team: poke, when set, runs a pass each time.
func rotated(t *testing.T, name string, reason teamsv1alpha1.RotationReason, since time.Time, old string, poke bool) string {
	t.Helper()
	g := NewWithT(t)
	var fresh string
	g.Eventually(func(g Gomega) {
		if poke {
			_, err := reconciler.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
			g.Expect(err).NotTo(HaveOccurred())
		}
		tm := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: name}, tm)).To(Succeed())
		g.Expect(tm.Status.Credentials).NotTo(BeNil())
		g.Expect(tm.Status.Credentials.LastRotationReason).To(Equal(reason))
		g.Expect(tm.Status.Credentials.LastRotationTime.Time).To(BeTemporally(">=", since.Truncate(time.Second)))
		fresh = string(dbSecret(g, name).Data["password"])
		g.Expect(fresh).NotTo(Equal(old))
		works(g, name)
	}).WithTimeout(timeout).Should(Succeed())
	return fresh
}

// TestAMemberLeavingRotatesTheSharedPassword: removing a member takes their
// access and makes the database password anew; the old one is refused and
// its sessions end; the status and Events say so without the password or
// the person. A rotation the team asks for and a scheduled one do the same.
func TestAMemberLeavingRotatesTheSharedPassword(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-rotation", pg.Password))
	bp := sharedBlueprint("shared-rotation", "pg-admin-rotation")
	bp.Spec.Database.PasswordRotation = &teamsv1alpha1.PasswordRotation{EveryDays: 1}
	create(t, bp)
	tm := newTeam("rotation", "shared-rotation", user("anna"), user("bram"), group("nurses"))
	create(t, tm)
	tm = eventuallyCondition(t, "rotation", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	g.Expect(tm.Status.Members).To(Equal([]teamsv1alpha1.MemberStatus{
		{Subject: user("anna"), Access: teamsv1alpha1.MemberAccessGranted},
		{Subject: user("bram"), Access: teamsv1alpha1.MemberAccessGranted},
		{Subject: group("nurses"), Access: teamsv1alpha1.MemberAccessGranted},
	}))
	g.Expect(tm.Status.Credentials).NotTo(BeNil())
	g.Expect(tm.Status.Credentials.LastRotationReason).To(Equal(teamsv1alpha1.RotationCreated))
	first := string(dbSecret(g, "rotation").Data["password"])
	session, err := pgx.Connect(ctx, string(dbSecret(g, "rotation").Data["uri"]))
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = session.Close(context.Background()) })

	// bram and the group leave; carol joins.
	since := time.Now()
	edit(t, tm, func() { tm.Spec.Members = []teamsv1alpha1.Subject{user("anna"), user("carol")} })
	second := rotated(t, "rotation", teamsv1alpha1.RotationMemberRemoved, since, first, false)
	refused(g, "buurt_rotation", first)
	g.Expect(session.Ping(ctx)).NotTo(Succeed(), "the session opened with the old password was ended")
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		g.Expect(tm.Status.Members).To(Equal([]teamsv1alpha1.MemberStatus{
			{Subject: user("anna"), Access: teamsv1alpha1.MemberAccessGranted},
			{Subject: user("carol"), Access: teamsv1alpha1.MemberAccessGranted},
		}))
		g.Expect(teamEvents(g, tm)).To(ContainElements(
			inTeam("rotation", "", "Normal/CredentialsRotated/Reconcile: Made a new database password (MemberRemoved): "+
				"Secret rotation-db holds it, the old one no longer works, and the team's apps that use the database restart "+
				"once to take the new one"),
			inTeam("rotation", "", "Normal/MemberAdded/Reconcile: user carol now has access to namespace team-rotation"),
			inTeam("rotation", "", "Normal/MemberRemoved/Reconcile: user bram, group nurses left the team: "+
				"no access to namespace team-rotation any more, and the database password is made anew"),
		))
	}).WithTimeout(timeout).Should(Succeed())
	// One rotation for one edit: the status that recorded it is read back.
	g.Consistently(func(g Gomega) {
		g.Expect(string(dbSecret(g, "rotation").Data["password"])).To(Equal(second))
	}).WithTimeout(2 * time.Second).Should(Succeed())

	// The team asks.
	since = time.Now()
	edit(t, tm, func() {
		tm.Spec.Credentials = &teamsv1alpha1.TeamCredentials{RotationRequest: "2026-11-24 after the audit"}
	})
	third := rotated(t, "rotation", teamsv1alpha1.RotationRequested, since, second, false)
	refused(g, "buurt_rotation", second)
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
	g.Expect(tm.Status.Credentials.RotationRequest).To(Equal("2026-11-24 after the audit"))

	// The blueprint's day has passed since the last rotation.
	since = time.Now()
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
	base := tm.DeepCopy()
	longAgo := metav1.NewTime(time.Now().Add(-25 * time.Hour))
	tm.Status.Credentials.LastRotationTime = &longAgo
	g.Expect(env.Client.Status().Patch(ctx, tm, client.MergeFrom(base))).To(Succeed())
	fourth := rotated(t, "rotation", teamsv1alpha1.RotationScheduled, since, third, true)
	refused(g, "buurt_rotation", third)

	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
	serverLog, err := pg.Log()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(serverLog).To(ContainSubstring(`ALTER ROLE "buurt_rotation" LOGIN PASSWORD 'SCRAM-SHA-256$4096:`),
		"the server logs the statements that set passwords")
	for _, password := range []string{first, second, third, fourth} {
		expectSecretNowhere(g, tm, password)
		g.Expect(serverLog).NotTo(ContainSubstring(password))
	}
	// The status says why, not who.
	status, err := json.Marshal(tm.Status)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(status)).NotTo(ContainSubstring("bram"))
}

// TestARotationWaitsForTheServer: a member leaves while the shared server
// does not answer. Nothing changes: the old password keeps working, the
// condition and the status say the password is still to be made anew, and
// it is as soon as the server answers again.
func TestARotationWaitsForTheServer(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-rotation-outage", pg.Password))
	create(t, sharedBlueprint("shared-rotation-outage", "pg-admin-rotation-outage"))
	tm := newTeam("rotation-outage", "shared-rotation-outage", user("anna"), user("bram"))
	create(t, tm)
	eventuallyCondition(t, "rotation-outage", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	old := string(dbSecret(g, "rotation-outage").Data["password"])

	pg.Halt()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			g.Expect(pg.Restart(context.Background())).To(Succeed())
		}
	})
	since := time.Now()
	edit(t, tm, func() { tm.Spec.Members = []teamsv1alpha1.Subject{user("anna")} })
	tm = eventuallyCondition(t, "rotation-outage", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionUnknown,
		teamsv1alpha1.ServerUnreachableReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(fmt.Sprintf(
		"Shared database server 127.0.0.1:%d does not answer; buurt asks again; "+
			"the team's database, its Secret and its network policy are kept as they are; "+
			"the database password is to be made anew (MemberRemoved) once buurt reaches the server, "+
			"and the old one works until then", pg.Port)))
	g.Expect(tm.Status.Credentials.RotationPending).To(Equal(teamsv1alpha1.RotationMemberRemoved))
	g.Expect(tm.Status.Credentials.LastRotationReason).To(Equal(teamsv1alpha1.RotationCreated))
	g.Expect(tm.Status.Members).To(Equal([]teamsv1alpha1.MemberStatus{
		{Subject: user("anna"), Access: teamsv1alpha1.MemberAccessGranted},
	}))
	g.Expect(string(dbSecret(g, "rotation-outage").Data["password"])).To(Equal(old))

	g.Expect(pg.Restart(ctx)).To(Succeed())
	restarted = true
	rotated(t, "rotation-outage", teamsv1alpha1.RotationMemberRemoved, since, old, false)
	refused(g, "buurt_rotation_outage", old)
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
	g.Expect(tm.Status.Credentials.RotationPending).To(BeEmpty())
}
