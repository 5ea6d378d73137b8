// Package metrics registers buurt's collectors with the manager's metrics
// endpoint. Each collector reads the cache when Prometheus scrapes, so the
// numbers are never stale and reconciles do no bookkeeping.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Register adds c to the manager's registry. Registering the same collector
// again (a second manager in one process, as in tests) is not an error.
func Register(c prometheus.Collector) error {
	err := ctrlmetrics.Registry.Register(c)
	if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
		return nil
	}
	return err
}
