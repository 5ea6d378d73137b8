package manifests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// helm runs the pinned Helm (hack/tools.sh helm, which `make test` passes as
// $HELM) on the chart.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Fatal("HELM is not set: run the tests with `make test`, or set HELM=$(hack/tools.sh helm)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = testenv.RepoRoot()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func template(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	g := NewWithT(t)
	out, err := helm(t, append([]string{"template", "buurt", "charts/buurt", "--namespace", "buurt-system"}, args...)...)
	g.Expect(err).NotTo(HaveOccurred(), out)
	decoder := yaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(out), 4096)
	var objects []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); err != nil {
			break
		}
		if len(obj.Object) > 0 {
			objects = append(objects, obj)
		}
	}
	return objects
}

func TestChartLints(t *testing.T) {
	out, err := helm(t, "lint", "charts/buurt", "--strict")
	NewWithT(t).Expect(err).NotTo(HaveOccurred(), out)
	NewWithT(t).Expect(out).To(ContainSubstring("1 chart(s) linted, 0 chart(s) failed"))
}

func TestChartCRDsAreTheGeneratedOnes(t *testing.T) {
	g := NewWithT(t)
	root := testenv.RepoRoot()
	generated, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	inChart, err := filepath.Glob(filepath.Join(root, "charts", "buurt", "crds", "*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(inChart).To(HaveLen(len(generated)))
	for _, path := range generated {
		want, err := os.ReadFile(path)
		g.Expect(err).NotTo(HaveOccurred())
		got, err := os.ReadFile(filepath.Join(root, "charts", "buurt", "crds", filepath.Base(path)))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got).To(Equal(want), "charts/buurt/crds/%s differs from config/crd/bases: run make manifests", filepath.Base(path))
	}
}

func TestChartSchemaRejectsATypo(t *testing.T) {
	out, err := helm(t, "template", "buurt", "charts/buurt", "--set", "region.defaultBlueprint.maxMembrs=10")
	NewWithT(t).Expect(err).To(HaveOccurred())
	NewWithT(t).Expect(out).To(ContainSubstring("at '/region/defaultBlueprint': additional properties 'maxMembrs' not allowed"))
	out, err = helm(t, "template", "buurt", "charts/buurt", "--set", "webhook.certificates=letsencrypt")
	NewWithT(t).Expect(err).To(HaveOccurred())
	NewWithT(t).Expect(out).To(ContainSubstring("/webhook/certificates"))
}

// The chart installs the tenant policies kustomize installs.
func TestChartTenantPolicies(t *testing.T) {
	g := NewWithT(t)
	objects := template(t)
	expectTenantPolicies(g, objects)
	g.Expect(typed[teamsv1alpha1.TeamBlueprint](g, objects, "TeamBlueprint", "default").Spec.ImagePullPolicy).To(BeEmpty())
	var fromChart, fromKustomize []string
	for _, o := range objects {
		if strings.HasSuffix(o.GetKind(), "AdmissionPolicy") || strings.HasSuffix(o.GetKind(), "AdmissionPolicyBinding") {
			fromChart = append(fromChart, o.GetKind()+" "+o.GetName())
		}
	}
	for _, o := range render(t, "config/policies") {
		fromKustomize = append(fromKustomize, o.GetKind()+" "+o.GetName())
	}
	// The tenant rules, the operator's bounds and the quota count, each
	// with its binding.
	g.Expect(fromChart).To(HaveLen(18))
	g.Expect(fromChart).To(ConsistOf(fromKustomize))
}

func TestChartRegionalDefaults(t *testing.T) {
	g := NewWithT(t)
	objects := template(t, "--values", "test/manifests/testdata/region-values.yaml")
	bp := typed[teamsv1alpha1.TeamBlueprint](g, objects, "TeamBlueprint", "default")
	g.Expect(bp.Spec.MaxMembers).To(Equal(int32(10)))
	g.Expect(bp.Spec.Database.Shared.AdminSecretName).To(Equal("region-north-postgres"))
	g.Expect(bp.Spec.AllowedRegistries).To(Equal([]string{"registry.region-north.example.org/care/"}))
	g.Expect(bp.Spec.ImagePullPolicy).To(Equal(teamsv1alpha1.ImagePullPolicyAlways))
	g.Expect(bp.Spec.Ingress).To(Equal(teamsv1alpha1.Ingress{Domain: "care.region-north.example.org", ClassName: "nginx"}))
	g.Expect(bp.Spec.Apps).To(HaveLen(1))
	g.Expect(bp.Annotations).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
	g.Expect(typed[teamsv1alpha1.TeamBlueprint](g, objects, "TeamBlueprint", "small-dedicated").Spec.MaxMembers).To(Equal(int32(6)))
	g.Expect(typed[teamsv1alpha1.Coach](g, objects, "Coach", "jan").Spec.MaxTeams).To(Equal(int32(40)))
	deployment := typed[appsv1.Deployment](g, objects, "Deployment", "buurt-controller-manager")
	g.Expect(deployment.Spec.Replicas).To(Equal(ptr.To[int32](3)))
	g.Expect(deployment.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--leader-elect"))
	g.Expect(names(objects)).To(ContainElement("PodDisruptionBudget buurt-system/buurt-controller-manager"))

	single := template(t, "--set", "replicaCount=1")
	deployment = typed[appsv1.Deployment](g, single, "Deployment", "buurt-controller-manager")
	g.Expect(deployment.Spec.Template.Spec.Containers[0].Args).NotTo(ContainElement("--leader-elect"))
	g.Expect(names(single)).NotTo(ContainElement("PodDisruptionBudget buurt-system/buurt-controller-manager"))
}

// TestChartRendersWhatTheAPIServerAccepts sends both renderings to a real
// apiserver with buurt's CRDs as a server-side dry run.
func TestChartRendersWhatTheAPIServerAccepts(t *testing.T) {
	g := NewWithT(t)
	env, err := testenv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "buurt-system"}})).To(Succeed())
	for name, args := range map[string][]string{
		"defaults": nil, "a region": {"--values", "test/manifests/testdata/region-values.yaml"},
	} {
		for _, o := range template(t, args...) {
			err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("test"),
				client.ForceOwnership, client.DryRunAll)
			g.Expect(err).NotTo(HaveOccurred(), "%s: %s %s", name, o.GetKind(), o.GetName())
		}
	}
}

// TestChartDefaultQuotaBoundsEverythingATeamCanUse checks the default
// blueprint's quota: compute, storage (ephemeral too), object counts, and no
// NodePort or LoadBalancer Services; and that its limits give a container
// that says nothing the ephemeral storage the quota asks every pod to state.
// Helm's own template is the operator's: the samples say the same.
func TestChartDefaultQuotaBoundsEverythingATeamCanUse(t *testing.T) {
	g := NewWithT(t)
	bp := typed[teamsv1alpha1.TeamBlueprint](g, template(t), "TeamBlueprint", "default")
	g.Expect(bp.Spec.Quota.Base).To(HaveLen(12))
	for name, want := range map[corev1.ResourceName]string{
		"requests.cpu": "2", "requests.memory": "4Gi", "requests.storage": "20Gi",
		"requests.ephemeral-storage": "10Gi", "limits.ephemeral-storage": "20Gi",
		"pods": "20", "services": "10", "secrets": "20", "configmaps": "20", "persistentvolumeclaims": "10",
		"services.nodeports": "0", "services.loadbalancers": "0",
	} {
		g.Expect(bp.Spec.Quota.Base).To(HaveKeyWithValue(name, resource.MustParse(want)), name)
	}
	g.Expect(bp.Spec.Limits.DefaultRequest).To(HaveKeyWithValue(corev1.ResourceEphemeralStorage, resource.MustParse("100Mi")))
	g.Expect(bp.Spec.Limits.Default).To(HaveKeyWithValue(corev1.ResourceEphemeralStorage, resource.MustParse("1Gi")))

	sample := &teamsv1alpha1.TeamBlueprint{}
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "teams_v1alpha1_teamblueprint.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(sample)).To(Succeed())
	g.Expect(sample.Spec.Quota).To(Equal(bp.Spec.Quota))
	g.Expect(sample.Spec.Limits).To(Equal(bp.Spec.Limits))
}
