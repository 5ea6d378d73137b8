package team

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

var (
	teamsDesc = prometheus.NewDesc("buurt_teams",
		"Number of NeighbourhoodTeams by phase.", []string{"phase"}, nil)
	membersDesc = prometheus.NewDesc("buurt_team_members",
		"Number of member entries of each NeighbourhoodTeam.", []string{"team"}, nil)
	lifecycleDesc = prometheus.NewDesc("buurt_teams_by_lifecycle",
		"Number of NeighbourhoodTeams by lifecycle: Active, Asleep (Active, asleep by the team's own schedule), Dormant (set by hand) or Archived.",
		[]string{"lifecycle"}, nil)
	passwordAgeDesc = prometheus.NewDesc("buurt_team_database_password_age_seconds",
		"Time since each team's database password was made (status.credentials.lastRotationTime), for teams with a database.",
		[]string{"team"}, nil)
	databaseSizeDesc = prometheus.NewDesc("buurt_team_database_size_bytes",
		"Size of each team's Shared database as its status says it (status.usage.databaseSize: pg_database_size, read "+
			"every 10 minutes and rounded to whole MiB, to two significant figures from 100 MiB on).",
		[]string{"team"}, nil)
	infoDesc = prometheus.NewDesc("buurt_team_info",
		"Always 1, for each NeighbourhoodTeam: its neighbourhood, blueprint, coach (empty without one), lifecycle and phase, "+
			"to select and join the per-team metrics by.",
		[]string{"team", "neighbourhood", "blueprint", "coach", "lifecycle", "phase"}, nil)
	conditionDesc = prometheus.NewDesc("buurt_team_condition",
		"Always 1, for each condition of each NeighbourhoodTeam, with its status (True, False, Unknown) and reason.",
		[]string{"team", "type", "status", "reason"}, nil)
	quotaDesc = prometheus.NewDesc("buurt_team_quota_used_ratio",
		"How much of each resource of its ResourceQuota a NeighbourhoodTeam uses: used divided by hard (0 to 1; above 1 "+
			"when the quota was lowered below what runs).",
		[]string{"team", "resource"}, nil)
)

// phases are reported even when no team is in them, so a dashboard sees zero
// rather than no data.
var phases = []teamsv1alpha1.TeamPhase{
	teamsv1alpha1.TeamPhaseForming, teamsv1alpha1.TeamPhaseActive, teamsv1alpha1.TeamPhaseDegraded,
	teamsv1alpha1.TeamPhaseDormant, teamsv1alpha1.TeamPhaseArchived, teamsv1alpha1.TeamPhaseTerminating,
}

// lifecycles are the values of buurt_teams_by_lifecycle, reported even when
// no team has them.
var lifecycles = []string{
	string(teamsv1alpha1.LifecycleActive), asleepLifecycle, string(teamsv1alpha1.LifecycleDormant), string(teamsv1alpha1.LifecycleArchived),
}

// asleepLifecycle counts the Active teams their own schedule has asleep.
const asleepLifecycle = "Asleep"

// lifecycleOf is a team's lifecycle as buurt_teams_by_lifecycle counts it.
func lifecycleOf(t *teamsv1alpha1.NeighbourhoodTeam) string {
	switch {
	case t.Spec.Lifecycle == teamsv1alpha1.LifecycleDormant || t.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived:
		return string(t.Spec.Lifecycle)
	case t.Status.Sleep != nil && t.Status.Sleep.State == teamsv1alpha1.SleepStateAsleep:
		return asleepLifecycle
	}
	return string(teamsv1alpha1.LifecycleActive)
}

// collector reads the teams from the cache when Prometheus scrapes, so the
// numbers are never stale and reconciles do no bookkeeping.
type collector struct {
	reader client.Reader
	now    func() time.Time
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- teamsDesc
	ch <- membersDesc
	ch <- lifecycleDesc
	ch <- passwordAgeDesc
	ch <- databaseSizeDesc
	ch <- infoDesc
	ch <- conditionDesc
	ch <- quotaDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	teams := &teamsv1alpha1.NeighbourhoodTeamList{}
	// Read only: the cache's own objects, not a copy of each per scrape.
	if err := c.reader.List(ctx, teams, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.Log.WithName("metrics").Error(err, "Failed to list teams for metrics")
		return
	}
	quotas := &corev1.ResourceQuotaList{}
	if err := c.reader.List(ctx, quotas, client.UnsafeDisableDeepCopy, client.HasLabels{teamsv1alpha1.TeamLabel}); err != nil {
		ctrl.Log.WithName("metrics").Error(err, "Failed to list the teams' quotas for metrics")
		quotas.Items = nil
	}
	quotaOf := make(map[string]*corev1.ResourceQuota, len(quotas.Items))
	for i := range quotas.Items {
		if q := &quotas.Items[i]; q.Name == render.ResourceQuotaName {
			quotaOf[q.Namespace] = q
		}
	}
	now := c.now()
	byPhase := map[teamsv1alpha1.TeamPhase]int{}
	byLifecycle := map[string]int{}
	for i := range teams.Items {
		t := &teams.Items[i]
		byPhase[t.Status.Phase]++
		byLifecycle[lifecycleOf(t)]++
		ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(len(t.Spec.Members)), t.Name)
		if c := t.Status.Credentials; c != nil && c.LastRotationTime != nil && t.Status.Database != nil {
			ch <- prometheus.MustNewConstMetric(passwordAgeDesc, prometheus.GaugeValue, now.Sub(c.LastRotationTime.Time).Seconds(), t.Name)
		}
		if size := writtenSize(t); size != nil {
			ch <- prometheus.MustNewConstMetric(databaseSizeDesc, prometheus.GaugeValue, size.AsApproximateFloat64(), t.Name)
		}
		ch <- prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1,
			t.Name, t.Spec.Neighbourhood, t.Spec.Blueprint, t.Spec.Coach, lifecycleOf(t), string(t.Status.Phase))
		for _, cond := range t.Status.Conditions {
			ch <- prometheus.MustNewConstMetric(conditionDesc, prometheus.GaugeValue, 1, t.Name, cond.Type, string(cond.Status), cond.Reason)
		}
		for _, u := range quotaUses(quotaOf[t.NamespaceName()]) {
			ch <- prometheus.MustNewConstMetric(quotaDesc, prometheus.GaugeValue, u.used.AsApproximateFloat64()/u.hard.AsApproximateFloat64(),
				t.Name, u.name)
		}
	}
	for _, p := range phases {
		ch <- prometheus.MustNewConstMetric(teamsDesc, prometheus.GaugeValue, float64(byPhase[p]), string(p))
	}
	for _, l := range lifecycles {
		ch <- prometheus.MustNewConstMetric(lifecycleDesc, prometheus.GaugeValue, float64(byLifecycle[l]), l)
	}
}
