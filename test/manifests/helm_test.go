package manifests

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	sigsyaml "sigs.k8s.io/yaml"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// helm runs the pinned Helm (hack/tools.sh helm, which `make test` passes as
// $HELM) on the chart.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return tool(t, "HELM", "helm", args...)
}

// tool runs the pinned tool name that `make test` passes in the environment
// variable env (hack/tools.sh name), in the repository's root, and returns
// what it printed.
func tool(t *testing.T, env, name string, args ...string) (string, error) {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, or set %s=$(hack/tools.sh %s)", env, env, name)
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
	out, err := helm(t, append([]string{"template", "buurt", "charts/buurt", "--namespace", "buurt-system"}, args...)...)
	NewWithT(t).Expect(err).NotTo(HaveOccurred(), out)
	return decode(out)
}

// installDryRun runs `helm install` as given, without a cluster
// (--dry-run=client), and returns the objects it would make and its notes.
func installDryRun(t *testing.T, args ...string) (objects []*unstructured.Unstructured, notes string) {
	t.Helper()
	g := NewWithT(t)
	out, err := helm(t, append(append([]string{"install"}, args...), "--dry-run=client")...)
	g.Expect(err).NotTo(HaveOccurred(), out)
	_, manifest, ok := strings.Cut(out, "\nMANIFEST:\n")
	g.Expect(ok).To(BeTrue(), out)
	manifest, notes, ok = strings.Cut(manifest, "\nNOTES:\n")
	g.Expect(ok).To(BeTrue(), out)
	return decode(manifest), notes
}

func decode(out string) []*unstructured.Unstructured {
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

// valuesFile writes values to a file for --values, as regional IT would.
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestChartLints lints strictly and wants no note at all: --strict fails on
// warnings but lets an [INFO] such as "icon is recommended" through.
func TestChartLints(t *testing.T) {
	g := NewWithT(t)
	out, err := helm(t, "lint", "charts/buurt", "--strict")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(Equal("==> Linting charts/buurt\n\n1 chart(s) linted, 0 chart(s) failed\n"))
}

// TestChartMetadata checks what Artifact Hub and helm show about the chart,
// and that the annotations follow the chart's own version and CRDs.
func TestChartMetadata(t *testing.T) {
	g := NewWithT(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "charts", "buurt", "Chart.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	var chart struct {
		AppVersion  string            `json:"appVersion"`
		KubeVersion string            `json:"kubeVersion"`
		Home        string            `json:"home"`
		Sources     []string          `json:"sources"`
		Icon        string            `json:"icon"`
		Keywords    []string          `json:"keywords"`
		Maintainers []map[string]any  `json:"maintainers"`
		Annotations map[string]string `json:"annotations"`
	}
	g.Expect(sigsyaml.Unmarshal(data, &chart)).To(Succeed())
	// Chart.yaml says why it has no kubeVersion yet; the README states the need.
	g.Expect(chart.KubeVersion).To(BeEmpty())
	readme, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "charts", "buurt", "README.md"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(readme)).To(ContainSubstring("It needs Kubernetes 1.36 or later"))
	g.Expect(chart.Home).To(Equal("https://github.com/buurt-dev/buurt"))
	g.Expect(chart.Sources).To(Equal([]string{"https://github.com/buurt-dev/buurt"}))
	g.Expect(chart.Icon).To(HavePrefix("data:image/svg+xml;base64,"))
	g.Expect(chart.Keywords).To(ContainElements("multi-tenancy", "operator"))
	g.Expect(chart.Maintainers).To(Equal([]map[string]any{{"name": "buurt maintainers", "url": "https://github.com/buurt-dev/buurt"}}))
	g.Expect(chart.Annotations).To(HaveKeyWithValue("artifacthub.io/operator", "true"))

	var images []struct{ Name, Image string }
	g.Expect(sigsyaml.Unmarshal([]byte(chart.Annotations["artifacthub.io/images"]), &images)).To(Succeed())
	g.Expect(images).To(HaveLen(1))
	g.Expect(images[0].Image).To(Equal("ghcr.io/buurt-dev/buurt:"+chart.AppVersion), "artifacthub.io/images follows appVersion")

	var crds []struct{ Kind, Version string }
	g.Expect(sigsyaml.Unmarshal([]byte(chart.Annotations["artifacthub.io/crds"]), &crds)).To(Succeed())
	var annotated, shipped []string
	for _, c := range crds {
		annotated = append(annotated, c.Kind+"/"+c.Version)
	}
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "charts", "buurt", "crds", "*.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range files {
		var crd struct {
			Spec struct {
				Names    struct{ Kind string }
				Versions []struct{ Name string }
			}
		}
		data, err := os.ReadFile(f)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(sigsyaml.Unmarshal(data, &crd)).To(Succeed())
		for _, v := range crd.Spec.Versions {
			shipped = append(shipped, crd.Spec.Names.Kind+"/"+v.Name)
		}
	}
	g.Expect(annotated).To(ConsistOf(shipped))
}

// TestChartPodValues sets every value about the operator's pods and finds
// each exactly where it belongs in the Deployment; without them the pod spec
// has none of those fields.
func TestChartPodValues(t *testing.T) {
	g := NewWithT(t)
	objects := template(t, "--values", valuesFile(t, `
imagePullSecrets: [{name: region-north-registry}]
podAnnotations: {backup.example.org/exclude: "true"}
nodeSelector: {node-role.example.org/platform: ""}
tolerations:
- {key: platform, operator: Exists, effect: NoSchedule}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector: {matchLabels: {app.kubernetes.io/name: buurt}}
priorityClassName: system-cluster-critical
`))
	pod := typed[appsv1.Deployment](g, objects, "Deployment", "buurt-controller-manager").Spec.Template
	g.Expect(pod.Annotations).To(Equal(map[string]string{"backup.example.org/exclude": "true"}))
	g.Expect(pod.Spec.ImagePullSecrets).To(Equal([]corev1.LocalObjectReference{{Name: "region-north-registry"}}))
	g.Expect(pod.Spec.NodeSelector).To(Equal(map[string]string{"node-role.example.org/platform": ""}))
	g.Expect(pod.Spec.Tolerations).To(Equal([]corev1.Toleration{
		{Key: "platform", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}))
	g.Expect(pod.Spec.Affinity).To(Equal(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				TopologyKey:   "kubernetes.io/hostname",
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "buurt"}},
			},
		}},
	}}))
	g.Expect(pod.Spec.PriorityClassName).To(Equal("system-cluster-critical"))

	pod = typed[appsv1.Deployment](g, template(t), "Deployment", "buurt-controller-manager").Spec.Template
	g.Expect(pod.Annotations).To(BeEmpty())
	g.Expect(pod.Spec.ImagePullSecrets).To(BeNil())
	g.Expect(pod.Spec.NodeSelector).To(BeNil())
	g.Expect(pod.Spec.Tolerations).To(BeNil())
	g.Expect(pod.Spec.Affinity).To(BeNil())
	g.Expect(pod.Spec.PriorityClassName).To(BeEmpty())
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

// TestChartREADMEInstall runs the install command of charts/buurt/README.md
// with its region.yaml, as regional IT would paste them (without a cluster),
// and checks what the region's values make.
func TestChartREADMEInstall(t *testing.T) {
	g := NewWithT(t)
	blocks := codeBlocks(t, "charts/buurt/README.md")
	// A block added to the README needs a test here.
	g.Expect(blocks).To(HaveLen(2))
	g.Expect(blocks[0].lang).To(Equal("sh"))
	command := strings.Fields(strings.ReplaceAll(blocks[0].body, "\\\n", " "))
	g.Expect(command[:2]).To(Equal([]string{"helm", "install"}))
	regionFile := regionValues(t)
	g.Expect(command).To(ContainElement("region.yaml"))
	for i, arg := range command {
		if arg == "region.yaml" {
			command[i] = regionFile
		}
	}
	objects, _ := installDryRun(t, command[2:]...)

	bp := typed[teamsv1alpha1.TeamBlueprint](g, objects, "TeamBlueprint", "default")
	g.Expect(bp.Spec.MaxMembers).To(Equal(int32(10)))
	g.Expect(bp.Spec.Quota.Base).To(HaveKeyWithValue(corev1.ResourceRequestsCPU, resource.MustParse("4")))
	g.Expect(bp.Spec.Quota.Base).To(HaveKeyWithValue(corev1.ResourceRequestsStorage, resource.MustParse("20Gi")), "merged with the defaults")
	g.Expect(bp.Spec.Quota.PerMember).To(Equal(corev1.ResourceList{
		corev1.ResourceRequestsCPU: resource.MustParse("500m"), corev1.ResourceRequestsMemory: resource.MustParse("512Mi"),
	}))
	g.Expect(bp.Spec.Database).To(Equal(teamsv1alpha1.BlueprintDatabase{
		Class: teamsv1alpha1.DatabaseClassShared, ReclaimPolicy: teamsv1alpha1.ReclaimPolicyRetain,
		Shared: teamsv1alpha1.SharedDatabase{
			AdminSecretName: "region-north-postgres", Egress: &teamsv1alpha1.DatabaseEgress{CIDR: "10.20.0.15/32"},
		},
	}))
	g.Expect(bp.Spec.AllowedRegistries).To(Equal([]string{"registry.region-north.example.org/care/"}))
	g.Expect(bp.Spec.ImagePullPolicy).To(Equal(teamsv1alpha1.ImagePullPolicyAlways))
	g.Expect(bp.Spec.Ingress).To(Equal(teamsv1alpha1.Ingress{Domain: "care.region-north.example.org", ClassName: "nginx"}))
	g.Expect(bp.Spec.Apps).To(HaveLen(1))
	g.Expect(bp.Spec.Apps[0].Image).To(Equal("registry.region-north.example.org/care/planner:1.4.2"))
	g.Expect(bp.Annotations).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
	g.Expect(typed[teamsv1alpha1.TeamBlueprint](g, objects, "TeamBlueprint", "small-dedicated").Spec.MaxMembers).To(Equal(int32(6)))
	g.Expect(typed[teamsv1alpha1.Coach](g, objects, "Coach", "jan").Spec).To(Equal(teamsv1alpha1.CoachSpec{
		Subject: teamsv1alpha1.Subject{Kind: "User", Name: "jan@care.example.org"}, MaxTeams: 40,
	}))

	deployment := typed[appsv1.Deployment](g, objects, "Deployment", "buurt-controller-manager")
	g.Expect(deployment.Namespace).To(Equal("buurt-system"))
	g.Expect(deployment.Spec.Replicas).To(Equal(ptr.To[int32](3)))
	g.Expect(deployment.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--leader-elect"))
	pod := deployment.Spec.Template.Spec
	g.Expect(pod.NodeSelector).To(Equal(map[string]string{"node-role.example.org/platform": "true"}))
	g.Expect(pod.Tolerations).To(Equal([]corev1.Toleration{
		{Key: "node-role.example.org/platform", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}))
	g.Expect(pod.PriorityClassName).To(Equal("system-cluster-critical"))
	g.Expect(pod.ImagePullSecrets).To(Equal([]corev1.LocalObjectReference{{Name: "region-north-registry"}}))
	g.Expect(names(objects)).To(ContainElement("PodDisruptionBudget buurt-system/buurt-controller-manager"))
}

func TestChartLeaderElectionFollowsReplicas(t *testing.T) {
	g := NewWithT(t)
	single := template(t, "--set", "replicaCount=1")
	deployment := typed[appsv1.Deployment](g, single, "Deployment", "buurt-controller-manager")
	g.Expect(deployment.Spec.Template.Spec.Containers[0].Args).NotTo(ContainElement("--leader-elect"))
	g.Expect(names(single)).NotTo(ContainElement("PodDisruptionBudget buurt-system/buurt-controller-manager"))
}

// regionValues writes the region.yaml of charts/buurt/README.md to a file
// and returns its path.
func regionValues(t *testing.T) string {
	t.Helper()
	for _, b := range codeBlocks(t, "charts/buurt/README.md") {
		if b.lang == "yaml" && strings.HasPrefix(b.body, "# region.yaml") {
			return valuesFile(t, b.body)
		}
	}
	t.Fatal("charts/buurt/README.md has no yaml block starting with # region.yaml")
	return ""
}

// TestChartRendersWhatTheAPIServerAccepts sends both renderings to a real
// apiserver with buurt's CRDs as a server-side dry run.
func TestChartRendersWhatTheAPIServerAccepts(t *testing.T) {
	g := NewWithT(t)
	env, _ := testenv.StartForTest(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "buurt-system"}})).To(Succeed())
	for name, args := range map[string][]string{
		"defaults": nil, "a region": {"--values", regionValues(t)},
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

// TestChartDatabaseEgress renders region.defaultBlueprint.database.egress
// into the default blueprint's spec.database.shared.egress, either form, and
// leaves it out when unset (NOTES.txt then warns).
func TestChartDatabaseEgress(t *testing.T) {
	egressOf := func(args ...string) *teamsv1alpha1.DatabaseEgress {
		t.Helper()
		bp := typed[teamsv1alpha1.TeamBlueprint](NewWithT(t), template(t, args...), "TeamBlueprint", "default")
		return bp.Spec.Database.Shared.Egress
	}
	g := NewWithT(t)
	g.Expect(egressOf()).To(BeNil())
	g.Expect(egressOf("--set", "region.defaultBlueprint.database.egress.cidr=10.0.12.5/32")).
		To(Equal(&teamsv1alpha1.DatabaseEgress{CIDR: "10.0.12.5/32"}))
	g.Expect(egressOf("--values", valuesFile(t, `
region:
  defaultBlueprint:
    database:
      egress:
        peer:
          namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: postgres}}
          podSelector: {matchLabels: {app: postgres}}
`))).To(Equal(&teamsv1alpha1.DatabaseEgress{Peer: &teamsv1alpha1.PeerSelector{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "postgres"}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "postgres"}},
	}}))

	for value, want := range map[string]string{
		"region.defaultBlueprint.database.egress.cidr=10.0.12.5": "at '/region/defaultBlueprint/database/egress/cidr'",
		"region.defaultBlueprint.database.egress.host=pg":        "additional properties 'host' not allowed",
		// A peer that selects every namespace would open every team to every other.
		"region.defaultBlueprint.database.egress.peer.podSelector.matchLabels.app=pg": "missing property 'namespaceSelector'",
	} {
		out, err := helm(t, "template", "buurt", "charts/buurt", "--set", value)
		g.Expect(err).To(HaveOccurred(), value)
		g.Expect(out).To(ContainSubstring(want), value)
	}
	out, err := helm(t, "template", "buurt", "charts/buurt", "--set", "region.defaultBlueprint.database.egress.cidr=10.0.12.5/32",
		"--set", "region.defaultBlueprint.database.egress.peer.namespaceSelector.matchLabels.db=pg")
	g.Expect(err).To(HaveOccurred(), "cidr and peer together")
	g.Expect(out).To(ContainSubstring("at '/region/defaultBlueprint/database/egress': maxProperties: got 2, want 1"))
}

// TestChartMonitoring checks that Prometheus scrapes as a ServiceAccount
// bound to buurt:metrics-reader, through the Prometheus Operator's
// authorization field (bearerTokenFile is deprecated), carrying the labels
// the region's Prometheus selects by; and that the chart and
// config/prometheus install the same objects.
func TestChartMonitoring(t *testing.T) {
	g := NewWithT(t)
	objects := template(t, "--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.serviceMonitor.labels.release=kube-prometheus-stack",
		"--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.prometheusRule.labels.release=kube-prometheus-stack")
	byName := map[string]*unstructured.Unstructured{}
	for _, o := range objects {
		byName[o.GetKind()+" "+o.GetName()] = o
	}
	monitor := byName["ServiceMonitor buurt"]
	g.Expect(monitor).NotTo(BeNil())
	g.Expect(monitor.GetLabels()).To(HaveKeyWithValue("release", "kube-prometheus-stack"))
	rule := byName["PrometheusRule buurt"]
	g.Expect(rule.GetLabels()).To(HaveKeyWithValue("release", "kube-prometheus-stack"))
	g.Expect(monitor.Object["spec"]).To(HaveKeyWithValue("endpoints", []any{map[string]any{
		"port": "metrics", "scheme": "https",
		"authorization": map[string]any{"type": "Bearer", "credentials": map[string]any{"name": "buurt-metrics-scraper-token", "key": "token"}},
		"tlsConfig":     map[string]any{"insecureSkipVerify": true},
	}}))
	token := typed[corev1.Secret](g, objects, "Secret", "buurt-metrics-scraper-token")
	g.Expect(token.Type).To(Equal(corev1.SecretTypeServiceAccountToken))
	g.Expect(token.Annotations).To(Equal(map[string]string{corev1.ServiceAccountNameKey: "buurt-metrics-scraper"}))
	binding := typed[rbacv1.ClusterRoleBinding](g, objects, "ClusterRoleBinding", "buurt:metrics-scraper")
	g.Expect(binding.RoleRef).To(Equal(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "buurt:metrics-reader"}))
	g.Expect(binding.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: "buurt-metrics-scraper", Namespace: "buurt-system"}}))

	// The same objects as config/prometheus, but for labels (Helm's) and the
	// ServiceMonitor's selector (which also names the release).
	fromKustomize := render(t, "config/prometheus")
	for _, want := range fromKustomize {
		got := byName[want.GetKind()+" "+want.GetName()]
		g.Expect(got).NotTo(BeNil(), "%s %s", want.GetKind(), want.GetName())
		for _, o := range []*unstructured.Unstructured{got, want} {
			o.SetLabels(nil)
			if o.GetKind() == "ServiceMonitor" {
				unstructured.RemoveNestedField(o.Object, "spec", "selector")
			}
		}
		// As JSON: the two decoders disagree on the Go type of a number.
		wantJSON, err := want.MarshalJSON()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got.MarshalJSON()).To(MatchJSON(wantJSON), "%s %s", want.GetKind(), want.GetName())
	}
	g.Expect(fromKustomize).To(HaveLen(7))

	withoutMonitor := names(template(t))
	g.Expect(withoutMonitor).NotTo(ContainElements(ContainSubstring("metrics-scraper"), ContainSubstring("ServiceMonitor")))
}

// TestChartMetricsNetworkPolicy lets scrapers in from the namespaces the
// value selects, and from nowhere else.
func TestChartMetricsNetworkPolicy(t *testing.T) {
	g := NewWithT(t)
	from := func(args ...string) []networkingv1.NetworkPolicyPeer {
		policy := typed[networkingv1.NetworkPolicy](g, template(t, args...), "NetworkPolicy", "buurt-allow-metrics")
		g.Expect(policy.Spec.Ingress).To(HaveLen(1))
		return policy.Spec.Ingress[0].From
	}
	g.Expect(from()).To(Equal([]networkingv1.NetworkPolicyPeer{
		{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"metrics": "enabled"}}},
	}))
	g.Expect(from("--values", valuesFile(t, "networkPolicy: {metricsNamespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}\n"))).
		To(Equal([]networkingv1.NetworkPolicyPeer{
			{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}}},
		}))
}

// notesCommands are the commands of the install notes as a reader would
// paste them: each starts at a line beginning with kubectl and goes on over
// lines ending in a backslash and through a heredoc to its terminator, which
// must stand alone on its line for the shell to see it.
func notesCommands(t *testing.T, notes string) []string {
	t.Helper()
	var commands []string
	lines := strings.Split(notes, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "kubectl ") {
			continue
		}
		command := []string{lines[i]}
		for strings.HasSuffix(lines[i], "\\") {
			i++
			command = append(command, lines[i])
		}
		if _, after, ok := strings.Cut(lines[i], "<<'"); ok {
			terminator := strings.TrimSuffix(after, "'")
			for {
				i++
				if i == len(lines) {
					t.Fatalf("the heredoc of %q does not end: no line is exactly %q", command[0], terminator)
				}
				command = append(command, lines[i])
				if lines[i] == terminator {
					break
				}
			}
		}
		commands = append(commands, strings.Join(command, "\n"))
	}
	return commands
}

// TestChartNotesPaste runs the commands of the install notes in bash, with a
// kubectl that records its arguments and input, and checks what they would
// ask of the cluster.
func TestChartNotesPaste(t *testing.T) {
	g := NewWithT(t)
	_, notes := installDryRun(t, "buurt", "charts/buurt", "--namespace", "buurt-system")
	commands := notesCommands(t, notes)
	g.Expect(commands).To(HaveLen(5))

	dir := t.TempDir()
	script := `kubectl() { n=$((n+1)); printf '%s\n' "$@" >"$DIR/$n.args"; if [[ "$*" == *"-f -"* ]]; then cat >"$DIR/$n.stdin"; fi; }
n=0
` + strings.Join(commands, "\n") + "\n"
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "DIR="+dir, "PGHOST=pg.region-north.example.org", "PGUSER=buurt_admin", "PGPASSWORD=s3cret")
	out, err := cmd.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))

	args := func(n int) []string {
		data, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(n)+".args"))
		g.Expect(err).NotTo(HaveOccurred())
		return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	}
	g.Expect(args(1)).To(Equal([]string{"-n", "buurt-system", "create", "secret", "generic", "buurt-postgres-admin",
		"--from-literal=host=pg.region-north.example.org", "--from-literal=port=5432", "--from-literal=user=buurt_admin",
		"--from-literal=password=s3cret", "--from-literal=sslmode=require"}))
	g.Expect(args(2)).To(Equal([]string{"create", "clusterrolebinding", "buurt-platform-engineers",
		"--clusterrole=buurt:platform-engineer", "--group=platform-engineers"}))
	g.Expect(args(3)).To(Equal([]string{"apply", "-f", "-"}))
	team, err := os.ReadFile(filepath.Join(dir, "3.stdin"))
	g.Expect(err).NotTo(HaveOccurred())
	var nt teamsv1alpha1.NeighbourhoodTeam
	g.Expect(sigsyaml.UnmarshalStrict(team, &nt)).To(Succeed())
	g.Expect(nt.Name).To(Equal("north-riverside"))
	g.Expect(nt.Spec).To(Equal(teamsv1alpha1.NeighbourhoodTeamSpec{
		Neighbourhood: "riverside",
		Members:       []teamsv1alpha1.Subject{{Kind: "User", Name: "anna@care.example.org"}},
	}))
	g.Expect(args(4)).To(Equal([]string{"get", "teams"}))
	g.Expect(args(5)).To(Equal([]string{"get", "myteams", "--as", "anna@care.example.org"}))
	// The chart's RBAC has the role the notes bind.
	g.Expect(names(template(t))).To(ContainElement("ClusterRole buurt:platform-engineer"))
}

// TestChartNotesWarnWithoutEgress: a Shared database without egress is
// a region whose teams cannot reach their database; the notes say so loudly.
func TestChartNotesWarnWithoutEgress(t *testing.T) {
	g := NewWithT(t)
	const warning = "* WARNING: region.defaultBlueprint.database.egress is not set"
	_, notes := installDryRun(t, "buurt", "charts/buurt")
	g.Expect(notes).To(ContainSubstring(warning))
	_, notes = installDryRun(t, "buurt", "charts/buurt", "--set", "region.defaultBlueprint.database.egress.cidr=10.0.12.5/32")
	g.Expect(notes).NotTo(ContainSubstring(warning))
	g.Expect(notes).To(ContainSubstring("create secret generic buurt-postgres-admin"))
	_, notes = installDryRun(t, "buurt", "charts/buurt", "--set", "region.defaultBlueprint.database.class=None")
	g.Expect(notes).NotTo(ContainSubstring(warning))
	g.Expect(notes).NotTo(ContainSubstring("create secret"))
}

// TestChartClientSettings: the operator a chart installs gets the same
// client settings flags as one make dev or the tests start.
func TestChartClientSettings(t *testing.T) {
	g := NewWithT(t)
	args := func(objects []*unstructured.Unstructured) []string {
		return typed[appsv1.Deployment](g, objects, "Deployment", "buurt-controller-manager").Spec.Template.Spec.Containers[0].Args
	}
	g.Expect(args(template(t))).To(ContainElements("--max-concurrent-reconciles=4", "--kube-api-qps=-1", "--kube-api-burst=0"))
	g.Expect(args(template(t, "--set", "maxConcurrentReconciles=8", "--set", "kubeAPI.qps=50", "--set", "kubeAPI.burst=100"))).
		To(ContainElements("--max-concurrent-reconciles=8", "--kube-api-qps=50", "--kube-api-burst=100"))
}

// The chart runs buurt-api as kustomize does (the same objects, but for
// Helm's labels), and none of it with myTeams.enabled=false.
func TestChartMyTeamsAPI(t *testing.T) {
	g := NewWithT(t)
	objects := template(t)
	manager := typed[appsv1.Deployment](g, objects, "Deployment", "buurt-controller-manager").Spec.Template.Spec.Containers[0]
	g.Expect(manager.Args).To(ContainElements("--webhook-dns-names=buurt-api.buurt-system.svc", "--my-teams-api-service=v1alpha1.my.buurt.dev"))
	expectMyTeamsAPI(g, objects, manager.Image)

	kustomized := render(t, "config/my-teams")
	g.Expect(names(kustomized)).To(ContainElement("Deployment buurt-system/buurt-api"))
	for _, want := range append(kustomized, typed[unstructured.Unstructured](g, render(t, "config/network-policy"), "NetworkPolicy", "buurt-allow-api")) {
		got := typed[unstructured.Unstructured](g, objects, want.GetKind(), want.GetName())
		g.Expect(got.GetNamespace()).To(Equal(want.GetNamespace()), "%s %s", want.GetKind(), want.GetName())
		w, h := jsonValue(g, want.Object).(map[string]any), jsonValue(g, got.Object).(map[string]any)
		if want.GetKind() == "Deployment" {
			// The image is the chart's appVersion, the pull policy a value.
			wc, hc := firstContainer(w), firstContainer(h)
			wc["image"] = hc["image"]
			delete(hc, "imagePullPolicy")
		}
		for _, field := range []string{"spec", "rules", "roleRef", "subjects"} {
			if w[field] == nil {
				g.Expect(h[field]).To(BeNil(), "%s %s: %s", want.GetKind(), want.GetName(), field)
			} else {
				g.Expect(h[field]).To(Equal(w[field]), "%s %s: %s", want.GetKind(), want.GetName(), field)
			}
		}
	}

	without := template(t, "--set", "myTeams.enabled=false")
	for _, o := range without {
		g.Expect(o.GetName()).NotTo(Or(ContainSubstring("buurt-api"), Equal("buurt:my-teams"), Equal("v1alpha1.my.buurt.dev")), o.GetKind())
	}
	manager = typed[appsv1.Deployment](g, without, "Deployment", "buurt-controller-manager").Spec.Template.Spec.Containers[0]
	g.Expect(manager.Args).NotTo(ContainElement(HavePrefix("--my-teams-api-service")))

	certManager := template(t, "--set", "webhook.certificates=cert-manager")
	api := typed[unstructured.Unstructured](g, certManager, "APIService", "v1alpha1.my.buurt.dev")
	g.Expect(api.GetAnnotations()).To(HaveKeyWithValue("cert-manager.io/inject-ca-from", "buurt-system/buurt-webhook-serving-cert"))
	cert := typed[unstructured.Unstructured](g, certManager, "Certificate", "buurt-webhook-serving-cert")
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	g.Expect(dnsNames).To(ContainElement("buurt-api.buurt-system.svc"))
}

// jsonValue is v as JSON decodes it: kustomize's and Helm's numbers compare.
func jsonValue(g Gomega, v any) any {
	data, err := json.Marshal(v)
	g.Expect(err).NotTo(HaveOccurred())
	var out any
	g.Expect(json.Unmarshal(data, &out)).To(Succeed())
	return out
}

// firstContainer is the first container of a Deployment as JSON decodes it.
func firstContainer(deployment map[string]any) map[string]any {
	spec := deployment["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	return spec["containers"].([]any)[0].(map[string]any)
}

// TestChartLabelsWithABuildVersion: every label the chart sets is a valid
// label value also when the chart's version has build metadata, as Flux
// gives a chart from git with reconcileStrategy Revision
// ("0.1.0+77c708bb2059"), with every optional part of the chart on.
func TestChartLabelsWithABuildVersion(t *testing.T) {
	g := NewWithT(t)
	chart := filepath.Join(t.TempDir(), "buurt")
	g.Expect(os.CopyFS(chart, os.DirFS(filepath.Join(testenv.RepoRoot(), "charts", "buurt")))).To(Succeed())
	meta, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(meta)).To(ContainSubstring("\nversion: 0.1.0\n"))
	g.Expect(os.WriteFile(filepath.Join(chart, "Chart.yaml"),
		[]byte(strings.Replace(string(meta), "\nversion: 0.1.0\n", "\nversion: 0.1.0+77c708bb2059\n", 1)), 0o600)).To(Succeed())
	out, err := helm(t, "template", "buurt", chart, "--namespace", "buurt-system",
		"--set", "metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,metrics.grafanaDashboard.enabled=true")
	g.Expect(err).NotTo(HaveOccurred(), out)
	objects := decode(out)
	g.Expect(len(objects)).To(BeNumerically(">", 30))
	charted := 0
	for _, obj := range objects {
		if chartLabel, ok := obj.GetLabels()["helm.sh/chart"]; ok {
			g.Expect(chartLabel).To(Equal("buurt-0.1.0_77c708bb2059"), "%s %s", obj.GetKind(), obj.GetName())
			charted++
		}
		for key, value := range obj.GetLabels() {
			g.Expect(validation.IsValidLabelValue(value)).To(BeEmpty(), "%s %s: label %s", obj.GetKind(), obj.GetName(), key)
		}
	}
	g.Expect(charted).To(BeNumerically(">", 10))
}
