//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/myapiprocess"
	"github.com/buurt-dev/buurt/internal/operatorprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// startMyTeamsAPI builds buurt-api and runs it on this machine as
// config/my-teams installs it: as its ServiceAccount, with its roles,
// serving the operator's webhook certificate (which names its Service),
// registered by the APIService the operator injects its CA into, so the
// apiserver checks who it talks to. Only the Deployment is left out: the
// Service leads to this machine. It returns a func that stops buurt-api.
func startMyTeamsAPI(t *testing.T) (stop func()) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	dir := t.TempDir()
	bin := filepath.Join(dir, "buurt-api")
	g.Expect(myapiprocess.Build(ctx, testenv.RepoRoot(), bin)).To(Succeed())
	host, err := myapiprocess.HostAddress()
	g.Expect(err).NotTo(HaveOccurred())
	port, err := freeport.Get()
	g.Expect(err).NotTo(HaveOccurred())
	registered, err := myapiprocess.Register(ctx, admin, testenv.RepoRoot(), host, int32(port)) //nolint:gosec // a TCP port
	g.Expect(err).NotTo(HaveOccurred())
	for _, obj := range registered {
		t.Cleanup(func() { _ = admin.Delete(context.Background(), obj) })
	}
	g.Expect(myapiprocess.WaitForCA(ctx, admin, time.Minute)).To(Succeed())
	api, err := myapiprocess.Start(ctx, myapiprocess.Options{
		Bin: bin, Admin: adminConfig, Dir: dir, Host: host, Port: port, CertDir: operatorprocess.CertDir(operatorDir),
	})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		api.Stop()
		data, _ := os.ReadFile(api.Log)
		t.Logf("buurt-api's log:\n%s", data)
	})
	return api.Stop
}

// TestMyTeams: through the cluster's apiserver, each person lists exactly
// their own teams.
func TestMyTeams(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	stopAPI := startMyTeamsAPI(t)
	const (
		ankeName  = "anke@care.example.org"
		joostName = "joost@care.example.org"
		pia       = "pia-my@region.example.org"
	)
	joost := &teamsv1alpha1.Coach{ObjectMeta: metav1.ObjectMeta{Name: "joost"},
		Spec: teamsv1alpha1.CoachSpec{Subject: user(joostName), MaxTeams: 5}}
	g.Expect(admin.Create(ctx, joost)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), joost) })
	harbour := newTeam("east-harbour", "e2e-my-harbour", user("carla@care.example.org"))
	harbour.Spec.Coach = "joost"
	for _, tm := range []*teamsv1alpha1.NeighbourhoodTeam{
		newTeam("east-riverside", "e2e-my-riverside", user(ankeName)),
		newTeam("east-hillside", "e2e-my-hillside", teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindGroup, Name: "east-hillside-nurses"}),
		harbour,
	} {
		readyTeam(t, testenv.DesignBlueprint(tm.Spec.Blueprint), tm)
	}
	list := func(g Gomega, c client.Client) []string {
		teams := &unstructured.UnstructuredList{}
		teams.SetAPIVersion("my.buurt.dev/v1alpha1")
		teams.SetKind("TeamList")
		g.Expect(c.List(ctx, teams)).To(Succeed())
		var out []string
		for _, item := range teams.Items {
			role, _, _ := unstructured.NestedString(item.Object, "status", "role")
			out = append(out, fmt.Sprintf("%s/%s", item.GetName(), role))
		}
		return out
	}
	binding := testenv.PlatformEngineerBinding("e2e-my-platform-engineer", pia)
	g.Expect(admin.Create(ctx, binding)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), binding) })

	// Anke: her team by her user, one by her group; Joost: the team he
	// coaches; Pia: all; Pieter, in no team: none, and no error.
	ankeGroups := []string{"east-hillside-nurses", "system:authenticated"}
	anke := as(t, ankeName, ankeGroups...)
	g.Eventually(func(g Gomega) []string { return list(g, anke) }).WithTimeout(time.Minute).Should(Equal(
		[]string{"east-hillside/Member", "east-riverside/Member"}))
	g.Eventually(func(g Gomega) []string { return list(g, as(t, joostName, "system:authenticated")) }).
		WithTimeout(time.Minute).Should(Equal([]string{"east-harbour/Coach"}))
	g.Eventually(func(g Gomega) []string { return list(g, as(t, pia, "system:authenticated")) }).
		WithTimeout(time.Minute).Should(ContainElements("east-harbour/PlatformEngineer", "east-hillside/PlatformEngineer", "east-riverside/PlatformEngineer"))
	g.Expect(list(g, as(t, "pieter@care.example.org", "system:authenticated"))).To(BeEmpty())

	// docs/myteams.md, as Anke and as Joost, through the real kubectl and
	// the plugin on the PATH.
	pluginDir := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(pluginDir, "kubectl-buurt"), "./cmd/kubectl-buurt")
	build.Dir = testenv.RepoRoot()
	out, err := build.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "%s", out)
	withPlugin := "PATH=" + pluginDir + ":$PATH "
	var commands, outputs []string
	for _, b := range fencedBlocks(t, "myteams.md", "## For platform engineers") {
		switch b.lang {
		case "sh":
			commands = append(commands, strings.TrimSpace(b.body))
		case "":
			outputs = append(outputs, b.body)
		}
	}
	g.Expect(commands).To(Equal([]string{"kubectl get myteams", "kubectl buurt mine", "kubectl buurt describe east-riverside",
		"kubectl buurt coach", "kubectl buurt reconcile east-riverside"}))
	g.Expect(outputs).To(HaveLen(6), "docs/myteams.md: get, mine, describe, coach, reconcile, down")
	asAnke := shellAs(t, ankeName, ankeGroups...)
	// Ages differ from the doc's: the last column is left out.
	g.Expect(withoutLastColumn(asAnke(g, commands[0]))).To(Equal(withoutLastColumn(outputs[0])))
	g.Expect(asAnke(g, withPlugin+commands[1])).To(Equal(outputs[1]))
	described := asAnke(g, withPlugin+commands[2])
	g.Expect(described).To(HavePrefix("NeighbourhoodTeam east-riverside  Active  Ready True  Reconciled\n"))
	g.Expect(described).To(ContainSubstring("│ └─User anke@care.example.org  Granted\n"))
	g.Expect(described).To(MatchRegexp(`├─Quota buurt-quota\n│ ├─\S+ +\S+ / \S+ +\d+%\n`), "a member reads the quota")
	coached := shellAs(t, joostName, "system:authenticated")(g, withPlugin+commands[3])
	g.Expect(coached).To(HavePrefix("Coach joost  User joost@care.example.org  1 of 5 teams\n"))
	g.Expect(coached).To(MatchRegexp(`│ └─east-harbour +Active +Ready True +Reconciled +1 member +-\n`))
	g.Expect(shellAs(t, "pieter@care.example.org")(g, withPlugin+"kubectl buurt mine")).To(Equal(
		"You are in no team and coach none. A platform engineer adds you to a team's members.\n"))
	// Anke asks buurt to look at her team again now, and waits.
	g.Expect(asAnke(g, withPlugin+commands[4])).To(Equal(outputs[4]))

	// Someone else's team is NotFound, as one that does not exist.
	other := &unstructured.Unstructured{}
	other.SetAPIVersion("my.buurt.dev/v1alpha1")
	other.SetKind("Team")
	err = anke.Get(ctx, client.ObjectKey{Name: "east-harbour"}, other)
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)

	// A new membership is delivered by a watch within seconds.
	watcher, err := dynamic.NewForConfig(testenv.ConfigAs(adminConfig, "carla@care.example.org", "system:authenticated"))
	g.Expect(err).NotTo(HaveOccurred())
	w, err := watcher.Resource(schema.GroupVersionResource{Group: "my.buurt.dev", Version: "v1alpha1", Resource: "teams"}).
		Watch(ctx, metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	defer w.Stop()
	next := func() string {
		select {
		case e := <-w.ResultChan():
			u := e.Object.(*unstructured.Unstructured)
			return string(e.Type) + " " + u.GetName()
		case <-time.After(10 * time.Second):
			return "nothing within 10 s"
		}
	}
	g.Expect(next()).To(Equal("ADDED east-harbour"))
	riverside := teamNamed("east-riverside")
	joined := time.Now()
	edit(t, riverside, func() { riverside.Spec.Members = append(riverside.Spec.Members, user("carla@care.example.org")) })
	g.Expect(next()).To(Equal("ADDED east-riverside"))
	g.Expect(time.Since(joined)).To(BeNumerically("<", 5*time.Second))

	// The platform engineer's check of docs/upgrading.md.
	asAdmin := commandAs(t, "")
	stdout, stderr, err := asAdmin("kubectl get apiservice v1alpha1.my.buurt.dev")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	g.Expect(stdout).To(MatchRegexp(`^NAME +SERVICE +AVAILABLE +AGE\nv1alpha1\.my\.buurt\.dev +buurt-system/buurt-api +True +\S+\n$`))

	// With the operator and buurt-api down, the rest of the cluster works
	// on, and the plugin says what is missing and whom to ask.
	operator.Stop()
	t.Cleanup(func() {
		NewWithT(t).Expect(operator.Start()).To(Succeed())
		NewWithT(t).Expect(operatorprocess.WaitForWebhooks(context.Background(), admin)).To(Succeed())
	})
	// Namespaces being deleted wait while a registered API does not answer
	// (the namespace controller must see every kind): the teams this test
	// made go once buurt-api is unregistered, which runs before their
	// cleanups, whatever happens below.
	t.Cleanup(func() {
		api := &unstructured.Unstructured{}
		api.SetAPIVersion("apiregistration.k8s.io/v1")
		api.SetKind("APIService")
		api.SetName(myapiprocess.APIService)
		NewWithT(t).Expect(client.IgnoreNotFound(admin.Delete(context.Background(), api))).To(Succeed())
	})
	stopAPI()
	_, stderr, err = asAdmin("kubectl get pods -A")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	stdout, stderr, err = asAdmin("kubectl create namespace e2e-my-api-down")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	g.Expect(stdout).To(Equal("namespace/e2e-my-api-down created\n"))
	t.Cleanup(func() {
		_ = admin.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-my-api-down"}})
	})
	stdout, stderr, err = commandAs(t, ankeName, ankeGroups...)(withPlugin + commands[1])
	g.Expect(err).To(HaveOccurred())
	g.Expect(stdout).To(BeEmpty())
	g.Expect(stderr).To(Equal(outputs[5]))
}

// withoutLastColumn is a table as kubectl prints it, without its last
// column (AGE), each line's cells separated by one space.
func withoutLastColumn(table string) string {
	var out []string
	for line := range strings.Lines(table) {
		fields := strings.Fields(line)
		out = append(out, strings.Join(fields[:len(fields)-1], " "))
	}
	return strings.Join(out, "\n")
}

// teamNamed reads a team as the cluster admin.
func teamNamed(name string) *teamsv1alpha1.NeighbourhoodTeam {
	tm := &teamsv1alpha1.NeighbourhoodTeam{}
	_ = admin.Get(context.Background(), client.ObjectKey{Name: name}, tm)
	return tm
}
