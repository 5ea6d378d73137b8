package manifests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestDashboard: buurt's Grafana dashboard is a valid Grafana dashboard
// (Grafana's own schema, through its Foundation SDK: every panel's options
// as its plugin requires them); every panel queries the datasource the
// dashboard's variable picks; docs/observability.md lists its panels; and
// the chart (off by default) and kustomize ship the file as it is, for
// Grafana's dashboard sidecar. That the metrics it queries are exported is
// the e2e's part (TestAlertsAndRunbooks).
func TestDashboard(t *testing.T) {
	g := NewWithT(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "grafana", "dashboard.json"))
	g.Expect(err).NotTo(HaveOccurred())
	plugins.RegisterDefaultPlugins()
	// The strict reading says what is missing or unknown; it returns an
	// empty list of errors as a non-nil error, and then keeps what it read
	// to itself, so the dashboard is read again to be looked at.
	// The classic dashboard JSON, which Grafana's sidecar provisions from a
	// ConfigMap (v2 is Grafana 12's new, optional schema).
	if err := (&dashboard.Dashboard{}).UnmarshalJSONStrict(data); err != nil { //nolint:staticcheck // see above
		g.Expect(err.Error()).To(BeEmpty())
	}
	board := &dashboard.Dashboard{} //nolint:staticcheck // the classic JSON, as above
	g.Expect(json.Unmarshal(data, board)).To(Succeed())
	g.Expect(board.Validate()).To(Succeed())
	g.Expect(*board.Uid).To(Equal("buurt-region"))

	var titles []string
	for _, p := range board.Panels {
		if row := p.RowPanel; row != nil {
			g.Expect(row.Collapsed).To(BeFalse(), "no collapsed rows: every panel shows")
			titles = append(titles, "Row: "+*row.Title)
			continue
		}
		panel := p.Panel
		titles = append(titles, *panel.Title)
		g.Expect(panel.Description).NotTo(BeNil(), *panel.Title)
		g.Expect(*panel.Datasource.Uid).To(Equal("${datasource}"), *panel.Title)
		g.Expect(panel.Targets).NotTo(BeEmpty(), *panel.Title)
	}

	// docs/observability.md's table of panels, in order.
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "observability.md"))
	g.Expect(err).NotTo(HaveOccurred())
	_, section, found := strings.Cut(string(doc), "## The dashboard")
	g.Expect(found).To(BeTrue())
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^\| (Row: )?([^|]+?) \| [^|]+ \|$`).FindAllStringSubmatch(section, -1) {
		if m[2] == "Panel" || strings.HasPrefix(m[2], "---") {
			continue
		}
		documented = append(documented, m[1]+m[2])
	}
	g.Expect(documented).To(Equal(titles))

	var asJSON any
	g.Expect(json.Unmarshal(data, &asJSON)).To(Succeed())
	for name, objects := range map[string]func() map[string]any{
		"kustomize": func() map[string]any { return configMap(g, render(t, "config/grafana")) },
		"the chart": func() map[string]any {
			return configMap(g, template(t, "--set", "metrics.grafanaDashboard.enabled=true"))
		},
	} {
		cm := objects()
		g.Expect(cm).NotTo(BeNil(), name)
		metadata := cm["metadata"].(map[string]any)
		g.Expect(metadata["labels"]).To(HaveKeyWithValue("grafana_dashboard", "1"), name)
		var shipped any
		g.Expect(json.Unmarshal([]byte(cm["data"].(map[string]any)["buurt.json"].(string)), &shipped)).To(Succeed())
		g.Expect(shipped).To(Equal(asJSON), name)
	}
	g.Expect(configMap(g, template(t))).To(BeNil(), "off by default")
}

// configMap is the dashboard's ConfigMap among objects, as a map; nil
// without one.
func configMap(g Gomega, objects []*unstructured.Unstructured) map[string]any {
	for _, o := range objects {
		if o.GetKind() == "ConfigMap" && o.GetName() == "buurt-dashboard" {
			g.Expect(o.GetNamespace()).To(Equal("buurt-system"))
			return o.Object
		}
	}
	return nil
}
