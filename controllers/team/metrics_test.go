package team_test

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// gauges gathers buurt's gauges from the manager's registry, keyed
// "name/label value".
func gauges(g Gomega) map[string]float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "buurt_teams" && f.GetName() != "buurt_team_members" && f.GetName() != "buurt_teams_by_lifecycle" {
			continue
		}
		for _, m := range f.GetMetric() {
			g.Expect(m.GetLabel()).To(HaveLen(1))
			out[f.GetName()+"/"+m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	g := NewWithT(t)
	create(t, designBlueprint("metrics"))
	create(t, newTeam("metrics", "metrics", user("anna"), user("bram")))
	create(t, newTeam("metrics-waiting", "no-such-blueprint", user("cor")))
	eventuallyCondition(t, "metrics", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	eventuallyCondition(t, "metrics-waiting", teamsv1alpha1.ReadyCondition, metav1.ConditionFalse, teamsv1alpha1.BlueprintNotFoundReason)

	g.Eventually(func(g Gomega) {
		teams := &teamsv1alpha1.NeighbourhoodTeamList{}
		g.Expect(env.Client.List(t.Context(), teams)).To(Succeed())
		byPhase, byLifecycle := map[string]float64{}, map[string]float64{}
		for _, tm := range teams.Items {
			byPhase[string(tm.Status.Phase)]++
			lifecycle := string(tm.Spec.Lifecycle)
			if tm.Spec.Lifecycle == teamsv1alpha1.LifecycleActive && tm.Status.Sleep != nil && tm.Status.Sleep.State == teamsv1alpha1.SleepStateAsleep {
				lifecycle = "Asleep"
			}
			byLifecycle[lifecycle]++
		}
		got := gauges(g)
		g.Expect(got).To(HaveKeyWithValue("buurt_team_members/metrics", 2.0))
		g.Expect(got).To(HaveKeyWithValue("buurt_team_members/metrics-waiting", 1.0))
		for _, phase := range []string{"Forming", "Active", "Degraded", "Dormant", "Archived", "Terminating"} {
			g.Expect(got).To(HaveKeyWithValue("buurt_teams/"+phase, byPhase[phase]))
		}
		for _, lifecycle := range []string{"Active", "Asleep", "Dormant", "Archived"} {
			g.Expect(got).To(HaveKeyWithValue("buurt_teams_by_lifecycle/"+lifecycle, byLifecycle[lifecycle]))
		}
		g.Expect(got["buurt_teams_by_lifecycle/Active"]).To(BeNumerically(">=", 2))
		g.Expect(got["buurt_teams/Active"]).To(BeNumerically(">=", 1))
		g.Expect(got["buurt_teams/Forming"]).To(BeNumerically(">=", 1))
	}).WithTimeout(timeout).Should(Succeed())
}
