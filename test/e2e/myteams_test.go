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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/freeport"
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

// startMyTeamsAPI builds and runs buurt-api on this machine and registers it
// with the cluster's apiserver (Service, EndpointSlice, APIService).
func startMyTeamsAPI(t *testing.T) {
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
	// config/rbac/my_teams.yaml, which lets everyone authenticated ask, is
	// installed with the rest of config/rbac.
	cmd := exec.Command(bin, "--kubeconfig", adminKubeconfig, "--authentication-kubeconfig", adminKubeconfig,
		"--authorization-kubeconfig", adminKubeconfig, "--bind-address", host, "--secure-port", strconv.Itoa(free),
		"--cert-dir", dir, "--certificate-hosts", host)
	logs, err := os.Create(filepath.Join(dir, "buurt-api.log"))
	g.Expect(err).NotTo(HaveOccurred())
	cmd.Stdout, cmd.Stderr = logs, logs
	g.Expect(cmd.Start()).To(Succeed())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		data, _ := os.ReadFile(logs.Name())
		t.Logf("buurt-api's log:\n%s", data)
	})

	service := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "buurt-api"}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromInt32(port)}},
	}}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "buurt-api", Labels: map[string]string{discoveryv1.LabelServiceName: "buurt-api"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1alpha1.my.buurt.dev"},
		"spec": map[string]any{
			"group": "my.buurt.dev", "version": "v1alpha1", "groupPriorityMinimum": int64(1000), "versionPriority": int64(15),
			"service":               map[string]any{"namespace": "default", "name": "buurt-api", "port": int64(443)},
			"insecureSkipTLSVerify": true,
		},
	}}
	for _, obj := range []client.Object{service, slice, apiService} {
		g.Expect(admin.Create(ctx, obj)).To(Succeed())
		t.Cleanup(func() { _ = admin.Delete(context.Background(), obj) })
	}
}

// TestMyTeams: through the cluster's apiserver, each person lists exactly
// their own teams.
func TestMyTeams(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	startMyTeamsAPI(t)
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
}

// teamNamed reads a team as the cluster admin.
func teamNamed(name string) *teamsv1alpha1.NeighbourhoodTeam {
	tm := &teamsv1alpha1.NeighbourhoodTeam{}
	_ = admin.Get(context.Background(), client.ObjectKey{Name: name}, tm)
	return tm
}
