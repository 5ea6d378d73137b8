package team_test

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// The per-member quota counts no more member entries than the annotation a
// platform engineer's change set (config/policies/team-quota.yaml sets it;
// this suite runs no policy, so the test sets it as the policy would), and
// follows it when it changes.
func TestQuotaCountsTheMembersAPlatformEngineerSet(t *testing.T) {
	create(t, designBlueprint("counted"))
	tm := newTeam("counted", "counted", user("anna"), user("made-up-1"), user("made-up-2"))
	tm.Annotations = map[string]string{teamsv1alpha1.QuotaMembersAnnotation: "1"}
	create(t, tm)
	eventuallyCondition(t, "counted", teamsv1alpha1.QuotaReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	want := func(cpu, memory string) map[corev1.ResourceName]string {
		return map[corev1.ResourceName]string{"requests.cpu": cpu, "requests.memory": memory, "requests.storage": "20Gi", "pods": "20"}
	}
	g := NewWithT(t)
	g.Eventually(func(g Gomega) { expectQuota(g, "team-counted", want("2250m", "4608Mi")) }).WithTimeout(timeout).Should(Succeed())

	// A platform engineer's change of the members moves the count (with the
	// members, so the generation changes too).
	edit(t, tm, func() {
		tm.Annotations[teamsv1alpha1.QuotaMembersAnnotation] = "2"
		tm.Spec.Members = tm.Spec.Members[:2]
	})
	g.Eventually(func(g Gomega) { expectQuota(g, "team-counted", want("2500m", "5Gi")) }).WithTimeout(timeout).Should(Succeed())
}
