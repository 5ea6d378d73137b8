package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/buurt-dev/buurt/internal/operator"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// describingRegistry stands in for the manager's registry and keeps what
// each collector registered with it says it exports.
type describingRegistry struct {
	prometheus.Registerer
	prometheus.Gatherer
	descs []*prometheus.Desc
}

func (r *describingRegistry) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		r.descs = append(r.descs, d)
	}
	return nil
}

func (r *describingRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

// metric is what a reader of the metrics needs: its name, its labels and
// what it means.
type metric struct {
	labels, help string
}

var descFields = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), help: ("(?:[^"\\]|\\.)*"), unit: "[^"]*", constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}\}$`)

// TestEveryMetricIsDocumented sets buurt's controllers up as the manager
// does and checks that docs/observability.md lists exactly the metrics they
// register, with their labels, and says at least what their help says.
func TestEveryMetricIsDocumented(t *testing.T) {
	g := NewWithT(t)
	env, _ := testenv.StartForTest(t)

	registry := &describingRegistry{}
	saved := ctrlmetrics.Registry
	ctrlmetrics.Registry = registry
	t.Cleanup(func() { ctrlmetrics.Registry = saved })
	mgr, err := operator.NewManager(env.Config, ctrl.Options{
		Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		// Other tests of this package set the same controllers up.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(setupControllers(mgr, "buurt-system", 1)).To(Succeed())

	registered := map[string]metric{}
	for _, d := range registry.descs {
		m := descFields.FindStringSubmatch(d.String())
		g.Expect(m).NotTo(BeNil(), "unexpected Desc format: %s", d)
		name, err := strconv.Unquote(m[1])
		g.Expect(err).NotTo(HaveOccurred())
		help, err := strconv.Unquote(m[2])
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(m[3]).To(BeEmpty(), "%s: constant labels are not documented", name)
		registered[name] = metric{labels: m[4], help: help}
	}
	// The ones buurt defines; controller-runtime's are documented as its own.
	g.Expect(registered).To(HaveKey("buurt_teams"))

	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "observability.md"))
	g.Expect(err).NotTo(HaveOccurred())
	documented := map[string]metric{}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| ([^|]*) \\| ([^|]*) \\|$")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		var labels []string
		for _, l := range strings.Split(m[2], ",") {
			labels = append(labels, strings.Trim(strings.TrimSpace(l), "`"))
		}
		documented[m[1]] = metric{labels: strings.Join(labels, ","), help: m[3]}
	}
	g.Expect(documented).To(HaveLen(len(registered)), "docs/observability.md lists %v", documented)
	for name, want := range registered {
		got, ok := documented[name]
		g.Expect(ok).To(BeTrue(), "%s is not in docs/observability.md", name)
		g.Expect(got.labels).To(Equal(want.labels), name)
		g.Expect(got.help).To(HavePrefix(want.help), name)
	}
}
