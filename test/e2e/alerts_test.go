//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// metricName finds the names of buurt's and controller-runtime's metrics
// in a PromQL expression.
var metricName = regexp.MustCompile(`\b(?:buurt|controller_runtime|workqueue)_[a-z_]+\b`)

// TestAlertsAndRunbooks: every metric buurt's alerts and its dashboard use
// is one the running operator exports, with a team, its quota in use and a
// coach; and every
// command of docs/runbooks.md runs against this installation (with the
// team's and the coach's names), or reaches the apiserver and is told that
// what it asks for is not here: the operator's Deployment and the
// Prometheus Operator's kinds, which a local cluster has not.
func TestAlertsAndRunbooks(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	coach := &teamsv1alpha1.Coach{ObjectMeta: metav1.ObjectMeta{Name: "e2e-runbook-coach"},
		Spec: teamsv1alpha1.CoachSpec{Subject: user("rianne@care.example.org"), MaxTeams: 3}}
	g.Expect(admin.Create(ctx, coach)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), coach) })
	team := newTeam("e2e-runbook", "e2e-runbook", user("rob@care.example.org"))
	team.Spec.Coach = coach.Name
	readyTeam(t, sharedBlueprint("e2e-runbook"), team)

	rules, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "alerts.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	var used []string
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.Contains(line, "runbook_url") || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		used = append(used, metricName.FindAllString(line, -1)...)
	}
	// And the dashboard's queries and variables.
	board, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "grafana", "dashboard.json"))
	g.Expect(err).NotTo(HaveOccurred())
	for _, m := range regexp.MustCompile(`"(?:expr|query|definition)": "((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(string(board), -1) {
		used = append(used, metricName.FindAllString(m[1], -1)...)
	}
	slices.Sort(used)
	used = slices.Compact(used)
	g.Expect(used).To(ContainElements("buurt_team_condition", "buurt_team_quota_used_ratio", "workqueue_depth", "buurt_team_info",
		"buurt_coach_max_teams", "buurt_team_database_password_age_seconds", "buurt_team_database_size_bytes"))
	g.Eventually(func(g Gomega) []string {
		m, err := operator.Metrics(ctx)
		g.Expect(err).NotTo(HaveOccurred())
		var missing []string
		for _, name := range used {
			if _, ok := m.Sum(name, nil); !ok {
				missing = append(missing, name)
			}
		}
		return missing
	}).WithTimeout(timeout).Should(BeEmpty(), "every metric the alerts use is exported")

	var commands []string
	for _, b := range fencedBlocks(t, "runbooks.md", "") {
		g.Expect(b.lang).To(Equal("sh"))
		for _, line := range strings.Split(strings.TrimSpace(b.body), "\n") {
			commands = append(commands, strings.NewReplacer("TEAM", team.Name, "COACH", coach.Name).Replace(line))
		}
	}
	g.Expect(commands).To(HaveLen(17))
	run := commandAs(t, "")
	notHere := regexp.MustCompile(`deployments.apps "buurt-controller-manager" not found|the server doesn't have a resource type "servicemonitor"`)
	for _, command := range commands {
		stdout, stderr, err := run(command)
		if err != nil {
			g.Expect(stderr).To(MatchRegexp(notHere.String()), "%s: %s", command, stderr)
			continue
		}
		g.Expect(stderr).To(Or(BeEmpty(), HavePrefix("No resources found")), command)
		if strings.Contains(command, "adminSecretName") {
			g.Expect(stdout).To(Equal("pg-admin"), command)
		}
	}
}
