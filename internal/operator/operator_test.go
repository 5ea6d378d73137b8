package operator

import (
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// TestTheManagerAsksForUncompressedAnswers: every watch the operator holds
// open would otherwise keep a decompressor's buffers.
func TestTheManagerAsksForUncompressedAnswers(t *testing.T) {
	g := NewWithT(t)
	scheme, err := NewScheme()
	g.Expect(err).NotTo(HaveOccurred())
	// No apiserver: the kinds are mapped from the scheme.
	mapper := meta.NewDefaultRESTMapper(nil)
	for gvk := range scheme.AllKnownTypes() {
		mapper.Add(gvk, meta.RESTScopeNamespace)
	}
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	mgr, err := NewManager(cfg, ctrl.Options{
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		MapperProvider: func(*rest.Config, *http.Client) (meta.RESTMapper, error) { return mapper, nil },
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mgr.GetConfig().DisableCompression).To(BeTrue())
	g.Expect(cfg.DisableCompression).To(BeFalse(), "the caller's configuration is not changed")
}
