package render_test

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

func members(n int) []teamsv1alpha1.Subject {
	out := make([]teamsv1alpha1.Subject, n)
	for i := range out {
		out[i] = user(fmt.Sprintf("member-%d@care.example.org", i))
	}
	return out
}

func TestResourceQuota(t *testing.T) {
	cases := []struct {
		members int
		want    map[corev1.ResourceName]string
	}{
		{1, map[corev1.ResourceName]string{"requests.cpu": "2250m", "requests.memory": "4608Mi", "requests.storage": "20Gi", "pods": "20"}},
		{3, map[corev1.ResourceName]string{"requests.cpu": "2750m", "requests.memory": "5632Mi", "requests.storage": "20Gi", "pods": "20"}},
		{12, map[corev1.ResourceName]string{"requests.cpu": "5", "requests.memory": "10Gi", "requests.storage": "20Gi", "pods": "20"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d members", tc.members), func(t *testing.T) {
			g := NewWithT(t)
			got := typed[corev1.ResourceQuota](g, render.ResourceQuota(team(members(tc.members)...), blueprint()))
			g.Expect(got.ObjectMeta).To(Equal(metav1.ObjectMeta{
				Name: "buurt-quota", Namespace: "team-north-riverside", Labels: wantLabels, OwnerReferences: wantOwner,
			}))
			g.Expect(got.Spec.Hard).To(HaveLen(len(tc.want)))
			for name, want := range tc.want {
				g.Expect(got.Spec.Hard).To(HaveKey(name))
				q := got.Spec.Hard[name]
				g.Expect(q.Cmp(resource.MustParse(want))).To(BeZero(), "%s is %s, want %s", name, q.String(), want)
			}
		})
	}
}

// TestArchivedQuota: an Archived team's quota starts no pod, with or
// without the blueprint's quota, and keeps the rest of it.
func TestArchivedQuota(t *testing.T) {
	g := NewWithT(t)
	tm := team(members(1)...)
	tm.Spec.Lifecycle = teamsv1alpha1.LifecycleArchived
	got := typed[corev1.ResourceQuota](g, render.ResourceQuota(tm, blueprint()))
	g.Expect(got.Spec.Hard).To(HaveLen(4))
	for name, want := range map[corev1.ResourceName]string{"requests.cpu": "2250m", "requests.storage": "20Gi", "pods": "0"} {
		q := got.Spec.Hard[name]
		g.Expect(q.Cmp(resource.MustParse(want))).To(BeZero(), "%s is %s, want %s", name, q.String(), want)
	}

	none := blueprint()
	none.Spec.Quota = nil
	g.Expect(render.ResourceQuota(team(members(1)...), none)).To(BeNil())
	got = typed[corev1.ResourceQuota](g, render.ResourceQuota(tm, none))
	g.Expect(got.Spec.Hard).To(Equal(corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}))
}

// TestQuotaMembers: the per-member share counts no more member entries than
// a platform engineer last set (the annotation), and every entry of a team
// without it.
func TestQuotaMembers(t *testing.T) {
	for _, tc := range []struct {
		annotation string
		members    int
		want       int
	}{
		{"", 5, 5},
		{"2", 5, 2},
		{"7", 5, 5},
		{"0", 5, 0},
		{"-1", 5, 5},
		{"many", 5, 5},
	} {
		t.Run(fmt.Sprintf("%q of %d", tc.annotation, tc.members), func(t *testing.T) {
			g := NewWithT(t)
			tm := team(members(tc.members)...)
			if tc.annotation != "" {
				tm.Annotations = map[string]string{teamsv1alpha1.QuotaMembersAnnotation: tc.annotation}
			}
			g.Expect(render.QuotaMembers(tm)).To(Equal(tc.want))
		})
	}
	// The quota follows it.
	g := NewWithT(t)
	tm := team(members(12)...)
	tm.Annotations = map[string]string{teamsv1alpha1.QuotaMembersAnnotation: "1"}
	got := typed[corev1.ResourceQuota](NewWithT(t), render.ResourceQuota(tm, blueprint()))
	cpu := got.Spec.Hard["requests.cpu"]
	g.Expect(cpu.String()).To(Equal("2250m"))
}

func TestResourceQuotaOnlyWhenTheBlueprintSetsOne(t *testing.T) {
	g := NewWithT(t)
	bp := blueprint()
	bp.Spec.Quota = nil
	g.Expect(render.ResourceQuota(team(user("anna")), bp)).To(BeNil())
	bp.Spec.Quota = &teamsv1alpha1.Quota{}
	g.Expect(render.ResourceQuota(team(user("anna")), bp)).To(BeNil())
}

func TestLimitRange(t *testing.T) {
	g := NewWithT(t)
	got := typed[corev1.LimitRange](g, render.LimitRange(team(user("anna")), blueprint()))
	g.Expect(got.ObjectMeta).To(Equal(metav1.ObjectMeta{
		Name: "buurt-limits", Namespace: "team-north-riverside", Labels: wantLabels, OwnerReferences: wantOwner,
	}))
	g.Expect(got.Spec.Limits).To(HaveLen(1))
	item := got.Spec.Limits[0]
	g.Expect(item.Type).To(Equal(corev1.LimitTypeContainer))
	g.Expect(item.Default.Cpu().String()).To(Equal("500m"))
	g.Expect(item.Default.Memory().String()).To(Equal("512Mi"))
	g.Expect(item.DefaultRequest.Cpu().String()).To(Equal("100m"))
	g.Expect(item.DefaultRequest.Memory().String()).To(Equal("128Mi"))
	g.Expect(item.Max).To(BeEmpty())

	bp := blueprint()
	bp.Spec.Limits = nil
	g.Expect(render.LimitRange(team(user("anna")), bp)).To(BeNil())
}
