//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/manifests"
	"github.com/buurt-dev/buurt/internal/operatorprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// hostAddress is an address of this machine that is not loopback: the
// apiserver reaches an aggregated API server at its endpoints' addresses,
// which may not be loopback.
func hostAddress() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("this machine has no IPv4 address but loopback")
}

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
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/buurt-api")
	build.Dir = testenv.RepoRoot()
	out, err := build.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "%s", out)
	host, err := hostAddress()
	g.Expect(err).NotTo(HaveOccurred())
	free, err := freeport.Get()
	g.Expect(err).NotTo(HaveOccurred())
	port := int32(free) //nolint:gosec // a TCP port

	var installed []client.Object
	for _, file := range []string{"user_role.yaml", "rbac.yaml", "api.yaml"} {
		g.Expect(manifests.Each(filepath.Join(testenv.RepoRoot(), "config", "my-teams", file), func(obj *unstructured.Unstructured) error {
			if obj.GetKind() == "Service" {
				// No pods: the endpoints below lead to this machine.
				unstructured.RemoveNestedField(obj.Object, "spec", "selector")
				if err := unstructured.SetNestedSlice(obj.Object, []any{map[string]any{
					"name": "https", "port": int64(443), "targetPort": int64(port), "protocol": "TCP",
				}}, "spec", "ports"); err != nil {
					return err
				}
			}
			installed = append(installed, obj)
			return nil
		})).To(Succeed())
	}
	installed = append(installed, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: localcluster.OperatorNamespace, Name: operatorprocess.MyTeamsService,
			Labels: map[string]string{discoveryv1.LabelServiceName: operatorprocess.MyTeamsService}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	})
	for _, obj := range installed {
		g.Expect(admin.Create(ctx, obj)).To(Succeed(), "%T %s", obj, obj.GetName())
		t.Cleanup(func() { _ = admin.Delete(context.Background(), obj) })
	}
	// The operator injects its CA, as in an installation.
	g.Eventually(func(g Gomega) {
		api := &unstructured.Unstructured{}
		api.SetAPIVersion("apiregistration.k8s.io/v1")
		api.SetKind("APIService")
		g.Expect(admin.Get(ctx, client.ObjectKey{Name: operatorprocess.MyTeamsAPIService}, api)).To(Succeed())
		ca, _, _ := unstructured.NestedString(api.Object, "spec", "caBundle")
		g.Expect(ca).NotTo(BeEmpty())
	}).WithTimeout(time.Minute).Should(Succeed(), "the operator injects its CA into the APIService")

	saConfig, err := localcluster.ServiceAccountConfig(ctx, adminConfig, localcluster.OperatorNamespace, "buurt-api", time.Hour)
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfig := filepath.Join(dir, "buurt-api.kubeconfig")
	g.Expect(localcluster.WriteKubeconfig(saConfig, kubeconfig)).To(Succeed())
	certs := operatorprocess.CertDir(operatorDir)
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig,
		"--authorization-kubeconfig", kubeconfig, "--bind-address", host, "--secure-port", strconv.Itoa(free),
		"--tls-cert-file", filepath.Join(certs, "tls.crt"), "--tls-private-key-file", filepath.Join(certs, "tls.key"))
	logs, err := os.Create(filepath.Join(dir, "buurt-api.log"))
	g.Expect(err).NotTo(HaveOccurred())
	cmd.Stdout, cmd.Stderr = logs, logs
	g.Expect(cmd.Start()).To(Succeed())
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		data, _ := os.ReadFile(logs.Name())
		t.Logf("buurt-api's log:\n%s", data)
	})
	return stop
}

// TestMyTeams: through the cluster's apiserver, each person lists exactly
// their own teams.
func TestMyTeams(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	stopAPI := startMyTeamsAPI(t)
	for _, tm := range []*teamsv1alpha1.NeighbourhoodTeam{
		newTeam("my-riverside", "no-blueprint", user("anke@care.example.org")),
		newTeam("my-hillside", "no-blueprint", teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindGroup, Name: "my-hillside-nurses"}),
		newTeam("my-harbour", "no-blueprint", user("carla@care.example.org")),
	} {
		g.Expect(admin.Create(ctx, tm)).To(Succeed())
		t.Cleanup(func() { _ = admin.Delete(context.Background(), tm) })
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
	coach := &teamsv1alpha1.Coach{ObjectMeta: metav1.ObjectMeta{Name: "my-jan"},
		Spec: teamsv1alpha1.CoachSpec{Subject: user("joost@care.example.org"), MaxTeams: 5}}
	g.Expect(admin.Create(ctx, coach)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), coach) })
	harbour := teamNamed("my-harbour")
	edit(t, harbour, func() { harbour.Spec.Coach = "my-jan" })
	const pia = "pia-my@region.example.org"
	binding := testenv.PlatformEngineerBinding("e2e-my-platform-engineer", pia)
	g.Expect(admin.Create(ctx, binding)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), binding) })

	// Anke: her team by her user, one by her group; Joost: the team he
	// coaches; Pia: all; Pieter, in no team: none, and no error.
	anke := as(t, "anke@care.example.org", "my-hillside-nurses", "system:authenticated")
	g.Eventually(func(g Gomega) []string { return list(g, anke) }).WithTimeout(time.Minute).Should(Equal(
		[]string{"my-hillside/Member", "my-riverside/Member"}))
	g.Eventually(func(g Gomega) []string { return list(g, as(t, "joost@care.example.org", "system:authenticated")) }).
		WithTimeout(time.Minute).Should(Equal([]string{"my-harbour/Coach"}))
	g.Eventually(func(g Gomega) []string { return list(g, as(t, pia, "system:authenticated")) }).
		WithTimeout(time.Minute).Should(ContainElements("my-harbour/PlatformEngineer", "my-hillside/PlatformEngineer", "my-riverside/PlatformEngineer"))
	g.Expect(list(g, as(t, "pieter@care.example.org", "system:authenticated"))).To(BeEmpty())

	// Plain kubectl finds them by the short name, with a column for her part.
	g.Expect(shellAs(t, "anke@care.example.org")(g, "kubectl get myteams --as-group my-hillside-nurses --as-group system:authenticated")).To(
		MatchRegexp(`^NAME\s+ROLE\s+PHASE\s+READY\s+NAMESPACE\s+COACH\s+MEMBERS\s+AGE\n` +
			`my-hillside\s+Member\s+.*\n` + `my-riverside\s+Member\s+.*\n$`))

	// kubectl's plugin, found on the PATH, through the real kubectl.
	pluginDir := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(pluginDir, "kubectl-buurt"), "./cmd/kubectl-buurt")
	build.Dir = testenv.RepoRoot()
	out, err := build.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "%s", out)
	g.Expect(shellAs(t, "anke@care.example.org")(g, "PATH="+pluginDir+":$PATH kubectl buurt mine --as-group my-hillside-nurses --as-group system:authenticated")).To(Equal(
		"TEAM           ROLE     PHASE     READY   NAMESPACE   COACH   MEMBERS   SLEEP\n" +
			"my-hillside    Member   Forming   False   -           -       1         -\n" +
			"my-riverside   Member   Forming   False   -           -       1         -\n"))
	g.Expect(shellAs(t, "pieter@care.example.org")(g, "PATH="+pluginDir+":$PATH kubectl buurt mine")).To(Equal(
		"You are in no team and coach none. A platform engineer adds you to a team's members.\n"))

	// Anke asks buurt to look at a team of hers again now, and waits.
	readyTeam(t, testenv.DesignBlueprint("e2e-my"), newTeam("my-north", "e2e-my", user("anke@care.example.org")))
	g.Expect(shellAs(t, "anke@care.example.org")(g, "PATH="+pluginDir+":$PATH kubectl buurt reconcile my-north")).To(Equal(
		"asked buurt to reconcile team my-north; waiting (usually seconds)\n" +
			"team my-north reconciled: Ready True (Reconciled): The team's workspace is ready\n"))

	// Someone else's team is NotFound, as one that does not exist.
	other := &unstructured.Unstructured{}
	other.SetAPIVersion("my.buurt.dev/v1alpha1")
	other.SetKind("Team")
	err = anke.Get(ctx, client.ObjectKey{Name: "my-harbour"}, other)
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
	g.Expect(next()).To(Equal("ADDED my-harbour"))
	riverside := teamNamed("my-riverside")
	joined := time.Now()
	edit(t, riverside, func() { riverside.Spec.Members = append(riverside.Spec.Members, user("carla@care.example.org")) })
	g.Expect(next()).To(Equal("ADDED my-riverside"))
	g.Expect(time.Since(joined)).To(BeNumerically("<", 5*time.Second))

	// With buurt-api down, the rest of the cluster works on, and the plugin
	// says what is missing and whom to ask.
	stopAPI()
	asAdmin := commandAs(t, "")
	_, stderr, err := asAdmin("kubectl get pods -A")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	stdout, stderr, err := asAdmin("kubectl create namespace e2e-my-api-down")
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	g.Expect(stdout).To(Equal("namespace/e2e-my-api-down created\n"))
	t.Cleanup(func() {
		_ = admin.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-my-api-down"}})
	})
	stdout, stderr, err = commandAs(t, "anke@care.example.org")("PATH=" + pluginDir + ":$PATH kubectl buurt mine")
	g.Expect(err).To(HaveOccurred())
	g.Expect(stdout).To(BeEmpty())
	g.Expect(stderr).To(HavePrefix("Error: buurt's API my.buurt.dev is not available on this cluster"), stderr)
	t.Logf("kubectl buurt mine with buurt-api down: %s", stderr)

	// Namespaces being deleted wait while a registered API does not answer
	// (the namespace controller must see every kind): the teams this test
	// made go once buurt-api is unregistered.
	api := &unstructured.Unstructured{}
	api.SetAPIVersion("apiregistration.k8s.io/v1")
	api.SetKind("APIService")
	api.SetName(operatorprocess.MyTeamsAPIService)
	g.Expect(admin.Delete(ctx, api)).To(Succeed())
}

// teamNamed reads a team as the cluster admin.
func teamNamed(name string) *teamsv1alpha1.NeighbourhoodTeam {
	tm := &teamsv1alpha1.NeighbourhoodTeam{}
	_ = admin.Get(context.Background(), client.ObjectKey{Name: name}, tm)
	return tm
}
