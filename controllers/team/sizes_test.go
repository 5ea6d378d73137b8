package team_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// TestDatabaseSizeIsReadAndFollowed: a team's Shared database has its size
// in status.usage from when it is made, as pg_database_size says it; the
// server watch's reads (every 2 s in these tests) write it again once it
// moves, and not while it stays.
func TestDatabaseSizeIsReadAndFollowed(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-sized", pg.Password))
	create(t, sharedBlueprint("sized", "pg-admin-sized"))
	create(t, newTeam("sized-one", "sized", user("anna")))
	tm := eventuallyCondition(t, "sized-one", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)

	sizeOnServer := func(g Gomega) resource.Quantity {
		conn, err := pg.Connect(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = conn.Close(ctx) }()
		var size int64
		g.Expect(conn.QueryRow(ctx, "SELECT pg_database_size('buurt_sized_one')").Scan(&size)).To(Succeed())
		return teamsv1alpha1.DatabaseSizeOf(size)
	}
	made := sizeOnServer(g)
	g.Expect(writtenSize(tm)).To(Equal(made.String()), "read when the database was made")
	g.Expect(series(g, "buurt_team_database_size_bytes")).To(HaveKeyWithValue("team=sized-one", made.AsApproximateFloat64()))

	// Reads that find the same size write nothing.
	time.Sleep(3 * reconciler.DatabaseSizeInterval)
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "sized-one"}, tm)).To(Succeed())
	settled := tm.ResourceVersion
	time.Sleep(3 * reconciler.DatabaseSizeInterval)
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "sized-one"}, tm)).To(Succeed())
	g.Expect(tm.ResourceVersion).To(Equal(settled))

	// The team writes 20 MiB or so: the next read sees it.
	conn, err := pgx.Connect(ctx, string(dbSecret(g, "sized-one").Data["uri"]))
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "CREATE TABLE visits AS SELECT repeat('x', 1000) AS note FROM generate_series(1, 20000)")
	g.Expect(err).NotTo(HaveOccurred())
	grown := sizeOnServer(g)
	g.Expect(grown.Value() - made.Value()).To(BeNumerically(">=", 15<<20))
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "sized-one"}, tm)).To(Succeed())
		g.Expect(writtenSize(tm)).To(Equal(grown.String()))
		g.Expect(series(g, "buurt_team_database_size_bytes")).To(HaveKeyWithValue("team=sized-one", grown.AsApproximateFloat64()))
	}).WithTimeout(timeout).Should(Succeed())
}

// writtenSize is the database size team's status says, "" when none.
func writtenSize(tm *teamsv1alpha1.NeighbourhoodTeam) string {
	if tm.Status.Usage == nil || tm.Status.Usage.DatabaseSize == nil {
		return ""
	}
	return tm.Status.Usage.DatabaseSize.String()
}
