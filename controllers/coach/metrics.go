package coach

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

var (
	teamsDesc = prometheus.NewDesc("buurt_coach_teams",
		"Number of teams each Coach supports.", []string{"coach"}, nil)
	maxTeamsDesc = prometheus.NewDesc("buurt_coach_max_teams",
		"The most teams each Coach supports at once.", []string{"coach"}, nil)
	waitingDesc = prometheus.NewDesc("buurt_coach_waiting_teams",
		"Number of teams waiting for each Coach, beyond their capacity.", []string{"coach"}, nil)
)

// collector reads the coaches from the cache when Prometheus scrapes.
type collector struct {
	reader client.Reader
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- teamsDesc
	ch <- maxTeamsDesc
	ch <- waitingDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	coaches := &teamsv1alpha1.CoachList{}
	// Read only: the cache's own objects, not a copy of each per scrape.
	if err := c.reader.List(ctx, coaches, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.Log.WithName("metrics").Error(err, "Failed to list coaches for metrics")
		return
	}
	for i := range coaches.Items {
		coach := &coaches.Items[i]
		ch <- prometheus.MustNewConstMetric(teamsDesc, prometheus.GaugeValue, float64(coach.Status.TeamCount), coach.Name)
		ch <- prometheus.MustNewConstMetric(maxTeamsDesc, prometheus.GaugeValue, float64(coach.Spec.MaxTeams), coach.Name)
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(len(coach.Status.WaitingTeams)), coach.Name)
	}
}
