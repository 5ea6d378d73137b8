// Package manifests tests what config/ renders to: the installation a
// platform engineer applies with kustomize.
package manifests

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/buurt-dev/buurt/internal/policies"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// render builds a kustomization of config/ as `kubectl kustomize` would.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	g := NewWithT(t)
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(testenv.RepoRoot(), dir))
	g.Expect(err).NotTo(HaveOccurred())
	var out []*unstructured.Unstructured
	for _, r := range resources.Resources() {
		m, err := r.Map()
		g.Expect(err).NotTo(HaveOccurred())
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func names(objects []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objects {
		name := o.GetKind() + " " + o.GetName()
		if o.GetNamespace() != "" {
			name = o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func typed[T any](g Gomega, objects []*unstructured.Unstructured, kind, name string) *T {
	for _, o := range objects {
		if o.GetKind() == kind && o.GetName() == name {
			out := new(T)
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, out)).To(Succeed())
			return out
		}
	}
	g.Expect(fmt.Sprintf("%s %s", kind, name)).To(BeEmpty(), "not rendered")
	return nil
}

func TestDefaultInstallation(t *testing.T) {
	g := NewWithT(t)
	objects := render(t, "config/default")
	g.Expect(names(objects)).To(Equal([]string{
		"APIService v1alpha1.my.buurt.dev",
		"ClusterRole buurt-api",
		"ClusterRole buurt-manager",
		"ClusterRole buurt:coach",
		"ClusterRole buurt:my-teams",
		"ClusterRole buurt:operator-in-team",
		"ClusterRole buurt:platform-engineer",
		"ClusterRole buurt:team-member",
		"ClusterRole buurt:team-splits",
		"ClusterRoleBinding buurt-api",
		"ClusterRoleBinding buurt-api:system:auth-delegator",
		"ClusterRoleBinding buurt-manager",
		"ClusterRoleBinding buurt:my-teams",
		"ClusterRoleBinding buurt:team-splits",
		"CustomResourceDefinition coaches.teams.buurt.dev",
		"CustomResourceDefinition neighbourhoodteams.teams.buurt.dev",
		"CustomResourceDefinition teamblueprints.teams.buurt.dev",
		"CustomResourceDefinition teamsplits.teams.buurt.dev",
		"Deployment buurt-system/buurt-api",
		"Deployment buurt-system/buurt-controller-manager",
		"MutatingAdmissionPolicy buurt-team-quota-members",
		"MutatingAdmissionPolicyBinding buurt-team-quota-members",
		"Namespace buurt-system",
		"NetworkPolicy buurt-system/buurt-allow-api",
		"NetworkPolicy buurt-system/buurt-allow-metrics",
		"NetworkPolicy buurt-system/buurt-allow-webhook",
		"PodDisruptionBudget buurt-system/buurt-api",
		"Role buurt-system/buurt-manager",
		"RoleBinding buurt-system/buurt-manager",
		// An aggregated API server reads the front proxy's CA there.
		"RoleBinding kube-system/buurt-api:extension-apiserver-authentication-reader",
		"Service buurt-system/buurt-api",
		"Service buurt-system/buurt-webhook-service",
		"ServiceAccount buurt-system/buurt-api",
		"ServiceAccount buurt-system/buurt-controller-manager",
		"ValidatingAdmissionPolicy buurt-operator-bounds",
		"ValidatingAdmissionPolicy buurt-tenant-cronjob-images",
		"ValidatingAdmissionPolicy buurt-tenant-endpoints",
		"ValidatingAdmissionPolicy buurt-tenant-ingress-hosts",
		"ValidatingAdmissionPolicy buurt-tenant-managed-objects",
		"ValidatingAdmissionPolicy buurt-tenant-pod-images",
		"ValidatingAdmissionPolicy buurt-tenant-service-types",
		"ValidatingAdmissionPolicy buurt-tenant-workload-images",
		"ValidatingAdmissionPolicyBinding buurt-operator-bounds",
		"ValidatingAdmissionPolicyBinding buurt-tenant-cronjob-images",
		"ValidatingAdmissionPolicyBinding buurt-tenant-endpoints",
		"ValidatingAdmissionPolicyBinding buurt-tenant-ingress-hosts",
		"ValidatingAdmissionPolicyBinding buurt-tenant-managed-objects",
		"ValidatingAdmissionPolicyBinding buurt-tenant-pod-images",
		"ValidatingAdmissionPolicyBinding buurt-tenant-service-types",
		"ValidatingAdmissionPolicyBinding buurt-tenant-workload-images",
		"ValidatingWebhookConfiguration buurt-validating-webhook-configuration",
	}))
	expectTenantPolicies(g, objects)

	deployment := typed[appsv1.Deployment](g, objects, "Deployment", "buurt-controller-manager")
	pod := deployment.Spec.Template.Spec
	g.Expect(pod.ServiceAccountName).To(Equal("buurt-controller-manager"))
	g.Expect(pod.SecurityContext.RunAsNonRoot).To(Equal(ptr.To(true)))
	c := pod.Containers[0]
	g.Expect(c.SecurityContext.ReadOnlyRootFilesystem).To(Equal(ptr.To(true)))
	g.Expect(c.SecurityContext.AllowPrivilegeEscalation).To(Equal(ptr.To(false)))
	g.Expect(c.Args).To(ContainElement("--leader-elect"))
	g.Expect(c.Resources.Requests).NotTo(BeEmpty())
	g.Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
	g.Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
	g.Expect(c.Args).To(ContainElements("--webhook-dns-names=buurt-api.buurt-system.svc", "--my-teams-api-service=v1alpha1.my.buurt.dev"),
		"the operator's certificate names buurt-api's Service, and its CA goes into buurt-api's APIService")
	expectMyTeamsAPI(g, objects, c.Image)

	vwc := typed[admissionregistrationv1.ValidatingWebhookConfiguration](g, objects, "ValidatingWebhookConfiguration",
		"buurt-validating-webhook-configuration")
	for _, w := range vwc.Webhooks {
		g.Expect(w.ClientConfig.Service.Name).To(Equal("buurt-webhook-service"))
		g.Expect(w.ClientConfig.Service.Namespace).To(Equal("buurt-system"))
		g.Expect(*w.FailurePolicy).To(Equal(admissionregistrationv1.Fail))
		for _, rule := range w.Rules {
			g.Expect(rule.APIGroups).To(Equal([]string{"teams.buurt.dev"}), "buurt's own kinds only")
		}
	}

	// Least privilege: no wildcard anywhere in the operator's roles.
	for _, kind := range []string{"ClusterRole", "Role"} {
		role := typed[rbacv1.ClusterRole](g, objects, kind, "buurt-manager")
		for _, rule := range role.Rules {
			for _, field := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs} {
				g.Expect(field).NotTo(ContainElement("*"), "%s rule %v", kind, rule)
			}
		}
	}
}

func TestOptionalParts(t *testing.T) {
	g := NewWithT(t)
	g.Expect(names(render(t, "config/prometheus"))).To(Equal([]string{
		"ClusterRole buurt:metrics-reader", "ClusterRoleBinding buurt:metrics-scraper", "PrometheusRule buurt-system/buurt",
		"Secret buurt-system/buurt-metrics-scraper-token",
		"Service buurt-system/buurt-metrics", "ServiceAccount buurt-system/buurt-metrics-scraper", "ServiceMonitor buurt-system/buurt",
	}))
	// The cert-manager component, on top of the default installation.
	objects := render(t, "config/default-certmanager")
	deployment := typed[appsv1.Deployment](g, objects, "Deployment", "buurt-controller-manager")
	g.Expect(deployment.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--webhook-certificates=cert-manager"))
	vwc := typed[admissionregistrationv1.ValidatingWebhookConfiguration](g, objects, "ValidatingWebhookConfiguration",
		"buurt-validating-webhook-configuration")
	g.Expect(vwc.Annotations).To(HaveKeyWithValue("cert-manager.io/inject-ca-from", "buurt-system/buurt-webhook-serving-cert"))
	g.Expect(names(objects)).To(ContainElements("Certificate buurt-system/buurt-webhook-serving-cert", "Issuer buurt-system/buurt-selfsigned"))
	api := typed[unstructured.Unstructured](g, objects, "APIService", "v1alpha1.my.buurt.dev")
	g.Expect(api.GetAnnotations()).To(HaveKeyWithValue("cert-manager.io/inject-ca-from", "buurt-system/buurt-webhook-serving-cert"))
	cert := typed[unstructured.Unstructured](g, objects, "Certificate", "buurt-webhook-serving-cert")
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	g.Expect(dnsNames).To(ContainElement("buurt-api.buurt-system.svc"))
}

// expectMyTeamsAPI checks buurt-api as an installation runs it: from the
// operator's image, as its own ServiceAccount that may read teams and
// coaches only, serving the webhook certificate but never the CA's key,
// registered for my.buurt.dev through its Service.
func expectMyTeamsAPI(g Gomega, objects []*unstructured.Unstructured, image string) {
	deployment := typed[appsv1.Deployment](g, objects, "Deployment", "buurt-api")
	pod := deployment.Spec.Template.Spec
	g.Expect(pod.ServiceAccountName).To(Equal("buurt-api"))
	c := pod.Containers[0]
	g.Expect(c.Image).To(Equal(image))
	g.Expect(c.Command).To(Equal([]string{"/buurt-api"}))
	g.Expect(c.Args).To(ContainElements("--tls-cert-file=/certs/tls.crt", "--tls-private-key-file=/certs/tls.key"))
	g.Expect(c.SecurityContext.ReadOnlyRootFilesystem).To(Equal(ptr.To(true)))
	g.Expect(pod.Volumes).To(HaveLen(1))
	g.Expect(pod.Volumes[0].Secret.SecretName).To(Equal("buurt-webhook-server-cert"))
	g.Expect(pod.Volumes[0].Secret.Items).To(Equal([]corev1.KeyToPath{{Key: "tls.crt", Path: "tls.crt"}, {Key: "tls.key", Path: "tls.key"}}),
		"the CA's key stays with the operator")

	role := typed[rbacv1.ClusterRole](g, objects, "ClusterRole", "buurt-api")
	g.Expect(role.Rules).To(Equal([]rbacv1.PolicyRule{{
		APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"neighbourhoodteams", "coaches"}, Verbs: []string{"get", "list", "watch"},
	}}))
	for _, name := range []string{"buurt-api", "buurt-api:system:auth-delegator"} {
		binding := typed[rbacv1.ClusterRoleBinding](g, objects, "ClusterRoleBinding", name)
		g.Expect(binding.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: "buurt-api", Namespace: "buurt-system"}}))
	}
	g.Expect(typed[rbacv1.ClusterRoleBinding](g, objects, "ClusterRoleBinding", "buurt-api:system:auth-delegator").RoleRef.Name).
		To(Equal("system:auth-delegator"))

	api := typed[unstructured.Unstructured](g, objects, "APIService", "v1alpha1.my.buurt.dev")
	g.Expect(api.Object["spec"]).To(Equal(map[string]any{
		"group": "my.buurt.dev", "version": "v1alpha1", "groupPriorityMinimum": int64(1000), "versionPriority": int64(15),
		"service": map[string]any{"name": "buurt-api", "namespace": "buurt-system", "port": int64(443)},
	}), "the apiserver checks buurt-api's certificate (no insecureSkipTLSVerify)")
}

// TestDefaultInstallationIsAcceptedByTheAPIServer sends every rendered
// object to a real apiserver as a server-side dry run: the schema, defaults
// and admission of Kubernetes itself check them.
func TestDefaultInstallationIsAcceptedByTheAPIServer(t *testing.T) {
	g := NewWithT(t)
	env, _ := testenv.StartForTest(t)
	ctx := context.Background()
	objects := render(t, "config/default")
	// The namespace really, so that what lives in it can be dry-run.
	for _, o := range objects {
		if o.GetKind() == "Namespace" {
			g.Expect(env.Client.Create(ctx, o.DeepCopy())).To(Succeed())
		}
	}
	for _, o := range objects {
		if o.GetKind() == "Namespace" {
			continue
		}
		err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("test"), client.ForceOwnership, client.DryRunAll)
		g.Expect(err).NotTo(HaveOccurred(), "%s %s", o.GetKind(), o.GetName())
	}
}

// expectTenantPolicies checks that an installation holds every tenant policy
// as internal/policies makes it, each bound, denying, in team namespaces only.
func expectTenantPolicies(g Gomega, objects []*unstructured.Unstructured) {
	for _, name := range policies.Names() {
		policy := typed[admissionregistrationv1.ValidatingAdmissionPolicy](g, objects, "ValidatingAdmissionPolicy", name)
		g.Expect(policy.Labels).To(Equal(map[string]string{"app.kubernetes.io/name": "buurt", "teams.buurt.dev/on-uninstall": "keep"}))
		g.Expect(policy.Spec.FailurePolicy).To(Equal(ptr.To(admissionregistrationv1.Fail)), name)
		g.Expect(policy.Spec.MatchConstraints.MatchPolicy).To(Equal(ptr.To(admissionregistrationv1.Equivalent)), name)
		g.Expect(policy.Spec.Validations).NotTo(BeEmpty(), name)
		binding := typed[admissionregistrationv1.ValidatingAdmissionPolicyBinding](g, objects, "ValidatingAdmissionPolicyBinding", name)
		g.Expect(binding.Labels).To(Equal(map[string]string{"app.kubernetes.io/name": "buurt", "teams.buurt.dev/on-uninstall": "keep"}))
		g.Expect(binding.Spec).To(Equal(admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels:      map[string]string{"app.kubernetes.io/managed-by": "buurt"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "teams.buurt.dev/team", Operator: metav1.LabelSelectorOpExists}},
			}},
		}))
	}
}
