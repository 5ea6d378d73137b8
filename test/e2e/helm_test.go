//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/operatorprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// The sections of docs/upgrading.md whose command block a test runs; the doc
// has no other blocks (TestUpgradingDocRunsEveryBlock).
const (
	docInstall            = "## Installing with Helm"
	docUpgrade            = "## Upgrading with Helm"
	docHandEdit           = "## Hand edits"
	docUninstall          = "## Uninstalling with Helm"
	docKustomize          = "## Installing, upgrading and uninstalling with kustomize"
	docKustomizeUninstall = "## Installing, upgrading and uninstalling with kustomize (uninstall)"
	docKustomizeToHelm    = "## Moving from kustomize to Helm"
)

// previousChart is the last commit before TeamBlueprint's spec.imagePullPolicy:
// its chart and operator are what an installation upgrades from.
const previousChart = "46976963a0a3acb92559db3dfa44cd3e427fe799"

// docBlocks are docs/upgrading.md's ```sh blocks by the section they are in;
// a second block in a section is "<section> (uninstall)", the only one the
// doc has.
func docBlocks(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "upgrading.md"))
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	blocks := map[string]string{}
	section := ""
	for _, part := range regexp.MustCompile("(?m)^(## .*)$|(?s)```(\\w*)\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		switch {
		case part[1] != "":
			section = part[1]
		case part[2] != "sh":
			t.Fatalf("docs/upgrading.md: a %q block in %q: every block is a shell block a test runs", part[2], section)
		case blocks[section] == "":
			blocks[section] = part[3]
		default:
			blocks[section+" (uninstall)"] = part[3]
		}
	}
	return blocks
}

func TestUpgradingDocRunsEveryBlock(t *testing.T) {
	blocks := docBlocks(t)
	var sections []string
	for section := range blocks {
		sections = append(sections, section)
	}
	NewWithT(t).Expect(sections).To(ConsistOf(docInstall, docUpgrade, docHandEdit, docUninstall,
		docKustomize, docKustomizeUninstall, docKustomizeToHelm))
}

// helmInstallation is a local cluster of one Helm test's own, and the
// workspace docs/upgrading.md's commands run in: this checkout's charts/ and
// config/, and region.yaml, the values regional IT keeps.
type helmInstallation struct {
	t         *testing.T
	cluster   *localcluster.Cluster
	c         client.Client
	workDir   string
	workspace string
	bin       string
	port      int
	operator  *operatorprocess.Process
}

func newHelmInstallation(t *testing.T, name string) *helmInstallation {
	t.Helper()
	g := NewWithT(t)
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run `make test-e2e`, or set HELM=$(hack/tools.sh helm)")
	}
	h := &helmInstallation{t: t, workDir: t.TempDir()}
	var err error
	h.cluster, err = localcluster.Create(context.Background(), localcluster.Options{
		Name: name, BinDir: os.Getenv("KUBEBUILDER_ASSETS"), WorkDir: h.workDir, Nodes: 2,
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = h.cluster.Delete(context.Background()) })
	cfg, err := h.cluster.Config()
	g.Expect(err).NotTo(HaveOccurred())
	h.c, err = client.New(cfg, client.Options{Scheme: testenv.Scheme})
	g.Expect(err).NotTo(HaveOccurred())
	h.port, err = freeport.Get()
	g.Expect(err).NotTo(HaveOccurred())

	// The doc says helm and kubectl: the pinned ones, named so, since Helm
	// calls its field manager after the name it was started by.
	h.bin = filepath.Join(h.workDir, "bin")
	h.workspace = filepath.Join(h.workDir, "workspace")
	g.Expect(os.MkdirAll(h.bin, 0o750)).To(Succeed())
	g.Expect(os.MkdirAll(h.workspace, 0o750)).To(Succeed())
	g.Expect(os.Symlink(helm, filepath.Join(h.bin, "helm"))).To(Succeed())
	g.Expect(os.Symlink(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), filepath.Join(h.bin, "kubectl"))).To(Succeed())
	for _, dir := range []string{"charts", "config"} {
		g.Expect(os.Symlink(filepath.Join(testenv.RepoRoot(), dir), filepath.Join(h.workspace, dir))).To(Succeed())
	}
	h.region("")
	t.Cleanup(func() {
		if h.operator != nil {
			h.operator.Stop()
			if t.Failed() {
				log, _ := os.ReadFile(h.operator.Log())
				t.Logf("operator log:\n%s", log)
			}
		}
	})
	return h
}

// region writes region.yaml: what the local cluster needs (one replica, the
// webhooks at the operator outside the cluster, no database server, no
// buurt-api, whose pods would not really run here: TestMyTeams runs it) and
// the region's own values.
func (h *helmInstallation) region(values string) {
	h.t.Helper()
	h.writeRegion(fmt.Sprintf("replicaCount: 1\nwebhook: {url: \"https://localhost:%d\"}\nmyTeams: {enabled: false}\n", h.port) + values)
}

func (h *helmInstallation) writeRegion(values string) {
	h.t.Helper()
	NewWithT(h.t).Expect(os.WriteFile(filepath.Join(h.workspace, "region.yaml"), []byte(values), 0o600)).To(Succeed())
}

// sh runs a shell script in the workspace against the cluster.
func (h *helmInstallation) sh(script string) (string, error) {
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = h.workspace
	cmd.Env = append(os.Environ(), "PATH="+h.bin+":"+os.Getenv("PATH"), "KUBECONFIG="+h.cluster.Kubeconfig())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// doc runs the command block of a section of docs/upgrading.md.
func (h *helmInstallation) doc(section string) {
	h.t.Helper()
	script, ok := docBlocks(h.t)[section]
	NewWithT(h.t).Expect(ok).To(BeTrue(), "docs/upgrading.md has no block in %q", section)
	out, err := h.sh(script)
	NewWithT(h.t).Expect(err).NotTo(HaveOccurred(), "%s:\n%s\n%s", section, script, out)
}

// startOperator (re)starts the operator binary bin as the chart's
// ServiceAccount, with a token minted now: a reinstall makes a new
// ServiceAccount, whose old tokens no longer count.
func (h *helmInstallation) startOperator(bin string) {
	h.t.Helper()
	g := NewWithT(h.t)
	if h.operator != nil {
		h.operator.Stop()
	}
	cfg, err := h.cluster.Config()
	g.Expect(err).NotTo(HaveOccurred())
	ctx := context.Background()
	var operatorCfg = cfg
	g.Eventually(func() error {
		operatorCfg, err = localcluster.ServiceAccountConfig(ctx, cfg, "buurt-system", "buurt-controller-manager", time.Hour)
		return err
	}).WithTimeout(timeout).Should(Succeed())
	h.operator, err = operatorprocess.New(operatorprocess.Options{Bin: bin, Config: operatorCfg, Dir: h.workDir, WebhookPort: h.port})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(h.operator.Start()).To(Succeed())
}

func (h *helmInstallation) stopOperator() {
	h.operator.Stop()
	h.operator = nil
}

// team waits until the team is Ready (and check holds) and returns it.
func (h *helmInstallation) team(name string, check func(Gomega, *teamsv1alpha1.NeighbourhoodTeam)) *teamsv1alpha1.NeighbourhoodTeam {
	h.t.Helper()
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	NewWithT(h.t).Eventually(func(g Gomega) {
		g.Expect(h.c.Get(context.Background(), client.ObjectKey{Name: name}, team)).To(Succeed())
		ready(g, team)
		check(g, team)
	}).WithTimeout(timeout).Should(Succeed())
	return team
}

// create creates obj once the operator's webhooks answer.
func (h *helmInstallation) create(obj client.Object) {
	h.t.Helper()
	NewWithT(h.t).Eventually(func() error { return h.c.Create(context.Background(), obj) }).
		WithTimeout(timeout).Should(Succeed(), "the webhooks answer")
}

// allowed asks the apiserver whether user may do verb on resource in the
// namespace.
func (h *helmInstallation) allowed(user, verb, group, resource, namespace string) bool {
	h.t.Helper()
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               user,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Group: group, Resource: resource},
	}}
	NewWithT(h.t).Expect(h.c.Create(context.Background(), review)).To(Succeed())
	return review.Status.Allowed
}

func (h *helmInstallation) quotaCPU(g Gomega, namespace string) string {
	q := &corev1.ResourceQuota{}
	g.Expect(h.c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: "buurt-quota"}, q)).To(Succeed())
	cpu := q.Spec.Hard["requests.cpu"]
	return cpu.String()
}

// TestHelmInstallUpgradeUninstall installs the chart on a cluster of its
// own with docs/upgrading.md's commands, runs the operator as the chart's
// ServiceAccount, changes the region's defaults with an upgrade (teams
// follow), wins back a hand-edited blueprint, and uninstalls: teams, their
// namespaces, the CRDs and the roles stay, so members and coaches keep their
// access; installing again adopts all of it.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	h := newHelmInstallation(t, "e2e-helm")
	region := "region: {defaultBlueprint: {database: {class: None}}}\n"
	h.region(region)
	h.doc(docInstall)
	h.startOperator(operatorBin)

	g.Eventually(func() error {
		return h.c.Create(ctx, &teamsv1alpha1.Coach{
			ObjectMeta: metav1.ObjectMeta{Name: "jan"},
			Spec:       teamsv1alpha1.CoachSpec{Subject: user("jan@care.example.org"), MaxTeams: 5},
		})
	}).WithTimeout(timeout).Should(Succeed(), "the webhooks answer")
	team := newTeam("charted", "default", user("anna@care.example.org"))
	team.Spec.Coach = "jan"
	h.create(team)
	coached := func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(meta.IsStatusConditionTrue(team.Status.Conditions, teamsv1alpha1.CoachAssignedCondition)).To(BeTrue())
	}
	h.team("charted", func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		coached(g, team)
		g.Expect(h.quotaCPU(g, "team-charted")).To(Equal("2250m"), "2 + 250m for one member")
	})

	// The region's defaults change; the blueprint and the team follow.
	upgradedRegion := "region: {defaultBlueprint: {database: {class: None}, maxMembers: 8, quota: {base: {requests.cpu: \"3\"}}}}\n"
	h.region(upgradedRegion)
	h.doc(docUpgrade)
	g.Eventually(func(g Gomega) {
		bp := &teamsv1alpha1.TeamBlueprint{}
		g.Expect(h.c.Get(ctx, client.ObjectKey{Name: "default"}, bp)).To(Succeed())
		g.Expect(bp.Spec.MaxMembers).To(Equal(int32(8)))
		g.Expect(bp.Spec.Quota.Base["requests.cpu"]).To(Equal(resource.MustParse("3")))
		g.Expect(h.quotaCPU(g, "team-charted")).To(Equal("3250m"))
	}).WithTimeout(timeout).Should(Succeed())

	// A hand edit: a plain upgrade stops at the conflict; the doc's upgrade
	// wins the field back.
	h.doc(docHandEdit)
	out, err := h.sh("helm upgrade buurt charts/buurt --namespace buurt-system --values region.yaml")
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring(`conflict with "kubectl-patch" using teams.buurt.dev/v1alpha1: .spec.maxMembers`))
	h.doc(docUpgrade)
	bp := &teamsv1alpha1.TeamBlueprint{}
	g.Expect(h.c.Get(ctx, client.ObjectKey{Name: "default"}, bp)).To(Succeed())
	g.Expect(bp.Spec.MaxMembers).To(Equal(int32(8)))
	g.Expect(managersOf(bp, "f:maxMembers")).To(Equal([]string{"helm"}))

	// Uninstalled: the operator's objects go; teams, their namespaces, the
	// CRDs and the roles their bindings name stay, and so does access.
	h.stopOperator()
	h.doc(docUninstall)
	g.Eventually(func() bool {
		return apierrors.IsNotFound(h.c.Get(ctx, client.ObjectKey{Namespace: "buurt-system", Name: "buurt-controller-manager"}, &corev1.ServiceAccount{}))
	}).WithTimeout(timeout).Should(BeTrue(), "the chart's own objects are gone")
	g.Expect(h.c.Get(ctx, client.ObjectKeyFromObject(team), &teamsv1alpha1.NeighbourhoodTeam{})).To(Succeed())
	g.Expect(h.c.Get(ctx, client.ObjectKey{Name: "team-charted"}, &corev1.Namespace{})).To(Succeed())
	g.Expect(h.c.Get(ctx, client.ObjectKey{Name: "default"}, &teamsv1alpha1.TeamBlueprint{})).To(Succeed())
	g.Expect(h.c.Get(ctx, client.ObjectKey{Name: "jan"}, &teamsv1alpha1.Coach{})).To(Succeed())
	expectKept(g, h.c)
	g.Expect(apierrors.IsNotFound(h.c.Get(ctx, client.ObjectKey{Name: "buurt-manager"}, &rbacv1.ClusterRole{}))).To(BeTrue(),
		"the operator's own role goes")
	g.Expect(h.allowed("anna@care.example.org", "create", "apps", "deployments", "team-charted")).To(BeTrue(), "the member works on")
	g.Expect(h.allowed("jan@care.example.org", "get", "", "pods", "team-charted")).To(BeTrue(), "the coach still helps")
	g.Expect(h.allowed("jan@care.example.org", "get", "", "secrets", "team-charted")).To(BeFalse(), "and still reads no Secrets")

	// Installed again, with the changed region: the kept objects are adopted
	// and the team follows the region again.
	h.doc(docInstall)
	h.startOperator(operatorBin)
	for _, obj := range []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "buurt:team-member"}},
		&teamsv1alpha1.TeamBlueprint{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
	} {
		g.Expect(h.c.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		g.Expect(obj.GetAnnotations()).To(HaveKeyWithValue("meta.helm.sh/release-name", "buurt"))
		g.Expect(obj.GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "Helm"))
	}
	h.region(region)
	h.doc(docUpgrade)
	h.team("charted", func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		coached(g, team)
		g.Expect(h.quotaCPU(g, "team-charted")).To(Equal("2250m"), "back to the chart's 2 + 250m")
	})
	out, err = h.sh("helm status buurt --namespace buurt-system")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("REVISION: 2"))
	g.Expect(out).To(ContainSubstring("STATUS: deployed"))
}

// managersOf are the field managers of obj's managed fields that name field.
func managersOf(obj client.Object, field string) []string {
	var managers []string
	for _, entry := range obj.GetManagedFields() {
		if entry.FieldsV1 != nil && strings.Contains(entry.FieldsV1.GetRawString(), `"`+field+`"`) {
			managers = append(managers, entry.Manager)
		}
	}
	return managers
}

// TestHelmUpgradeFromPreviousChart installs the chart and operator of
// previousChart (whose TeamBlueprint has no imagePullPolicy), makes a team,
// upgrades to this checkout's chart and operator as docs/upgrading.md says,
// and finds the team still Ready and the new field served.
func TestHelmUpgradeFromPreviousChart(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	h := newHelmInstallation(t, "e2e-helm-previous")
	previous := filepath.Join(h.workDir, "previous")
	g.Expect(os.MkdirAll(previous, 0o750)).To(Succeed())
	out, err := h.sh(fmt.Sprintf("git -C %q archive %s | tar -x -C %q && cd %q && go build -o manager ./cmd/manager",
		testenv.RepoRoot(), previousChart, previous, previous))
	g.Expect(err).NotTo(HaveOccurred(), "the test needs this repository's history (not a shallow clone):\n%s", out)

	// The previous chart knows no myTeams.
	h.writeRegion(fmt.Sprintf("replicaCount: 1\nwebhook: {url: \"https://localhost:%d\"}\nregion: {defaultBlueprint: {database: {class: None}}}\n", h.port))
	out, err = h.sh(fmt.Sprintf("helm install buurt %q --namespace buurt-system --create-namespace --values region.yaml",
		filepath.Join(previous, "charts", "buurt")))
	g.Expect(err).NotTo(HaveOccurred(), out)
	h.startOperator(filepath.Join(previous, "manager"))
	team := newTeam("upgraded", "default", user("anna@care.example.org"))
	h.create(team)
	before := h.team("upgraded", func(Gomega, *teamsv1alpha1.NeighbourhoodTeam) {})

	// The previous CRD drops the field it does not know.
	pulling := testenv.DesignBlueprint("pull-always")
	pulling.Spec.ImagePullPolicy = teamsv1alpha1.ImagePullPolicyAlways
	g.Expect(h.c.Create(ctx, pulling)).To(Succeed())
	g.Expect(h.c.Get(ctx, client.ObjectKeyFromObject(pulling), pulling)).To(Succeed())
	g.Expect(pulling.Spec.ImagePullPolicy).To(BeEmpty())

	h.region("region: {defaultBlueprint: {database: {class: None}}}\n")
	h.doc(docUpgrade)
	h.startOperator(operatorBin)

	// The new operator writes the blueprint's status meanwhile: each try
	// starts from the blueprint as it is.
	g.Eventually(func() error {
		if err := h.c.Get(ctx, client.ObjectKeyFromObject(pulling), pulling); err != nil {
			return err
		}
		pulling.Spec.ImagePullPolicy = teamsv1alpha1.ImagePullPolicyAlways
		return h.c.Update(ctx, pulling)
	}).WithTimeout(timeout).Should(Succeed(), "the webhooks answer")
	got := &teamsv1alpha1.TeamBlueprint{}
	g.Expect(h.c.Get(ctx, client.ObjectKeyFromObject(pulling), got)).To(Succeed())
	g.Expect(got.Spec.ImagePullPolicy).To(Equal(teamsv1alpha1.ImagePullPolicyAlways))

	// This operator, not the previous one, has looked at the default
	// blueprint: only it reports TenantRulesEnforced.
	g.Eventually(func(g Gomega) {
		bp := &teamsv1alpha1.TeamBlueprint{}
		g.Expect(h.c.Get(ctx, client.ObjectKey{Name: "default"}, bp)).To(Succeed())
		g.Expect(meta.FindStatusCondition(bp.Status.Conditions, teamsv1alpha1.TenantRulesEnforcedCondition)).NotTo(BeNil())
	}).WithTimeout(timeout).Should(Succeed())
	after := h.team("upgraded", func(g Gomega, _ *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(h.quotaCPU(g, "team-upgraded")).To(Equal("2250m"))
	})
	g.Expect(after.UID).To(Equal(before.UID))
	g.Expect(after.Generation).To(Equal(before.Generation))
	g.Expect(after.Status.Namespace).To(Equal("team-upgraded"))
}

// TestKustomizeUninstallAndMoveToHelm installs config/default, uninstalls it
// as docs/upgrading.md says (the CRDs and the roles teams need stay),
// installs it again and moves it to Helm: every object of the chart is then
// the release's, and the next upgrade meets no conflict.
func TestKustomizeUninstallAndMoveToHelm(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	h := newHelmInstallation(t, "e2e-kustomize")
	h.doc(docKustomize)
	deployment := client.ObjectKey{Namespace: "buurt-system", Name: "buurt-controller-manager"}
	g.Expect(h.c.Get(ctx, deployment, &appsv1.Deployment{})).To(Succeed())

	h.doc(docKustomizeUninstall)
	g.Eventually(func() bool {
		return apierrors.IsNotFound(h.c.Get(ctx, client.ObjectKey{Name: "buurt-system"}, &corev1.Namespace{}))
	}).WithTimeout(timeout).Should(BeTrue(), "the operator's namespace goes")
	g.Expect(apierrors.IsNotFound(h.c.Get(ctx, client.ObjectKey{Name: "buurt-manager"}, &rbacv1.ClusterRole{}))).To(BeTrue())
	expectKept(g, h.c)

	h.doc(docKustomize)
	// The chart's own webhook address is the Service config/default made:
	// the region sets nothing config/default does not.
	h.writeRegion("replicaCount: 1\n")
	h.doc(docKustomizeToHelm)
	out, err := h.sh("helm get manifest buurt --namespace buurt-system | kubectl get -f - -o jsonpath='{range .items[*]}{.kind} {.metadata.name} {.metadata.annotations.meta\\.helm\\.sh/release-name}{\"\\n\"}{end}'")
	g.Expect(err).NotTo(HaveOccurred(), out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	g.Expect(len(lines)).To(BeNumerically(">", 30), out)
	for _, line := range lines {
		g.Expect(line).To(HaveSuffix(" buurt"), "every object of the chart is the release's")
	}
	h.doc(docUpgrade)
	expectKept(g, h.c)
}

// expectKept checks that the CRDs and the roles teams' bindings name exist.
func expectKept(g Gomega, c client.Client) {
	ctx := context.Background()
	for _, crd := range []string{"neighbourhoodteams", "teamblueprints", "coaches", "teamsplits"} {
		g.Expect(c.Get(ctx, client.ObjectKey{Name: crd + ".teams.buurt.dev"}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed())
	}
	for _, role := range []string{"buurt:team-member", "buurt:coach", "buurt:platform-engineer", "buurt:operator-in-team"} {
		g.Expect(c.Get(ctx, client.ObjectKey{Name: role}, &rbacv1.ClusterRole{})).To(Succeed(), role)
	}
}
