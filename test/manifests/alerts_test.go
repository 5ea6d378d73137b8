package manifests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/buurt-dev/buurt/internal/testenv"
)

// promtool runs Prometheus's promtool (hack/tools.sh promtool) in the
// repository's root.
func promtool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return tool(t, "PROMTOOL", "promtool", args...)
}

// ruleFile is a Prometheus rule file, as much of it as the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func readRules(g Gomega) (ruleFile, map[string]any) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "alerts.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	var rules ruleFile
	g.Expect(yaml.Unmarshal(data, &rules)).To(Succeed())
	var raw map[string]any
	g.Expect(yaml.Unmarshal(data, &raw)).To(Succeed())
	return rules, raw
}

// TestAlerts checks buurt's alerts with Prometheus's own tools: the rule
// file is valid (promtool check rules) and each alert's unit tests pass
// (promtool test rules). Every alert has unit tests and a runbook_url to a
// section of docs/runbooks.md that exists; the chart and kustomize ship the
// file as it is, the chart with its notReadyFor.
func TestAlerts(t *testing.T) {
	g := NewWithT(t)
	out, err := promtool(t, "check", "rules", "config/prometheus/alerts.yaml")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("SUCCESS: 7 rules found"))
	out, err = promtool(t, "test", "rules", "test/alerts/alerts_test.yaml")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("SUCCESS"))

	rules, raw := readRules(g)
	tests, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "test", "alerts", "alerts_test.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	runbooks, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "runbooks.md"))
	g.Expect(err).NotTo(HaveOccurred())
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\S+)$`).FindAllStringSubmatch(string(runbooks), -1) {
		anchors[strings.ToLower(m[1])] = true
	}
	var alerts []string
	for _, group := range rules.Groups {
		for _, rule := range group.Rules {
			alerts = append(alerts, rule.Alert)
			g.Expect(string(tests)).To(ContainSubstring("alertname: "+rule.Alert+"\n"), "%s has unit tests", rule.Alert)
			url := rule.Annotations["runbook_url"]
			anchor, found := strings.CutPrefix(url, "https://github.com/buurt-dev/buurt/blob/main/docs/runbooks.md#")
			g.Expect(found).To(BeTrue(), "%s's runbook_url %q is a section of docs/runbooks.md", rule.Alert, url)
			g.Expect(anchor).To(Equal(strings.ToLower(rule.Alert)))
			g.Expect(anchors).To(HaveKey(anchor), "docs/runbooks.md has a section ## %s", rule.Alert)
			g.Expect(rule.Annotations).To(HaveKey("summary"))
			g.Expect(rule.Annotations).To(HaveKey("description"))
		}
	}
	g.Expect(alerts).To(Equal([]string{"BuurtTeamNotReady", "BuurtTeamQuotaNearLimit", "BuurtTeamDatabaseUnreachable",
		"BuurtCoachOverCapacity", "BuurtReconcileErrors", "BuurtWorkQueueBacklog", "BuurtMetricsAbsent"}))
	g.Expect(anchors).To(HaveLen(len(alerts)), "a runbook for each alert and no other")

	// kustomize's PrometheusRule is the file.
	for _, o := range render(t, "config/prometheus") {
		if o.GetKind() == "PrometheusRule" {
			g.Expect(o.Object["spec"]).To(Equal(raw))
		}
	}
	// The chart's too, with its notReadyFor.
	for _, o := range template(t, "--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.prometheusRule.notReadyFor=45m") {
		if o.GetKind() != "PrometheusRule" {
			continue
		}
		spec, err := yaml.Marshal(o.Object["spec"])
		g.Expect(err).NotTo(HaveOccurred())
		var got ruleFile
		g.Expect(yaml.Unmarshal(spec, &got)).To(Succeed())
		g.Expect(got.Groups[0].Rules[0].For).To(Equal("45m"))
		got.Groups[0].Rules[0].For = "30m"
		g.Expect(got).To(Equal(rules))
	}
}
