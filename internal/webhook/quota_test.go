package webhook_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestMembersDoNotBuyQuota runs config/policies/team-quota.yaml in the
// apiserver: the per-member quota counts only the member entries a platform
// engineer set, so names a member adds buy nothing.
func TestMembersDoNotBuyQuota(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := testenv.DesignBlueprint("quota")
	create(t, bp)
	asPia, _, err := clientAs(platformEngineer, nil)
	g.Expect(err).NotTo(HaveOccurred())
	stored := func() *teamsv1alpha1.NeighbourhoodTeam {
		tm := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "quota"}, tm)).To(Succeed())
		return tm
	}
	// The CPU the team's ResourceQuota gets: 2 + 250m per counted member.
	cpu := func(tm *teamsv1alpha1.NeighbourhoodTeam) string {
		q := (*render.ResourceQuota(tm, bp).Spec.Hard)[corev1.ResourceRequestsCPU]
		return q.String()
	}

	// A platform engineer's new team: its two members count.
	tm := newTeam("quota", "quota", members(2)...)
	g.Eventually(func() map[string]string {
		probe := tm.DeepCopy()
		g.Expect(asPia.Create(ctx, probe, client.DryRunAll)).To(Succeed())
		return probe.Annotations
	}).WithTimeout(timeout).Should(HaveKeyWithValue(teamsv1alpha1.QuotaMembersAnnotation, "2"), "the policy is in force")
	g.Expect(asPia.Create(ctx, tm)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, tm) })
	g.Expect(stored().Annotations).To(Equal(map[string]string{teamsv1alpha1.QuotaMembersAnnotation: "2"}))

	// A member adds three names: admitted, but they buy no quota, and the
	// member cannot raise the count themselves (the policy keeps it).
	asAnna, _, err := clientAs(anna, nil)
	g.Expect(err).NotTo(HaveOccurred())
	mine := waitForSelfService(t, asAnna, "quota")
	g.Expect(patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Spec.Members = members(5)
		tm.Annotations[teamsv1alpha1.QuotaMembersAnnotation] = "5"
	})).To(Succeed())
	after := stored()
	g.Expect(after.Spec.Members).To(HaveLen(5))
	g.Expect(after.Annotations).To(Equal(map[string]string{teamsv1alpha1.QuotaMembersAnnotation: "2"}))
	g.Expect(render.QuotaMembers(after)).To(Equal(2))
	g.Expect(cpu(after)).To(Equal("2500m"))

	// A platform engineer's change of another field keeps the count; their
	// change of the members is what counts.
	g.Expect(patchAs(asPia, after, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Coach = "jan" })).To(Succeed())
	g.Expect(stored().Annotations).To(Equal(map[string]string{teamsv1alpha1.QuotaMembersAnnotation: "2"}))
	after = stored()
	g.Expect(patchAs(asPia, after, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Members = members(4) })).To(Succeed())
	after = stored()
	g.Expect(after.Annotations).To(Equal(map[string]string{teamsv1alpha1.QuotaMembersAnnotation: "4"}))
	g.Expect(cpu(after)).To(Equal("3"))
}
