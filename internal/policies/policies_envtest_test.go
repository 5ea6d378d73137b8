package policies_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/policies"
	"github.com/buurt-dev/buurt/internal/testenv"
)

var env *testenv.Env

const (
	timeout = 30 * time.Second
	// north is a team namespace whose blueprint sets every tenant rule;
	// south's sets none.
	north = "team-north"
	south = "team-south"
	// anna is a member of north and of south.
	anna = "anna@care.example.org"
	// pia is a platform engineer, bound to buurt:team-member in both
	// namespaces too.
	pia        = "pia@region.example.org"
	allowed    = "registry.example.org/care/planner:1.4.2"
	notAllowed = "docker.io/library/busybox:1.37"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if err := setUp(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// setUp installs the policies as config/policies has them, the roles buurt
// binds, and two team namespaces as buurt makes them, with anna a member of
// both and pia a platform engineer.
func setUp(ctx context.Context) error {
	root := testenv.RepoRoot()
	for _, file := range []string{"config/policies/tenant.yaml", "config/rbac/team_roles.yaml"} {
		if err := testenv.CreateFromFile(ctx, env.Client, filepath.Join(root, file)); err != nil {
			return err
		}
	}
	annotations := map[string]map[string]string{
		north: {
			teamsv1alpha1.AllowedRegistriesAnnotation: "registry.example.org/care/,ghcr.io/buurt-dev/",
			teamsv1alpha1.IngressDomainAnnotation:     "north.care.example.org",
			teamsv1alpha1.ImagePullPolicyAnnotation:   "Always",
		},
		south: nil,
	}
	for ns, a := range annotations {
		team := ns[len("team-"):]
		objects := []client.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Annotations: a, Labels: map[string]string{
				teamsv1alpha1.TeamLabel: team, teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue,
			}}},
			&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buurt:members"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "buurt:team-member"},
				// pia works in the namespace with a member's role; what
				// she may do beyond it comes from managing the team.
				Subjects: []rbacv1.Subject{
					{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: anna},
					{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: pia},
				},
			},
			managed(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buurt-apps"}}),
			managed(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: team + "-db"}}),
		}
		for _, o := range objects {
			if err := env.Client.Create(ctx, o); err != nil {
				return err
			}
		}
	}
	if err := env.Client.Create(ctx, testenv.PlatformEngineerBinding("buurt:platform-engineers", pia)); err != nil {
		return err
	}
	return waitForPolicies(ctx)
}

// waitForPolicies waits until the apiserver enforces every policy and
// anna's RoleBinding: each policy loads on its own, and RBAC takes a moment
// too, so a probe for each, sent as anna on a dry run, must be refused by
// its policy.
func waitForPolicies(ctx context.Context) error {
	asAnna, err := testenv.ClientAs(env.Config, anna)
	if err != nil {
		return err
	}
	bad := podSpec(container("app", "docker.io/library/busybox:1", corev1.PullAlways))
	sa := managed(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: north, Name: "buurt-apps"}})
	probes := map[string]func() error{
		policies.ServiceTypes: func() error {
			return asAnna.Create(ctx, service(north, "probe", corev1.ServiceTypeNodePort), client.DryRunAll)
		},
		policies.Endpoints: func() error { return env.Client.Create(ctx, endpoints(north, "probe"), client.DryRunAll) },
		policies.IngressHosts: func() error {
			return asAnna.Create(ctx, ingress(north, "probe", "*.care.example.org"), client.DryRunAll)
		},
		policies.PodImages:      func() error { return asAnna.Create(ctx, pod(north, "probe", bad), client.DryRunAll) },
		policies.WorkloadImages: func() error { return asAnna.Create(ctx, deployment(north, "probe", bad), client.DryRunAll) },
		policies.CronJobImages:  func() error { return asAnna.Create(ctx, cronJob(north, "probe", bad), client.DryRunAll) },
		policies.ManagedObjects: func() error { return asAnna.Delete(ctx, sa, client.DryRunAll) },
	}
	deadline := time.Now().Add(timeout)
	for name, probe := range probes {
		for {
			err := probe()
			if err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+name+"'") {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the tenant policy %s was not enforced within %s: %w", name, timeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func managed[T client.Object](o T) T {
	o.SetLabels(map[string]string{teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue})
	return o
}

// as is a client that impersonates user in groups.
func as(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	c, err := testenv.ClientAs(env.Config, user, groups...)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return c
}

// denied is the apiserver's refusal of a request by one of buurt's policies.
func denied(resource, name, policy, message string) string {
	return fmt.Sprintf("%s %q is forbidden: ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s",
		resource, name, policy, policy, message)
}

func service(ns, name string, typ corev1.ServiceType) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if typ == corev1.ServiceTypeExternalName {
		s.Spec = corev1.ServiceSpec{Type: typ, ExternalName: "db.other-team.svc.cluster.local"}
	}
	return s
}

// endpoints are hand-written Endpoints.
func endpoints(ns, name string) client.Object {
	//nolint:staticcheck // the deprecated Endpoints API is what the rule guards
	return &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.1.2.3"}}}}}
}

func ingress(ns, name string, hosts ...string) *networkingv1.Ingress {
	in := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, h := range hosts {
		in.Spec.Rules = append(in.Spec.Rules, networkingv1.IngressRule{Host: h, IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: backend(),
			}}},
		}})
	}
	return in
}

func backend() networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: "planner", Port: networkingv1.ServiceBackendPort{Number: 8080},
	}}
}

func container(name, image string, pull corev1.PullPolicy) corev1.Container {
	return corev1.Container{Name: name, Image: image, ImagePullPolicy: pull}
}

func podSpec(containers ...corev1.Container) corev1.PodSpec {
	return corev1.PodSpec{Containers: containers}
}

func pod(ns, name string, spec corev1.PodSpec) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func template(spec corev1.PodSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "planner"}}, Spec: spec}
}

func deployment(ns, name string, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "planner"}}, Template: template(spec),
	}}
}

func cronJob(ns, name string, spec corev1.PodSpec) *batchv1.CronJob {
	spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: batchv1.CronJobSpec{
		Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template(spec)}},
	}}
}

// The names the blueprint controller looks for are those of the file.
func TestNamesAreThoseInstalled(t *testing.T) {
	g := NewWithT(t)
	g.Expect(policies.Names()).To(Equal([]string{
		"buurt-tenant-service-types", "buurt-tenant-endpoints", "buurt-tenant-ingress-hosts", "buurt-tenant-pod-images",
		"buurt-tenant-workload-images", "buurt-tenant-cronjob-images", "buurt-tenant-managed-objects",
	}))
	for _, name := range policies.Names() {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &admissionregistrationv1.ValidatingAdmissionPolicy{})).To(Succeed())
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{})).To(Succeed())
	}
}

// Each rule refuses what it is for, as a member asks for it, with a message
// that names the rule and what to do.
func TestForbiddenObjectsAreRefused(t *testing.T) {
	const (
		cve8554 = "they reach past the team's network policies and ingress, or answer for names that are not the team's (CVE-2020-8554); " +
			"use type ClusterIP and reach the app through an Ingress"
		notUnder      = " is not under this team's domain north.care.example.org; use a host such as app.north.care.example.org"
		noDomain      = "; this team's blueprint names no ingress domain, so Ingresses in its namespace may not name hosts: ask a platform engineer to set spec.ingress.domain on the blueprint"
		registries    = " is under none of this team's allowed registries (registry.example.org/care/, ghcr.io/buurt-dev/); use an image from one of them, or ask a platform engineer to add its registry to the blueprint's allowedRegistries"
		pullAlways    = " must have imagePullPolicy: Always, as this team's blueprint asks of every container, so that the registry checks every pull; set it on the container"
		endpointsRule = " objects are written by the control plane only in team namespaces: hand-written ones can send a Service's traffic to another namespace's pods (CVE-2021-25740); give the Service a selector and Kubernetes keeps its endpoints"
	)
	withExternalIPs := service(north, "external-ips", corev1.ServiceTypeClusterIP)
	withExternalIPs.Spec.ExternalIPs = []string{"10.0.0.1", "8.8.8.8"}
	noHost := ingress(north, "no-host", "")
	defaultBackend := ingress(north, "default-backend")
	defaultBackend.Spec.DefaultBackend = ptr.To(backend())
	tls := ingress(north, "tls", "app.north.care.example.org")
	tls.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"app.north.care.example.org", "app.south.care.example.org"}, SecretName: "tls"}}
	initContainer := podSpec(container("app", allowed, corev1.PullAlways))
	initContainer.InitContainers = []corev1.Container{container("migrate", notAllowed, corev1.PullAlways)}

	for _, tc := range []struct {
		name string
		// by is who asks: anna, unless she may not by RBAC.
		by   client.Client
		obj  client.Object
		want string
	}{
		{"NodePort", nil, service(north, "nodeport", corev1.ServiceTypeNodePort),
			denied("services", "nodeport", policies.ServiceTypes, "buurt tenant rule service-types: Services of type NodePort are not allowed in team namespaces: "+cve8554)},
		{"LoadBalancer", nil, service(north, "lb", corev1.ServiceTypeLoadBalancer),
			denied("services", "lb", policies.ServiceTypes, "buurt tenant rule service-types: Services of type LoadBalancer are not allowed in team namespaces: "+cve8554)},
		{"ExternalName", nil, service(north, "external-name", corev1.ServiceTypeExternalName),
			denied("services", "external-name", policies.ServiceTypes, "buurt tenant rule service-types: Services of type ExternalName are not allowed in team namespaces: "+cve8554)},
		{"external IPs", nil, withExternalIPs,
			denied("services", "external-ips", policies.ServiceTypes, "buurt tenant rule service-types: spec.externalIPs (10.0.0.1, 8.8.8.8) are not allowed in team namespaces: "+
				"a Service with external IPs takes the traffic for those addresses from the whole cluster (CVE-2020-8554); remove spec.externalIPs and reach the app through an Ingress")},
		// Members may not write Endpoints by RBAC; a cluster admin is refused by the policy.
		{"Endpoints", env.Client, endpoints(north, "planner"),
			denied("endpoints", "planner", policies.Endpoints, "buurt tenant rule endpoints: Endpoints"+endpointsRule)},
		{"EndpointSlice", env.Client, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: north, Name: "planner-x"},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.1.2.3"}}}},
			denied("endpointslices.discovery.k8s.io", "planner-x", policies.Endpoints, "buurt tenant rule endpoints: EndpointSlice"+endpointsRule)},
		{"another team's host", nil, ingress(north, "other-team", "app.north.care.example.org", "app.south.care.example.org"),
			denied("ingresses.networking.k8s.io", "other-team", policies.IngressHosts, "buurt tenant rule ingress-hosts: host app.south.care.example.org"+notUnder)},
		{"a host that only ends like the team's domain", nil, ingress(north, "suffix", "evil-north.care.example.org"),
			denied("ingresses.networking.k8s.io", "suffix", policies.IngressHosts, "buurt tenant rule ingress-hosts: host evil-north.care.example.org"+notUnder)},
		{"a wildcard above the team's domain", nil, ingress(north, "wildcard", "*.care.example.org"),
			denied("ingresses.networking.k8s.io", "wildcard", policies.IngressHosts, "buurt tenant rule ingress-hosts: host *.care.example.org"+notUnder)},
		{"a rule without host", nil, noHost,
			denied("ingresses.networking.k8s.io", "no-host", policies.IngressHosts, "buurt tenant rule ingress-hosts: every rule of an Ingress in a team namespace needs a host: "+
				"a rule without one takes every host's traffic; set spec.rules[].host under the team's domain")},
		{"a default backend", nil, defaultBackend,
			denied("ingresses.networking.k8s.io", "default-backend", policies.IngressHosts, "buurt tenant rule ingress-hosts: an Ingress in a team namespace may not have a defaultBackend, "+
				"which takes every host's traffic; give each rule a host under the team's domain instead")},
		{"a TLS host of another team", nil, tls,
			denied("ingresses.networking.k8s.io", "tls", policies.IngressHosts, "buurt tenant rule ingress-hosts: TLS host app.south.care.example.org"+notUnder)},
		{"a host where the blueprint names no domain", nil, ingress(south, "any", "app.south.care.example.org"),
			denied("ingresses.networking.k8s.io", "any", policies.IngressHosts, "buurt tenant rule ingress-hosts: host app.south.care.example.org"+noDomain)},
		{"a pod from another registry", nil, pod(north, "busybox", podSpec(container("app", allowed, corev1.PullAlways), container("shell", notAllowed, corev1.PullAlways))),
			denied("pods", "busybox", policies.PodImages, "buurt tenant rule allowed-registries: image "+notAllowed+" of container shell"+registries)},
		{"an init container from another registry", nil, pod(north, "init", initContainer),
			denied("pods", "init", policies.PodImages, "buurt tenant rule allowed-registries: image "+notAllowed+" of container migrate"+registries)},
		{"a registry's name as a prefix of another host", nil, pod(north, "lookalike", podSpec(container("app", "registry.example.org.evil.com/care/planner:1", corev1.PullAlways))),
			denied("pods", "lookalike", policies.PodImages, "buurt tenant rule allowed-registries: image registry.example.org.evil.com/care/planner:1 of container app"+registries)},
		{"a pod that does not pull Always", nil, pod(north, "if-not-present", podSpec(container("app", allowed, corev1.PullIfNotPresent))),
			denied("pods", "if-not-present", policies.PodImages, "buurt tenant rule image-pull-policy: container app"+pullAlways)},
		{"a Deployment from another registry", nil, deployment(north, "busybox", podSpec(container("app", notAllowed, corev1.PullAlways))),
			denied("deployments.apps", "busybox", policies.WorkloadImages, "buurt tenant rule allowed-registries: image "+notAllowed+" of container app"+registries)},
		{"a Deployment that does not pull Always", nil, deployment(north, "never", podSpec(container("app", allowed, corev1.PullNever))),
			denied("deployments.apps", "never", policies.WorkloadImages, "buurt tenant rule image-pull-policy: container app"+pullAlways)},
		{"a CronJob from another registry", nil, cronJob(north, "busybox", podSpec(container("app", notAllowed, corev1.PullAlways))),
			denied("cronjobs.batch", "busybox", policies.CronJobImages, "buurt tenant rule allowed-registries: image "+notAllowed+" of container app"+registries)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			by := tc.by
			if by == nil {
				by = as(t, anna)
			}
			err := by.Create(context.Background(), tc.obj)
			NewWithT(t).Expect(err).To(MatchError(tc.want))
		})
	}
}

// What a team needs is admitted: buurt's tenant rules take nothing a team
// uses away.
func TestAllowedObjectsAreAdmitted(t *testing.T) {
	tls := ingress(north, "planner-tls", "planner.north.care.example.org")
	tls.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"planner.north.care.example.org"}, SecretName: "planner-tls"}}
	headless := service(north, "headless", corev1.ServiceTypeClusterIP)
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	for _, tc := range []struct {
		name string
		obj  client.Object
	}{
		{"a ClusterIP Service", service(north, "planner", corev1.ServiceTypeClusterIP)},
		{"a headless Service", headless},
		{"an app's Ingress", ingress(north, "planner", "planner.north.care.example.org")},
		{"the team's own domain and a wildcard under it", ingress(north, "wildcard", "north.care.example.org", "*.north.care.example.org")},
		{"TLS for the app's host", tls},
		{"a pod from an allowed registry that pulls Always", pod(north, "planner", podSpec(container("app", allowed, corev1.PullAlways),
			container("sidecar", "ghcr.io/buurt-dev/proxy:1", corev1.PullAlways)))},
		{"a Deployment from an allowed registry", deployment(north, "planner", podSpec(container("app", allowed, corev1.PullAlways)))},
		{"a CronJob from an allowed registry", cronJob(north, "report", podSpec(container("app", allowed, corev1.PullAlways)))},
		{"any image and pull policy where the blueprint sets no rules", pod(south, "busybox", podSpec(container("shell", notAllowed, corev1.PullIfNotPresent)))},
		{"a NodePort Service outside team namespaces", service("default", "nodeport", corev1.ServiceTypeNodePort)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			by := as(t, anna)
			if tc.obj.GetNamespace() == "default" {
				by = env.Client
			}
			NewWithT(t).Expect(by.Create(context.Background(), tc.obj)).To(Succeed())
		})
	}
}

// kubectl debug adds an ephemeral container through a subresource; its
// image is held to the same registries.
func TestEphemeralContainersAreChecked(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	anna := as(t, anna)
	p := pod(north, "debug-me", podSpec(container("app", allowed, corev1.PullAlways)))
	g.Expect(anna.Create(ctx, p)).To(Succeed())
	debug := func(image string) error {
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debugger", Image: image, ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		}}}
		return anna.SubResource("ephemeralcontainers").Update(ctx, p)
	}
	// Members have no RBAC for the subresource; the policy must hold for
	// whoever has it.
	g.Expect(apierrors.IsForbidden(debug(notAllowed))).To(BeTrue())
	admin := env.Client
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: notAllowed, ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}}}
	g.Expect(admin.SubResource("ephemeralcontainers").Update(ctx, p)).To(MatchError(denied("pods", "debug-me", policies.PodImages,
		"buurt tenant rule allowed-registries: image "+notAllowed+" of container debugger is under none of this team's allowed registries "+
			"(registry.example.org/care/, ghcr.io/buurt-dev/); use an image from one of them, or ask a platform engineer to add its registry to the blueprint's allowedRegistries")))
	p.Spec.EphemeralContainers[0].Image = "ghcr.io/buurt-dev/debug:1"
	g.Expect(admin.SubResource("ephemeralcontainers").Update(ctx, p)).To(Succeed())
}

// A pod that a blueprint change put outside the rules can still be
// labelled (controllers adopt and release pods that way); a change of its
// containers is checked.
func TestUpdatesThatKeepThePodSpecAreNotChecked(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// Made before the rule, as if the blueprint changed since: the
	// namespace without rules stands in for the time before.
	p := pod(south, "old", podSpec(container("app", notAllowed, corev1.PullIfNotPresent)))
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	ns := &corev1.Namespace{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: south}, ns)).To(Succeed())
	ns.Annotations = map[string]string{teamsv1alpha1.AllowedRegistriesAnnotation: "registry.example.org/care/"}
	g.Expect(env.Client.Update(ctx, ns)).To(Succeed())
	t.Cleanup(func() {
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: south}, ns)).To(Succeed())
		ns.Annotations = nil
		g.Expect(env.Client.Update(ctx, ns)).To(Succeed())
	})
	anna := as(t, anna)
	g.Eventually(func() error {
		return anna.Create(ctx, pod(south, "probe", podSpec(container("app", notAllowed, corev1.PullIfNotPresent))), client.DryRunAll)
	}).WithTimeout(timeout).Should(HaveOccurred(), "the policy sees the namespace's new annotation")

	g.Expect(anna.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
	p.Labels = map[string]string{"adopted": "yes"}
	g.Expect(anna.Update(ctx, p)).To(Succeed())
	p.Spec.Containers[0].Image = "docker.io/library/busybox:1.38"
	g.Expect(anna.Update(ctx, p)).To(MatchError(ContainSubstring("buurt tenant rule allowed-registries: image docker.io/library/busybox:1.38 of container app")))
}

// What buurt manages in a team namespace, members may not change, delete or
// disown; whoever may manage the team, and the control plane, may.
func TestManagedObjectsAreProtected(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	anna := as(t, anna)
	refused := func(resource, name, kind, may string) string {
		return denied(resource, name, policies.ManagedObjects, "buurt tenant rule managed-objects: "+kind+" "+name+" is managed by buurt for this team: "+
			"members may not change it"+may+", nor remove its app.kubernetes.io/managed-by label; change the NeighbourhoodTeam instead, or ask a platform engineer")
	}

	sa := &corev1.ServiceAccount{}
	g.Expect(anna.Get(ctx, client.ObjectKey{Namespace: north, Name: "buurt-apps"}, sa)).To(Succeed())
	g.Expect(anna.Delete(ctx, sa)).To(MatchError(refused("serviceaccounts", "buurt-apps", "ServiceAccount", " or delete it")))
	sa.Labels = nil
	g.Expect(anna.Update(ctx, sa)).To(MatchError(refused("serviceaccounts", "buurt-apps", "ServiceAccount", " or delete it")))
	secret := &corev1.Secret{}
	g.Expect(anna.Get(ctx, client.ObjectKey{Namespace: north, Name: "north-db"}, secret)).To(Succeed())
	secret.StringData = map[string]string{"password": "mine"}
	g.Expect(anna.Update(ctx, secret)).To(MatchError(refused("secrets", "north-db", "Secret", " (delete it to have buurt make a new password)")))
	// Deleting it is how a team rotates its password.
	g.Expect(anna.Delete(ctx, secret, client.DryRunAll)).To(Succeed())

	// Her own Secrets are hers.
	own := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: north, Name: "anna-token"}}
	g.Expect(anna.Create(ctx, own)).To(Succeed())
	g.Expect(anna.Delete(ctx, own)).To(Succeed())

	// A platform engineer may manage the team; the garbage collector runs
	// as a ServiceAccount in kube-system (here with a cluster admin's RBAC,
	// as only the policy is under test).
	g.Expect(as(t, pia).Update(ctx, secret)).To(Succeed())
	g.Expect(as(t, "system:serviceaccount:kube-system:generic-garbage-collector", "system:masters").Delete(ctx, secret)).To(Succeed())
	g.Expect(as(t, "system:kube-controller-manager", "system:masters").Delete(ctx, sa)).To(Succeed())
}

// The endpoint controllers of the control plane write Endpoints and
// EndpointSlices in team namespaces.
func TestControlPlaneWritesEndpoints(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	g.Expect(as(t, "system:serviceaccount:kube-system:endpoint-controller", "system:masters").Create(ctx, endpoints(north, "planner-endpoints"))).To(Succeed())
	g.Expect(as(t, "system:serviceaccount:kube-system:endpointslice-controller", "system:masters").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: north, Name: "planner-slice"},
		AddressType: discoveryv1.AddressTypeIPv4,
	})).To(Succeed())
	// Members read them, and write neither.
	anna := as(t, anna)
	g.Expect(anna.List(ctx, &corev1.EndpointsList{}, client.InNamespace(north))).To(Succeed())
	g.Expect(anna.List(ctx, &discoveryv1.EndpointSliceList{}, client.InNamespace(north))).To(Succeed())
	err := anna.Create(ctx, endpoints(north, "anna"))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring(`User "anna@care.example.org" cannot create resource "endpoints"`))
}
