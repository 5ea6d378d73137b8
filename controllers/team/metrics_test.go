package team_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
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

// series gathers the samples of the metric name from the manager's
// registry, each keyed by its labels as name=value, comma separated.
func series(g Gomega, name string) map[string]float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[strings.Join(labels, ",")] = m.GetGauge().GetValue()
		}
	}
	return out
}

// Each team has its info, a series per condition and its quota's use, read
// from the cache when scraped.
func TestPerTeamMetrics(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, designBlueprint("per-team"))
	tm := newTeam("per-team", "per-team", user("anna"))
	tm.Spec.Coach = "jan"
	create(t, tm)
	eventuallyCondition(t, "per-team", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	// What the quota controller would write (envtest runs none).
	g.Eventually(func(g Gomega) {
		q := &corev1.ResourceQuota{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: "team-per-team", Name: render.ResourceQuotaName}, q)).To(Succeed())
		q.Status = corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{"pods": resource.MustParse("20"), "requests.cpu": resource.MustParse("2250m"), "limits.cpu": resource.MustParse("0")},
			Used: corev1.ResourceList{"pods": resource.MustParse("5"), "requests.cpu": resource.MustParse("900m"), "limits.cpu": resource.MustParse("0")},
		}
		g.Expect(env.Client.Status().Update(ctx, q)).To(Succeed())
	}).WithTimeout(timeout).Should(Succeed())

	g.Eventually(func(g Gomega) {
		info := series(g, "buurt_team_info")
		g.Expect(info).To(HaveKeyWithValue(
			"blueprint=per-team,coach=jan,lifecycle=Active,neighbourhood=riverside,phase=Active,team=per-team", 1.0))
		live := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "per-team"}, live)).To(Succeed())
		want := map[string]float64{}
		for _, c := range live.Status.Conditions {
			want["reason="+c.Reason+",status="+string(c.Status)+",team=per-team,type="+c.Type] = 1
		}
		g.Expect(want).To(HaveKeyWithValue("reason=Reconciled,status=True,team=per-team,type=Ready", 1.0))
		conds := map[string]float64{}
		for labels, v := range series(g, "buurt_team_condition") {
			if strings.Contains(labels, ",team=per-team,") {
				conds[labels] = v
			}
		}
		g.Expect(conds).To(Equal(want))
		quota := map[string]float64{}
		for labels, v := range series(g, "buurt_team_quota_used_ratio") {
			if strings.HasSuffix(labels, ",team=per-team") {
				quota[labels] = v
			}
		}
		g.Expect(quota).To(Equal(map[string]float64{"resource=pods,team=per-team": 0.25, "resource=requests.cpu,team=per-team": 0.4}),
			"a resource whose hard is 0 has no ratio")
	}).WithTimeout(timeout).Should(Succeed())
}
