//go:build e2e

package e2e

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/policies"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestTenancy installs a team whose blueprint sets every tenant rule and
// checks, as its member anna, that the apiserver refuses each way out of the
// team's namespace with a message naming the rule, while what a team needs
// (and what buurt makes for it, pulled Always from the allowed registry) is
// admitted.
func TestTenancy(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const (
		name   = "e2e-tenancy"
		ns     = "team-e2e-tenancy"
		anna   = "anna@care.example.org"
		domain = "e2e-tenancy.care.example.org"
	)
	bp := testenv.DesignBlueprint(name)
	bp.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	bp.Spec.Ingress = teamsv1alpha1.Ingress{Domain: "care.example.org"}
	bp.Spec.ImagePullPolicy = teamsv1alpha1.ImagePullPolicyAlways
	bp.Spec.Apps = []teamsv1alpha1.App{{Name: "care-planner", Image: "registry.example.org/care/planner:1.4.2", Port: 8080}}
	g.Expect(admin.Create(ctx, bp)).To(Succeed())
	team := newTeam(name, name, user(anna))
	g.Expect(admin.Create(ctx, team)).To(Succeed())
	t.Cleanup(func() {
		_ = admin.Delete(context.Background(), team)
		reallyGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		_ = admin.Delete(context.Background(), bp)
	})
	// buurt's own app passes the rules: its pods run.
	eventuallyTeam(t, name, ready)

	g.Eventually(func(g Gomega) {
		got := &teamsv1alpha1.TeamBlueprint{}
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(bp), got)).To(Succeed())
		c := meta.FindStatusCondition(got.Status.Conditions, teamsv1alpha1.TenantRulesEnforcedCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
	}).WithTimeout(timeout).Should(Succeed())
	// The control plane's type checker (in kube-controller-manager) finds
	// nothing wrong with any expression.
	for _, policy := range policies.Names() {
		g.Eventually(func(g Gomega) {
			p := &admissionregistrationv1.ValidatingAdmissionPolicy{}
			g.Expect(admin.Get(ctx, client.ObjectKey{Name: policy}, p)).To(Succeed())
			g.Expect(p.Status.TypeChecking).NotTo(BeNil(), "%s is not type checked yet", policy)
			g.Expect(p.Status.TypeChecking.ExpressionWarnings).To(BeEmpty(), policy)
		}).WithTimeout(timeout).Should(Succeed())
	}

	asAnna := as(t, anna)

	service := func(name string, typ corev1.ServiceType) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
			Type: typ, Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		}}
	}
	externalName := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "external-name"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.team-other.svc.cluster.local"}}
	externalIPs := service("external-ips", corev1.ServiceTypeClusterIP)
	externalIPs.Spec.ExternalIPs = []string{"10.0.0.1"}
	ingress := func(name, host string) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: "care-planner", Port: networkingv1.ServiceBackendPort{Number: 8080}},
				}}},
			}}}},
		}}
	}
	// Restricted, as Pod Security would refuse it before the policy looks.
	pod := func(name, image string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "app", Image: image, ImagePullPolicy: corev1.PullAlways,
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}},
		}}
	}

	for _, tc := range []struct {
		name string
		obj  client.Object
		want string
	}{
		{"NodePort", service("nodeport", corev1.ServiceTypeNodePort), "buurt tenant rule service-types: Services of type NodePort are not allowed"},
		{"LoadBalancer", service("lb", corev1.ServiceTypeLoadBalancer), "buurt tenant rule service-types: Services of type LoadBalancer are not allowed"},
		{"ExternalName", externalName, "buurt tenant rule service-types: Services of type ExternalName are not allowed"},
		{"external IPs", externalIPs, "buurt tenant rule service-types: spec.externalIPs (10.0.0.1) are not allowed"},
		{"another team's host", ingress("other-team", "app.e2e-apps.care.example.org"),
			"buurt tenant rule ingress-hosts: host app.e2e-apps.care.example.org is not under this team's domain " + domain},
		{"a wildcard above the team's domain", ingress("wildcard", "*.care.example.org"),
			"buurt tenant rule ingress-hosts: host *.care.example.org is not under this team's domain " + domain},
		{"a pod from another registry", pod("busybox", "docker.io/library/busybox:1.37"),
			"buurt tenant rule allowed-registries: image docker.io/library/busybox:1.37 of container app is under none of this team's allowed registries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(asAnna.Create(ctx, tc.obj)).To(MatchError(ContainSubstring(tc.want)))
		})
	}

	t.Run("Endpoints and EndpointSlices", func(t *testing.T) {
		g := NewWithT(t)
		//nolint:staticcheck // the deprecated Endpoints API is what the rule guards
		endpoints := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "care-planner-by-hand"},
			Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.1.2.3"}}}}}
		slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "care-planner-by-hand"},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.2.3"}}}}
		// Members may read them only ...
		for _, obj := range []client.Object{endpoints, slice} {
			err := asAnna.Create(ctx, obj.DeepCopyObject().(client.Object))
			g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
			g.Expect(err.Error()).To(ContainSubstring(`User "anna@care.example.org" cannot create resource`))
		}
		g.Expect(asAnna.List(ctx, &discoveryv1.EndpointSliceList{}, client.InNamespace(ns))).To(Succeed())
		// ... and not even a cluster admin writes them by hand in a team
		// namespace, while the control plane keeps the app's.
		g.Expect(admin.Create(ctx, endpoints)).To(MatchError(ContainSubstring("buurt tenant rule endpoints: Endpoints objects are written by the control plane only")))
		g.Expect(admin.Create(ctx, slice)).To(MatchError(ContainSubstring("buurt tenant rule endpoints: EndpointSlice objects are written by the control plane only")))
		g.Eventually(func(g Gomega) {
			slices := &discoveryv1.EndpointSliceList{}
			g.Expect(admin.List(ctx, slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: "care-planner"})).To(Succeed())
			g.Expect(slices.Items).NotTo(BeEmpty())
		}).WithTimeout(timeout).Should(Succeed())
	})

	t.Run("buurt's ServiceAccount", func(t *testing.T) {
		g := NewWithT(t)
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: render.AppServiceAccountName}}
		g.Expect(asAnna.Delete(ctx, sa)).To(MatchError(ContainSubstring(
			"buurt tenant rule managed-objects: ServiceAccount buurt-apps is managed by buurt for this team")))
	})

	t.Run("what a team needs", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(asAnna.Create(ctx, service("rota", corev1.ServiceTypeClusterIP))).To(Succeed())
		g.Expect(asAnna.Create(ctx, ingress("rota", "rota."+domain))).To(Succeed())
		g.Expect(asAnna.Create(ctx, pod("rota", "registry.example.org/care/rota:2.0.1"))).To(Succeed())
	})
}
