package operatorprocess

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestParseMetrics(t *testing.T) {
	g := NewWithT(t)
	m, err := ParseMetrics(strings.NewReader(`# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="neighbourhoodteam",result="error"} 2
controller_runtime_reconcile_total{controller="neighbourhoodteam",result="requeue_after"} 1
controller_runtime_reconcile_total{controller="neighbourhoodteam",result="success"} 60
controller_runtime_reconcile_total{controller="teamblueprint",result="success"} 7
# HELP controller_runtime_reconcile_errors_total Total number of reconciliation errors per controller
# TYPE controller_runtime_reconcile_errors_total counter
controller_runtime_reconcile_errors_total{controller="neighbourhoodteam"} 2
# HELP workqueue_depth Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{controller="neighbourhoodteam",name="neighbourhoodteam"} 3
workqueue_depth{controller="teamblueprint",name="teamblueprint"} 0
# HELP controller_runtime_reconcile_time_seconds Length of time per reconciliation per controller
# TYPE controller_runtime_reconcile_time_seconds histogram
controller_runtime_reconcile_time_seconds_bucket{controller="neighbourhoodteam",le="0.005"} 12
controller_runtime_reconcile_time_seconds_bucket{controller="neighbourhoodteam",le="+Inf"} 63
controller_runtime_reconcile_time_seconds_sum{controller="neighbourhoodteam"} 4.2
controller_runtime_reconcile_time_seconds_count{controller="neighbourhoodteam"} 63
`))
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(m.SumBy("controller_runtime_reconcile_total", "controller")).To(Equal(map[string]float64{
		"neighbourhoodteam": 63, "teamblueprint": 7,
	}))
	sum, found := m.Sum("controller_runtime_reconcile_total", map[string]string{"controller": "neighbourhoodteam"})
	g.Expect([]any{sum, found}).To(Equal([]any{63.0, true}))
	sum, found = m.Sum("controller_runtime_reconcile_total", map[string]string{"controller": "neighbourhoodteam", "result": "error"})
	g.Expect([]any{sum, found}).To(Equal([]any{2.0, true}))
	sum, found = m.Sum("workqueue_depth", map[string]string{"name": "teamblueprint"})
	g.Expect([]any{sum, found}).To(Equal([]any{0.0, true}), "a gauge at zero is there")
	sum, found = m.Sum("workqueue_depth", map[string]string{"name": "coach"})
	g.Expect([]any{sum, found}).To(Equal([]any{0.0, false}), "a controller that is not there")
	_, found = m.Sum("controller_runtime_active_workers", nil)
	g.Expect(found).To(BeFalse(), "a metric that is not there")
	_, found = m.Sum("controller_runtime_reconcile_time_seconds", nil)
	g.Expect(found).To(BeFalse(), "a histogram has no single value")
}
