package operatorprocess

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics are the counters and gauges the operator served at one moment.
// A new process counts from zero.
type Metrics struct {
	families map[string]*dto.MetricFamily
}

// metricsClient reads the operator's metrics; each read has its own
// deadline.
var metricsClient = &http.Client{Timeout: 5 * time.Second}

// Metrics reads the running operator's metrics: those named, or all of them
// when none is. Naming them spares the encoding and the parsing of the
// per-team metrics (about 1.5 MB at 1,200 teams), though not their
// collection, for a caller that polls.
func (p *Process) Metrics(ctx context.Context, names ...string) (Metrics, error) {
	query := url.Values{"name[]": names}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metricsURL+"?"+query.Encode(), nil)
	if err != nil {
		return Metrics{}, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return Metrics{}, fmt.Errorf("failed to read the operator's metrics (is it running?): %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return Metrics{}, fmt.Errorf("the operator's metrics answered %s", resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics reads metrics in the Prometheus text format.
func ParseMetrics(r io.Reader) (Metrics, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Metrics{}, fmt.Errorf("failed to parse the operator's metrics: %w", err)
	}
	return Metrics{families: families}, nil
}

// Sum adds up the samples of the counter or gauge name whose labels include
// every one of labels ("controller": "neighbourhoodteam"), and says whether
// there was any: a metric that is not there is not a zero.
func (m Metrics) Sum(name string, labels map[string]string) (float64, bool) {
	var sum float64
	found := false
	for _, metric := range m.families[name].GetMetric() {
		if !hasLabels(metric, labels) {
			continue
		}
		v, ok := value(metric)
		if !ok {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// SumBy adds up the samples of the counter or gauge name by the value of
// one label: controller_runtime_reconcile_total by "controller" is each
// controller's reconciles, whatever their result.
func (m Metrics) SumBy(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, metric := range m.families[name].GetMetric() {
		v, ok := value(metric)
		if !ok {
			continue
		}
		for _, l := range metric.GetLabel() {
			if l.GetName() == label {
				out[l.GetValue()] += v
			}
		}
	}
	return out
}

func hasLabels(metric *dto.Metric, labels map[string]string) bool {
	matched := 0
	for _, l := range metric.GetLabel() {
		if want, ok := labels[l.GetName()]; ok {
			if l.GetValue() != want {
				return false
			}
			matched++
		}
	}
	return matched == len(labels)
}

// value is a counter's or a gauge's value (or an untyped one's); histograms
// and summaries have none.
func value(metric *dto.Metric) (float64, bool) {
	switch {
	case metric.Counter != nil:
		return metric.GetCounter().GetValue(), true
	case metric.Gauge != nil:
		return metric.GetGauge().GetValue(), true
	case metric.Untyped != nil:
		return metric.GetUntyped().GetValue(), true
	default:
		return 0, false
	}
}
