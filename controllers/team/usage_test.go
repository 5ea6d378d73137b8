package team

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

func quotaUsing(used corev1.ResourceList) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{Status: corev1.ResourceQuotaStatus{
		Hard: corev1.ResourceList{"requests.cpu": resource.MustParse("4"), "requests.memory": resource.MustParse("8Gi"),
			"requests.storage": resource.MustParse("20Gi"), "pods": resource.MustParse("20"), "limits.cpu": resource.MustParse("0")},
		Used: used,
	}}
}

func resourceUsage(name, used, hard string, percent int32) teamsv1alpha1.ResourceUsage {
	return teamsv1alpha1.ResourceUsage{Name: name, Used: ptr.To(resource.MustParse(used)), Hard: ptr.To(resource.MustParse(hard)), Percent: &percent}
}

// The usage is the quota's, each use in steps of 5%; a figure is written
// again only when its step or its quota changes, and the cost follows the
// figures written.
func TestUsage(t *testing.T) {
	g := NewWithT(t)
	prices := &teamsv1alpha1.Prices{Currency: "EUR", CPUHour: "0.031", MemoryGiBHour: "0.004", StorageGiBMonth: "0.10", DatabaseMonth: "5"}
	first := usageOf(nil, quotaUsing(corev1.ResourceList{"requests.cpu": resource.MustParse("1500m"),
		"requests.memory": resource.MustParse("3Gi"), "requests.storage": resource.MustParse("10Gi"), "pods": resource.MustParse("3"),
		"limits.cpu": resource.MustParse("0")}), prices, teamsv1alpha1.DatabaseClassShared, nil)
	g.Expect(first).To(sameUsage(&teamsv1alpha1.TeamUsage{
		Resources: []teamsv1alpha1.ResourceUsage{
			resourceUsage("pods", "3", "20", 15), resourceUsage("requests.cpu", "1500m", "4", 35),
			resourceUsage("requests.memory", "3Gi", "8Gi", 35), resourceUsage("requests.storage", "10Gi", "20Gi", 50),
		},
		// 1.5 × 0.031 × 730 + 3 × 0.004 × 730 + 10 × 0.10 + 5 = 33.945 + 8.76 + 1 + 5 = 48.705
		EstimatedMonthlyCost: &teamsv1alpha1.Cost{Amount: "48.71", Currency: "EUR"},
		Summary:              "cpu 35%, memory 35%, storage 50%, pods 15%; 48.71 EUR a month",
	}), "a resource whose quota is 0 has no use")

	// A pod more, within its steps: the status as it was, to the pointer.
	within := usageOf(first, quotaUsing(corev1.ResourceList{"requests.cpu": resource.MustParse("1550m"),
		"requests.memory": resource.MustParse("3Gi"), "requests.storage": resource.MustParse("10Gi"), "pods": resource.MustParse("3")}), prices, teamsv1alpha1.DatabaseClassShared, nil)
	g.Expect(within).To(BeIdenticalTo(first))

	// Across a step: that figure is written, with the cost it makes.
	across := usageOf(first, quotaUsing(corev1.ResourceList{"requests.cpu": resource.MustParse("2"),
		"requests.memory": resource.MustParse("3Gi"), "requests.storage": resource.MustParse("10Gi"), "pods": resource.MustParse("3")}), prices, teamsv1alpha1.DatabaseClassShared, nil)
	g.Expect(across.Resources[1]).To(sameUsage(resourceUsage("requests.cpu", "2", "4", 50)))
	g.Expect(across.Resources[0]).To(sameUsage(first.Resources[0]))
	// 2 × 0.031 × 730 = 45.26; + 8.76 + 1 + 5
	g.Expect(across.EstimatedMonthlyCost.Amount).To(Equal("60.02"))

	// No database, no prices: the use alone.
	plain := usageOf(nil, quotaUsing(corev1.ResourceList{"pods": resource.MustParse("19")}), nil, teamsv1alpha1.DatabaseClassNone, nil)
	g.Expect(plain).To(sameUsage(&teamsv1alpha1.TeamUsage{Resources: []teamsv1alpha1.ResourceUsage{resourceUsage("pods", "19", "20", 95)},
		Summary: "pods 95%"}))
	// Nothing to say without a quota or prices; prices alone say the cost.
	g.Expect(usageOf(nil, nil, nil, teamsv1alpha1.DatabaseClassShared, nil)).To(BeNil())
	g.Expect(usageOf(nil, nil, prices, teamsv1alpha1.DatabaseClassShared, nil)).To(sameUsage(&teamsv1alpha1.TeamUsage{
		EstimatedMonthlyCost: &teamsv1alpha1.Cost{Amount: "5.00", Currency: "EUR"}, Summary: "5.00 EUR a month"}))

	// The Shared database's size, once read, is kept until it is read
	// again; a team without a Shared database says none.
	size := ptr.To(resource.MustParse("8Mi"))
	sized := usageOf(nil, nil, nil, teamsv1alpha1.DatabaseClassShared, size)
	g.Expect(sized).To(sameUsage(&teamsv1alpha1.TeamUsage{DatabaseSize: size}))
	g.Expect(usageOf(sized, nil, nil, teamsv1alpha1.DatabaseClassShared, nil)).To(BeIdenticalTo(sized))
	g.Expect(usageOf(sized, nil, nil, teamsv1alpha1.DatabaseClassShared, ptr.To(resource.MustParse("8Mi")))).To(BeIdenticalTo(sized))
	g.Expect(usageOf(sized, nil, nil, teamsv1alpha1.DatabaseClassShared, ptr.To(resource.MustParse("9Mi")))).To(
		sameUsage(&teamsv1alpha1.TeamUsage{DatabaseSize: ptr.To(resource.MustParse("9Mi"))}))
	g.Expect(usageOf(sized, nil, nil, teamsv1alpha1.DatabaseClassDedicated, size)).To(BeNil())
	g.Expect(usageOf(sized, nil, nil, teamsv1alpha1.DatabaseClassNone, nil)).To(BeNil())
}

// sameUsage matches what serialises as want does: quantities by value, as
// the apiserver stores them.
func sameUsage(want any) types.GomegaMatcher {
	data, err := json.Marshal(want)
	if err != nil {
		panic(err)
	}
	return WithTransform(func(got any) (string, error) {
		data, err := json.Marshal(got)
		return string(data), err
	}, MatchJSON(data))
}
