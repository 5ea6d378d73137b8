//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
)

// TestTeamUsage: a team with apps whose pods really count against its
// quota shows in its status what it uses of each resource of the quota, in
// steps of 5%, with the quota's hard; the cost estimate from the
// blueprint's prices is what a hand computation makes of it; and kubectl
// get shows both in the Usage column.
func TestTeamUsage(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// docs/observability.md's price table and example.
	blocks := fencedBlocks(t, "observability.md", "## Scraping")
	g.Expect(blocks).To(HaveLen(3))
	priced := &teamsv1alpha1.TeamBlueprint{}
	g.Expect(yaml.UnmarshalStrict([]byte(blocks[0].body), priced)).To(Succeed())
	g.Expect(priced.Spec.Prices).To(Equal(&teamsv1alpha1.Prices{Currency: "EUR", CPUHour: "0.031", MemoryGiBHour: "0.004",
		StorageGiBMonth: "0.10", DatabaseMonth: "5"}))
	bp := sharedBlueprint("e2e-usage")
	bp.Spec.Prices = priced.Spec.Prices
	team := newTeam("e2e-usage", bp.Name, user("uma@care.example.org"), user("ugo@care.example.org"))
	team.Spec.Apps = []teamsv1alpha1.App{{Name: "rota", Image: "registry.example.org/care/rota:2.0.1", Port: 9000, Replicas: ptr.To[int32](3)}}
	readyTeam(t, bp, team)

	// The quota counts the four pods (three of rota, one of the
	// blueprint's app) with the LimitRange's default requests.
	quota := &corev1.ResourceQuota{}
	var usage *teamsv1alpha1.TeamUsage
	g.Eventually(func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "team-e2e-usage", Name: "buurt-quota"}, quota)).To(Succeed())
		g.Expect(quota.Status.Used).To(HaveKeyWithValue(corev1.ResourcePods, resource.MustParse("4")))
		live := eventuallyTeam(t, "e2e-usage", ready)
		g.Expect(live.Status.Usage).NotTo(BeNil())
		usage = live.Status.Usage
		var names []string
		for _, r := range usage.Resources {
			names = append(names, r.Name)
			hard, used := quota.Status.Hard[corev1.ResourceName(r.Name)], quota.Status.Used[corev1.ResourceName(r.Name)]
			g.Expect(r.Hard.Cmp(hard)).To(BeZero(), r.Name)
			percent := new(big.Int).Div(new(big.Int).Mul(big.NewInt(used.MilliValue()), big.NewInt(100)), big.NewInt(hard.MilliValue()))
			g.Expect(*r.Percent).To(BeEquivalentTo(percent.Int64()/5*5), "%s: %s of %s", r.Name, used.String(), hard.String())
		}
		g.Expect(names).To(Equal([]string{"pods", "requests.cpu", "requests.memory", "requests.storage"}))
	}).WithTimeout(timeout).Should(Succeed())

	// By hand: CPUs and GiB of memory requested for 730 hours, GiB of
	// storage for a month, and the database.
	used := func(name string) float64 {
		for _, r := range usage.Resources {
			if r.Name == name {
				return r.Used.AsApproximateFloat64()
			}
		}
		return 0
	}
	gib := float64(1 << 30)
	want := used("requests.cpu")*0.031*730 + used("requests.memory")/gib*0.004*730 + used("requests.storage")/gib*0.10 + 5
	g.Expect(usage.EstimatedMonthlyCost).NotTo(BeNil())
	g.Expect(usage.EstimatedMonthlyCost.Currency).To(Equal("EUR"))
	g.Expect(usage.EstimatedMonthlyCost.Amount).To(Equal(fmt.Sprintf("%.2f", want)))
	g.Expect(used("requests.cpu")).To(BeNumerically(">", 0), "the pods' requests are counted")

	// Its Shared database's size, read when it was made, as
	// docs/observability.md reads it.
	conn, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(ctx) }()
	var size int64
	g.Expect(conn.QueryRow(ctx, "SELECT pg_database_size($1)", database.Name("e2e-usage")).Scan(&size)).To(Succeed())
	stdout, stderr, err := commandAs(t, "")(strings.ReplaceAll(blocks[2].body, "riverside", "e2e-usage"))
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	wantSize := teamsv1alpha1.DatabaseSizeOf(size)
	g.Expect(stdout).To(Equal(wantSize.String()))

	// kubectl get: the doc's columns, and its example's usage, which is
	// this team's.
	stdout, stderr, err = commandAs(t, "")("kubectl get neighbourhoodteam e2e-usage")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	got, doc := strings.Split(strings.TrimSpace(stdout), "\n"), strings.Split(strings.TrimSpace(blocks[1].body), "\n")
	g.Expect(got).To(HaveLen(2))
	g.Expect(strings.Fields(got[0])).To(Equal(strings.Fields(doc[0])))
	g.Expect(usageCell(doc)).To(Equal(usage.Summary), "docs/observability.md's example is this team's")
	g.Expect(usageCell(got)).To(Equal(usage.Summary))
}

// usageCell is the USAGE column of a kubectl get table's first row.
func usageCell(table []string) string {
	header, row := table[0], table[1]
	start := strings.Index(header, "USAGE")
	end := start + len("USAGE") + strings.Index(header[start+len("USAGE"):], "AGE")
	return strings.TrimSpace(row[start:min(end, len(row))])
}
