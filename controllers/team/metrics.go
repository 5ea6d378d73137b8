package team

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
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
	}
	for _, p := range phases {
		ch <- prometheus.MustNewConstMetric(teamsDesc, prometheus.GaugeValue, float64(byPhase[p]), string(p))
	}
	for _, l := range lifecycles {
		ch <- prometheus.MustNewConstMetric(lifecycleDesc, prometheus.GaugeValue, float64(byLifecycle[l]), l)
	}
}
