//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/fluxprocess"
	"github.com/buurt-dev/buurt/internal/gitserver"
	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/operatorprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
)

// gitopsDoc is what docs/gitops.md gives for Flux: the operator's objects,
// the command that asks Flux to look, the teams repository's files by
// path, the objects that sync it, and the message of a refused team.
type gitopsDoc struct {
	operator, reconcile, teamsObjects, refused string
	files                                      map[string]string
}

// The URLs docs/gitops.md names, which the test's git server stands in for.
const (
	buurtURL  = "https://github.com/buurt-dev/buurt.git"
	regionURL = "https://git.example.org/care/region.git"
)

func readGitopsDoc(t *testing.T) gitopsDoc {
	t.Helper()
	g := NewWithT(t)
	blocks := fencedBlocks(t, "gitops.md", "## Argo CD")
	d := gitopsDoc{files: map[string]string{}}
	var objects []string
	for _, b := range blocks {
		first, _, _ := strings.Cut(b.body, "\n")
		switch {
		case b.lang == "yaml" && strings.HasPrefix(first, "# teams/"):
			d.files[strings.TrimPrefix(first, "# ")] = b.body
		case b.lang == "yaml":
			objects = append(objects, b.body)
		case b.lang == "sh":
			d.reconcile = strings.TrimSpace(b.body)
		case strings.Contains(b.body, "dry-run failed"):
			d.refused = strings.TrimSpace(b.body)
		}
	}
	g.Expect(objects).To(HaveLen(2), "docs/gitops.md: the operator's and the teams' Flux objects")
	d.operator, d.teamsObjects = objects[0], objects[1]
	g.Expect(d.operator).To(ContainSubstring(buurtURL))
	g.Expect(d.teamsObjects).To(ContainSubstring(regionURL))
	g.Expect(d.reconcile).To(ContainSubstring("gitrepository/buurt"))
	g.Expect(d.refused).NotTo(BeEmpty())
	g.Expect(d.files).To(HaveKey("teams/kustomization.yaml"))
	return d
}

// TestFluxSyncsBuurtAndTeams runs docs/gitops.md with Flux's own
// controllers on a local cluster of its own: Flux installs buurt from a git
// repository of its chart, and syncs a repository of teams as a platform
// engineer's ServiceAccount. The teams become Ready; new commits roll out
// (the chart's and the teams'); Flux reports every team and coach unchanged
// across reconciles; a member's own edits are kept or reverted as the doc
// says; a refused team fails its commit with buurt's message and leaves the
// other teams as they were; a team removed from the repository is deleted
// and its database kept.
func TestFluxSyncsBuurtAndTeams(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	fluxBin := os.Getenv("FLUX")
	if fluxBin == "" {
		t.Fatal("FLUX is not set: run `make test-e2e`, or set FLUX=$(hack/tools.sh flux)")
	}
	doc := readGitopsDoc(t)
	h := newHelmInstallation(t, "e2e-flux")

	g.Expect(fluxprocess.InstallCRDs(ctx, h.c, fluxBin)).To(Succeed())
	h.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fluxprocess.Namespace}})
	flux, err := fluxprocess.Start(fluxBin, h.cluster.Kubeconfig(), t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		if err := flux.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			for name, log := range flux.Logs() {
				t.Logf("flux's %s log:\n%s", name, log)
			}
		}
	})

	// Two repositories: buurt's, with this checkout's chart, and the
	// region's, with the doc's teams.
	server, err := gitserver.Start(t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(server.Close)
	buurtRepo, err := server.NewRepo("buurt")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.CopyFS(filepath.Join(buurtRepo.Dir(), "charts", "buurt"), os.DirFS(filepath.Join(testenv.RepoRoot(), "charts", "buurt")))).To(Succeed())
	// What a local cluster needs, as the defaults of this copy of the chart
	// (the doc's HelmRelease is applied as it is): one replica, the
	// webhooks at the operator outside the cluster, and no buurt-api, whose
	// pods would not really run (the helm e2e's region values).
	editFile(g, buurtRepo, "charts/buurt/values.yaml", "\nreplicaCount: 2\n", "\nreplicaCount: 1\n")
	editFile(g, buurtRepo, "charts/buurt/values.yaml", "  url: \"\"\n", fmt.Sprintf("  url: \"https://localhost:%d\"\n", h.port))
	editFile(g, buurtRepo, "charts/buurt/values.yaml", "names its Service too.\n  enabled: true\n", "names its Service too.\n  enabled: false\n")
	_, err = buurtRepo.Commit("buurt's chart")
	g.Expect(err).NotTo(HaveOccurred())
	region, err := server.NewRepo("region")
	g.Expect(err).NotTo(HaveOccurred())
	for path, content := range doc.files {
		writeFile(g, filepath.Join(region.Dir(), path), content)
	}
	_, err = region.Commit("The meadow's teams")
	g.Expect(err).NotTo(HaveOccurred())

	// What is not in git: the shared server's admin Secret.
	h.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: localcluster.OperatorNamespace}})
	g.Expect(localcluster.ApplyAdminSecret(ctx, h.c, "buurt-postgres-admin", map[string]string{
		"host": pg.Host, "port": strconv.Itoa(pg.Port), "user": testpg.AdminUser, "password": pg.Password, "sslmode": "disable",
	})).To(Succeed())

	// The operator, as the doc's HelmRelease installs it.
	for _, obj := range objectsOf(g, strings.ReplaceAll(doc.operator, buurtURL, buurtRepo.URL)) {
		g.Expect(h.c.Create(ctx, obj)).To(Succeed())
	}
	fluxReady(t, h.c, "HelmRelease", "buurt", "")
	h.startOperator(operatorBin)
	g.Expect(operatorprocess.WaitForWebhooks(ctx, h.c)).To(Succeed())

	// The teams, as the doc's Kustomization syncs them.
	for _, obj := range objectsOf(g, strings.ReplaceAll(doc.teamsObjects, regionURL, region.URL)) {
		g.Expect(h.c.Create(ctx, obj)).To(Succeed())
	}
	fluxReady(t, h.c, "Kustomization", "teams", "")
	east := h.team("meadow-east", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(tm.Status.Database).NotTo(BeNil())
	})
	h.team("meadow-west", func(Gomega, *teamsv1alpha1.NeighbourhoodTeam) {})
	g.Expect(memberNames(east)).To(ConsistOf("anna@care.example.org", "bram@care.example.org"))

	// No drift: three reconciles of an unchanged repository report every
	// team, coach and blueprint unchanged, and change none of them.
	before := settledVersions(t, h.c)
	for range 3 {
		reconcileFlux(t, h.c, "Kustomization", "teams")
	}
	g.Expect(versions(g, h.c)).To(Equal(before))
	g.Expect(lastApply(t, flux, "teams")).To(Equal(map[string]string{
		"TeamBlueprint/small": "unchanged", "Coach/wim": "unchanged",
		"NeighbourhoodTeam/meadow-east": "unchanged", "NeighbourhoodTeam/meadow-west": "unchanged",
	}))

	// A commit rolls out, asked for as the doc says: Femke joins meadow-east
	// and has access; meadow-west, whose members are its own, does not take
	// Gijs.
	editFile(g, region, "teams/meadow/meadow-east.yaml", "  - {kind: User, name: bram@care.example.org}\n",
		"  - {kind: User, name: bram@care.example.org}\n  - {kind: User, name: femke@care.example.org}\n")
	editFile(g, region, "teams/meadow/meadow-west.yaml", "  - {kind: User, name: eva@care.example.org}\n",
		"  - {kind: User, name: eva@care.example.org}\n  - {kind: User, name: gijs@care.example.org}\n")
	rev, err := region.Commit("Femke joins meadow-east, Gijs meadow-west")
	g.Expect(err).NotTo(HaveOccurred())
	out, err := h.sh(strings.ReplaceAll(doc.reconcile, "gitrepository/buurt", "gitrepository/region"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	fluxReady(t, h.c, "Kustomization", "teams", rev)
	h.team("meadow-east", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(memberNames(tm)).To(ConsistOf("anna@care.example.org", "bram@care.example.org", "femke@care.example.org"))
		g.Expect(tm.Status.ObservedGeneration).To(Equal(tm.Generation))
	})
	g.Expect(h.allowed("femke@care.example.org", "get", "", "pods", "team-meadow-east")).To(BeTrue())
	west := h.team("meadow-west", func(Gomega, *teamsv1alpha1.NeighbourhoodTeam) {})
	g.Expect(memberNames(west)).To(ConsistOf("dirk@care.example.org", "eva@care.example.org"))

	// A member's own edits: Anna adds Carla to meadow-east and removes Bram;
	// Dirk removes Eva from meadow-west and adds Ilse. At the next reconcile
	// Carla is gone and Bram back; meadow-west is as Dirk left it.
	for _, patch := range []struct{ user, team, patch string }{
		{"anna", "meadow-east", `[{"op": "add", "path": "/spec/members/-", "value": {"kind": "User", "name": "carla@care.example.org"}}]`},
		{"anna", "meadow-east", `[{"op": "test", "path": "/spec/members/1/name", "value": "bram@care.example.org"}, ` +
			`{"op": "remove", "path": "/spec/members/1"}]`},
		{"dirk", "meadow-west", `[{"op": "test", "path": "/spec/members/1/name", "value": "eva@care.example.org"}, ` +
			`{"op": "remove", "path": "/spec/members/1"}]`},
		{"dirk", "meadow-west", `[{"op": "add", "path": "/spec/members/-", "value": {"kind": "User", "name": "ilse@care.example.org"}}]`},
	} {
		out, err := h.sh("kubectl --as=" + patch.user + "@care.example.org patch neighbourhoodteam " + patch.team + " --type=json -p '" + patch.patch + "'")
		g.Expect(err).NotTo(HaveOccurred(), out)
		g.Expect(out).To(Equal("neighbourhoodteam.teams.buurt.dev/" + patch.team + " patched\n"))
	}
	reconcileFlux(t, h.c, "Kustomization", "teams")
	g.Expect(lastApply(t, flux, "teams")).To(HaveKeyWithValue("NeighbourhoodTeam/meadow-east", "configured"))
	h.team("meadow-east", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(memberNames(tm)).To(ConsistOf("anna@care.example.org", "bram@care.example.org", "femke@care.example.org"))
	})
	west = h.team("meadow-west", func(Gomega, *teamsv1alpha1.NeighbourhoodTeam) {})
	g.Expect(memberNames(west)).To(ConsistOf("dirk@care.example.org", "ilse@care.example.org"))
	g.Expect(h.allowed("carla@care.example.org", "get", "", "pods", "team-meadow-east")).To(BeFalse(), "Carla's access is gone")
	// Flux took over the fields kubectl changed; from now on it sees no
	// drift in either team.
	reconcileFlux(t, h.c, "Kustomization", "teams")
	g.Expect(lastApply(t, flux, "teams")).To(And(HaveKeyWithValue("NeighbourhoodTeam/meadow-east", "unchanged"),
		HaveKeyWithValue("NeighbourhoodTeam/meadow-west", "unchanged")))

	// A refused team: the commit that adds it fails with buurt's message,
	// and nothing of it is applied, Hanna's joining meadow-east included.
	before = settledVersions(t, h.c)
	north := strings.NewReplacer("meadow-west", "meadow-north").Replace(doc.files["teams/meadow/meadow-west.yaml"])
	for _, name := range []string{"hanna", "ids", "jet", "kees", "lotte"} {
		north += "  - {kind: User, name: " + name + "@care.example.org}\n"
	}
	writeFile(g, filepath.Join(region.Dir(), "teams", "meadow", "meadow-north.yaml"), north)
	editFile(g, region, "teams/kustomization.yaml", "- meadow/meadow-west.yaml\n", "- meadow/meadow-west.yaml\n- meadow/meadow-north.yaml\n")
	editFile(g, region, "teams/meadow/meadow-east.yaml", "  - {kind: User, name: femke@care.example.org}\n",
		"  - {kind: User, name: femke@care.example.org}\n  - {kind: User, name: hanna@care.example.org}\n")
	_, err = region.Commit("meadow-north, of seven")
	g.Expect(err).NotTo(HaveOccurred())
	reconcileFlux(t, h.c, "GitRepository", "region")
	g.Eventually(func(g Gomega) {
		ready := fluxCondition(g, h.c, "Kustomization", "teams")
		g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(ready.Message).To(ContainSubstring(doc.refused))
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(apierrors.IsNotFound(h.c.Get(ctx, client.ObjectKey{Name: "meadow-north"}, &teamsv1alpha1.NeighbourhoodTeam{}))).To(BeTrue())
	g.Expect(versions(g, h.c)).To(Equal(before), "the other teams are as they were")

	// Fixed, without meadow-north: Hanna joins.
	g.Expect(os.Remove(filepath.Join(region.Dir(), "teams", "meadow", "meadow-north.yaml"))).To(Succeed())
	editFile(g, region, "teams/kustomization.yaml", "- meadow/meadow-north.yaml\n", "")
	rev, err = region.Commit("meadow-north waits until it splits")
	g.Expect(err).NotTo(HaveOccurred())
	reconcileFlux(t, h.c, "GitRepository", "region")
	fluxReady(t, h.c, "Kustomization", "teams", rev)
	h.team("meadow-east", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(memberNames(tm)).To(ContainElement("hanna@care.example.org"))
	})

	// A new commit of the chart rolls out: the region's default blueprint
	// follows the chart's new default.
	editFile(g, buurtRepo, "charts/buurt/values.yaml", "    maxMembers: 12\n", "    maxMembers: 10\n")
	_, err = buurtRepo.Commit("Teams of at most ten")
	g.Expect(err).NotTo(HaveOccurred())
	out, err = h.sh(doc.reconcile)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Eventually(func(g Gomega) {
		bp := &teamsv1alpha1.TeamBlueprint{}
		g.Expect(h.c.Get(ctx, client.ObjectKey{Name: "default"}, bp)).To(Succeed())
		g.Expect(bp.Spec.MaxMembers).To(Equal(int32(10)))
	}).WithTimeout(2 * timeout).Should(Succeed())

	// meadow-east leaves the repository: the team goes, its database stays.
	g.Expect(os.Remove(filepath.Join(region.Dir(), "teams", "meadow", "meadow-east.yaml"))).To(Succeed())
	editFile(g, region, "teams/kustomization.yaml", "- meadow/meadow-east.yaml\n", "")
	_, err = region.Commit("meadow-east closes")
	g.Expect(err).NotTo(HaveOccurred())
	reconcileFlux(t, h.c, "GitRepository", "region")
	g.Eventually(func() bool {
		return apierrors.IsNotFound(h.c.Get(ctx, client.ObjectKey{Name: "meadow-east"}, &teamsv1alpha1.NeighbourhoodTeam{}))
	}).WithTimeout(2*timeout).Should(BeTrue(), "pruned")
	conn, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(ctx) }()
	var kept bool
	g.Expect(conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
		database.Name("meadow-east")).Scan(&kept)).To(Succeed())
	g.Expect(kept).To(BeTrue(), "the database is kept")
	events := &eventsv1.EventList{}
	g.Expect(h.c.List(ctx, events)).To(Succeed())
	var retained []string
	for _, e := range events.Items {
		if e.Regarding.Name == "meadow-east" && e.Reason == "Retained" {
			retained = append(retained, e.Note)
		}
	}
	g.Expect(retained).To(ContainElement(ContainSubstring(database.Name("meadow-east"))))
	h.team("meadow-west", func(Gomega, *teamsv1alpha1.NeighbourhoodTeam) {})
}

// objectsOf are the objects of a multi-document YAML text.
func objectsOf(g Gomega, text string) []*unstructured.Unstructured {
	var objects []*unstructured.Unstructured
	for _, doc := range strings.Split(text, "\n---\n") {
		obj := &unstructured.Unstructured{}
		g.Expect(yaml.Unmarshal([]byte(doc), &obj.Object)).To(Succeed())
		objects = append(objects, obj)
	}
	return objects
}

// fluxObject is an empty Flux object of kind, for a client to read into.
func fluxObject(kind, name string) *unstructured.Unstructured {
	groups := map[string]string{
		"GitRepository": "source.toolkit.fluxcd.io/v1", "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
		"HelmRelease": "helm.toolkit.fluxcd.io/v2",
	}
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(groups[kind])
	obj.SetKind(kind)
	obj.SetNamespace(fluxprocess.Namespace)
	obj.SetName(name)
	return obj
}

// fluxCondition is the Ready condition of a Flux object.
func fluxCondition(g Gomega, c client.Client, kind, name string) metav1.Condition {
	obj := fluxObject(kind, name)
	g.Expect(c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	var status struct {
		Conditions []metav1.Condition `json:"conditions"`
	}
	data, err := json.Marshal(obj.Object["status"])
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(json.Unmarshal(data, &status)).To(Succeed())
	for _, c := range status.Conditions {
		if c.Type == "Ready" {
			return c
		}
	}
	return metav1.Condition{}
}

// fluxReady waits until a Flux object is Ready, at revision (a commit's
// hash) unless it is "".
func fluxReady(t *testing.T, c client.Client, kind, name, revision string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		ready := fluxCondition(g, c, kind, name)
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "%s/%s: %s", kind, name, ready.Message)
		g.Expect(ready.Message).To(ContainSubstring(revision))
	}).WithTimeout(3 * timeout).Should(Succeed())
}

// reconcileFlux asks a Flux object to reconcile now, as `flux reconcile`
// does, and waits until it has.
func reconcileFlux(t *testing.T, c client.Client, kind, name string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	requested := strconv.FormatInt(time.Now().UnixNano(), 10)
	obj := fluxObject(kind, name)
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["reconcile.fluxcd.io/requestedAt"] = requested
	obj.SetAnnotations(annotations)
	g.Expect(c.Update(ctx, obj)).To(Succeed())
	g.Eventually(func(g Gomega) string {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		handled, _, _ := unstructured.NestedString(obj.Object, "status", "lastHandledReconcileAt")
		return handled
	}).WithTimeout(2 * timeout).Should(Equal(requested))
}

// lastApply is what kustomize-controller's last apply of the Kustomization
// did to each object ("unchanged", "configured", "created"), from its log.
func lastApply(t *testing.T, flux *fluxprocess.Flux, name string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(flux.Log("kustomize-controller"))
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	var last map[string]string
	for line := range strings.Lines(string(data)) {
		var entry struct {
			Msg    string            `json:"msg"`
			Name   string            `json:"name"`
			Output map[string]string `json:"output"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "server-side apply completed" && entry.Name == name {
			last = entry.Output
		}
	}
	return last
}

// versions are the resourceVersions of the cluster's teams, coaches and
// blueprints, by kind and name.
func versions(g Gomega, c client.Client) map[string]string {
	out := map[string]string{}
	for _, list := range []client.ObjectList{
		&teamsv1alpha1.NeighbourhoodTeamList{}, &teamsv1alpha1.CoachList{}, &teamsv1alpha1.TeamBlueprintList{},
	} {
		g.Expect(c.List(context.Background(), list)).To(Succeed())
		items, err := meta.ExtractList(list)
		g.Expect(err).NotTo(HaveOccurred())
		for _, item := range items {
			o := item.(client.Object)
			out[fmt.Sprintf("%T/%s", o, o.GetName())] = o.GetResourceVersion()
		}
	}
	return out
}

// settledVersions are versions once buurt has finished writing the status
// of what was just synced: the same over 3 seconds.
func settledVersions(t *testing.T, c client.Client) map[string]string {
	t.Helper()
	var settled map[string]string
	NewWithT(t).Eventually(func(g Gomega) {
		settled = versions(g, c)
		time.Sleep(3 * time.Second)
		g.Expect(versions(g, c)).To(Equal(settled))
	}).WithTimeout(timeout).Should(Succeed())
	return settled
}

// memberNames are the names of a team's members.
func memberNames(tm *teamsv1alpha1.NeighbourhoodTeam) []string {
	var names []string
	for _, m := range tm.Spec.Members {
		names = append(names, m.Name)
	}
	return names
}

// editFile replaces old with new in a file of a repository's work tree; old
// must be there.
func editFile(g Gomega, repo *gitserver.Repo, path, old, new string) {
	file := filepath.Join(repo.Dir(), path)
	data, err := os.ReadFile(file)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(data)).To(ContainSubstring(old), path)
	g.Expect(os.WriteFile(file, []byte(strings.Replace(string(data), old, new, 1)), 0o600)).To(Succeed())
}

func writeFile(g Gomega, path, content string) {
	g.Expect(os.MkdirAll(filepath.Dir(path), 0o750)).To(Succeed())
	g.Expect(os.WriteFile(path, []byte(content), 0o600)).To(Succeed())
}
