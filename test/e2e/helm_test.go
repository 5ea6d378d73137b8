//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestHelmInstallUpgradeUninstall installs the chart on a cluster of its
// own, runs the operator as the chart's ServiceAccount, changes the region's
// defaults with an upgrade (teams follow), and uninstalls: teams, their
// namespaces and the CRDs stay.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Fatal("HELM is not set: run `make test-e2e`, or set HELM=$(hack/tools.sh helm)")
	}
	workDir := t.TempDir()
	cluster, err := localcluster.Create(ctx, localcluster.Options{
		Name: "e2e-helm", BinDir: os.Getenv("KUBEBUILDER_ASSETS"), WorkDir: workDir, Nodes: 2,
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = cluster.Delete(context.Background()) })
	cfg, err := cluster.Config()
	g.Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	g.Expect(err).NotTo(HaveOccurred())
	port, err := freeport.Get()
	g.Expect(err).NotTo(HaveOccurred())
	helm := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--kubeconfig", cluster.Kubeconfig())...)
		cmd.Dir = testenv.RepoRoot()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		g.Expect(cmd.Run()).To(Succeed(), out.String())
	}
	values := []string{"--namespace", "buurt-system", "--wait=false", "--set", "replicaCount=1",
		"--set", "webhook.url=https://localhost:" + strconv.Itoa(port), "--set", "region.defaultBlueprint.database.class=None"}

	helm(append([]string{"install", "buurt", "charts/buurt", "--create-namespace"}, values...)...)
	// The operator runs here, as the ServiceAccount the chart made.
	operatorCfg, err := localcluster.ServiceAccountConfig(ctx, cfg, "buurt-system", "buurt-controller-manager", time.Hour)
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfig := filepath.Join(workDir, "operator.kubeconfig")
	g.Expect(localcluster.WriteKubeconfig(operatorCfg, kubeconfig)).To(Succeed())
	charted := &operatorProcess{bin: operator.bin, log: filepath.Join(workDir, "operator.log"), args: []string{
		"--kubeconfig", kubeconfig, "--namespace", "buurt-system", "--metrics-bind-address", "0", "--health-probe-bind-address", "0",
		"--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(port), "--webhook-dns-names", "localhost",
		"--webhook-cert-dir", filepath.Join(workDir, "certs"),
	}}
	g.Expect(charted.start()).To(Succeed())
	t.Cleanup(charted.stop)
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(charted.log)
			t.Logf("operator log:\n%s", log)
		}
	})

	team := newTeam("charted", "default", user("anna@care.example.org"))
	g.Eventually(func() error { return c.Create(ctx, team) }).WithTimeout(timeout).Should(Succeed(), "the webhooks answer")
	quota := func(g Gomega) string {
		q := &corev1.ResourceQuota{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "team-charted", Name: "buurt-quota"}, q)).To(Succeed())
		cpu := q.Spec.Hard["requests.cpu"]
		return cpu.String()
	}
	g.Eventually(func(g Gomega) {
		got := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(team), got)).To(Succeed())
		ready(g, got)
		g.Expect(quota(g)).To(Equal("2250m"), "2 + 250m for one member")
	}).WithTimeout(timeout).Should(Succeed())

	// The region's defaults change; the blueprint and the team follow.
	helm(append([]string{"upgrade", "buurt", "charts/buurt", "--set", "region.defaultBlueprint.quota.base.requests\\.cpu=3",
		"--set", "region.defaultBlueprint.maxMembers=8"}, values...)...)
	g.Eventually(func(g Gomega) {
		bp := &teamsv1alpha1.TeamBlueprint{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: "default"}, bp)).To(Succeed())
		g.Expect(bp.Spec.MaxMembers).To(Equal(int32(8)))
		g.Expect(bp.Spec.Quota.Base["requests.cpu"]).To(Equal(resource.MustParse("3")))
		g.Expect(quota(g)).To(Equal("3250m"))
	}).WithTimeout(timeout).Should(Succeed())

	// Uninstalled: the operator's objects go; teams, their data and the
	// CRDs stay.
	charted.stop()
	helm("uninstall", "buurt", "--namespace", "buurt-system")
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(team), &teamsv1alpha1.NeighbourhoodTeam{})).To(Succeed())
	g.Expect(c.Get(ctx, client.ObjectKey{Name: "team-charted"}, &corev1.Namespace{})).To(Succeed())
	g.Expect(c.Get(ctx, client.ObjectKey{Name: "default"}, &teamsv1alpha1.TeamBlueprint{})).To(Succeed())
	g.Expect(c.Get(ctx, client.ObjectKey{Name: "neighbourhoodteams.teams.buurt.dev"}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Namespace: "buurt-system", Name: "buurt-controller-manager"}, &corev1.ServiceAccount{}))
	}).WithTimeout(timeout).Should(BeTrue(), "the chart's own objects are gone")
}
