package render_test

import (
	"maps"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

func app(name, image string, port int32) teamsv1alpha1.App {
	return teamsv1alpha1.App{Name: name, Image: image, Port: port, Replicas: ptr.To[int32](1)}
}

func appNames(apps []teamsv1alpha1.App) []string {
	names := []string{}
	for _, a := range apps {
		names = append(names, a.Name)
	}
	return names
}

func TestApps(t *testing.T) {
	planner := app("care-planner", "registry.example.org/care/planner:1.4.2", 8080)
	planner.Database = ptr.To(true)
	rota := app("rota", "registry.example.org/care/rota:2.0.1", 8080)
	cases := []struct {
		name          string
		registries    []string
		blueprintApps []teamsv1alpha1.App
		teamApps      []teamsv1alpha1.App
		hasDatabase   bool
		want          []string
		conflicts     []string
		notAllowed    []string
		needDatabase  []string
	}{
		{name: "none", hasDatabase: true, want: []string{}},
		{name: "blueprint apps first, then the team's", hasDatabase: true,
			blueprintApps: []teamsv1alpha1.App{planner}, teamApps: []teamsv1alpha1.App{rota},
			want: []string{"care-planner", "rota"}},
		{name: "a team app may not take a blueprint app's name", hasDatabase: true,
			blueprintApps: []teamsv1alpha1.App{planner},
			teamApps:      []teamsv1alpha1.App{app("care-planner", "registry.example.org/care/other:1", 80), rota},
			want:          []string{"care-planner", "rota"}, conflicts: []string{"care-planner"}},
		{name: "images under the allowed registries only", hasDatabase: true,
			registries: []string{"registry.example.org/care/"},
			teamApps:   []teamsv1alpha1.App{rota, app("miner", "docker.io/evil/miner:1", 80), app("lookalike", "registry.example.org/careless/x:1", 80)},
			want:       []string{"rota"}, notAllowed: []string{"miner", "lookalike"}},
		{name: "no allowed registries allows every image", hasDatabase: true,
			teamApps: []teamsv1alpha1.App{app("anything", "docker.io/library/nginx:1.29", 80)},
			want:     []string{"anything"}},
		{name: "an app that needs a database the team does not have", hasDatabase: false,
			blueprintApps: []teamsv1alpha1.App{planner}, teamApps: []teamsv1alpha1.App{rota},
			want: []string{"rota"}, needDatabase: []string{"care-planner"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			bp := blueprint()
			bp.Spec.AllowedRegistries = tc.registries
			bp.Spec.Apps = tc.blueprintApps
			tm := team(user("anna"))
			tm.Spec.Apps = tc.teamApps
			set := render.Apps(tm, bp, tc.hasDatabase)
			g.Expect(appNames(set.Apps)).To(Equal(tc.want))
			g.Expect(set.NameConflicts).To(Equal(tc.conflicts))
			if tc.notAllowed == nil {
				g.Expect(set.ImagesNotAllowed).To(BeEmpty())
			} else {
				g.Expect(appNames(set.ImagesNotAllowed)).To(Equal(tc.notAllowed))
			}
			g.Expect(set.NeedDatabase).To(Equal(tc.needDatabase))
		})
	}
}

var wantAppLabels = map[string]string{
	"teams.buurt.dev/team": "north-riverside", "app.kubernetes.io/managed-by": "buurt",
	"app.kubernetes.io/name": "care-planner", "teams.buurt.dev/component": "app",
}

func secretRef(key string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "north-riverside-db"}, Key: key,
	}}
}

// wantDeployment is the Deployment of an app care-planner on port 8080 as
// every case starts from; each case changes what it is about.
func wantDeployment() appsv1.Deployment {
	probe := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}
	return appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "care-planner", Namespace: "team-north-riverside", Labels: wantAppLabels, OwnerReferences: wantOwner,
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr.To[int32](1),
			RevisionHistoryLimit: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{
				"teams.buurt.dev/team": "north-riverside", "app.kubernetes.io/name": "care-planner",
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: wantAppLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName:           "buurt-apps",
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "care-planner",
						Image:           "registry.example.org/care/planner:1.4.2",
						ImagePullPolicy: corev1.PullAlways,
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe:  &corev1.Probe{ProbeHandler: probe},
						LivenessProbe:   &corev1.Probe{ProbeHandler: probe, InitialDelaySeconds: 10, PeriodSeconds: 20},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false), RunAsNonRoot: ptr.To(true),
							Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
					}},
				},
			},
		},
	}
}

func TestDeployment(t *testing.T) {
	base := app("care-planner", "registry.example.org/care/planner:1.4.2", 8080)
	cases := []struct {
		name string
		app  func(*teamsv1alpha1.App)
		opts render.AppOptions
		want func(*appsv1.Deployment)
	}{
		{name: "the least an app says", app: func(*teamsv1alpha1.App) {}, want: func(*appsv1.Deployment) {}},
		{name: "replicas unset are left to whoever scales the app",
			app:  func(a *teamsv1alpha1.App) { a.Replicas = nil },
			want: func(d *appsv1.Deployment) { d.Spec.Replicas = nil }},
		{name: "replicas unset stay unset while stopped: sleep records and stops them",
			app:  func(a *teamsv1alpha1.App) { a.Replicas = nil },
			opts: render.AppOptions{Stopped: true},
			want: func(d *appsv1.Deployment) { d.Spec.Replicas = nil }},
		{name: "replicas, env, resources and an HTTP probe",
			app: func(a *teamsv1alpha1.App) {
				a.Replicas = ptr.To[int32](3)
				a.Env = []teamsv1alpha1.EnvVar{{Name: "TZ", Value: "Europe/Amsterdam"}, {Name: "EMPTY"}}
				a.Resources = &teamsv1alpha1.Resources{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				}
				a.ProbePath = "/healthz"
			},
			want: func(d *appsv1.Deployment) {
				d.Spec.Replicas = ptr.To[int32](3)
				c := &d.Spec.Template.Spec.Containers[0]
				c.Env = []corev1.EnvVar{{Name: "TZ", Value: "Europe/Amsterdam"}, {Name: "EMPTY"}}
				c.Resources = corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
				}
				probe := corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}}
				c.ReadinessProbe = &corev1.Probe{ProbeHandler: probe}
				c.LivenessProbe = &corev1.Probe{ProbeHandler: probe, InitialDelaySeconds: 10, PeriodSeconds: 20}
			}},
		{name: "the database by reference, and the Secret's hash to roll on rotation",
			app: func(a *teamsv1alpha1.App) {
				a.Database = ptr.To(true)
				a.Env = []teamsv1alpha1.EnvVar{{Name: "TZ", Value: "UTC"}}
			},
			opts: render.AppOptions{DatabaseSecretHash: "0123456789abcdef"},
			want: func(d *appsv1.Deployment) {
				d.Spec.Template.Annotations = map[string]string{"teams.buurt.dev/database-secret-hash": "0123456789abcdef"}
				d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{
					{Name: "TZ", Value: "UTC"},
					{Name: "DATABASE_URL", ValueFrom: secretRef("uri")},
					{Name: "PGHOST", ValueFrom: secretRef("host")},
					{Name: "PGPORT", ValueFrom: secretRef("port")},
					{Name: "PGDATABASE", ValueFrom: secretRef("dbname")},
					{Name: "PGUSER", ValueFrom: secretRef("user")},
					{Name: "PGPASSWORD", ValueFrom: secretRef("password")},
					{Name: "PGSSLMODE", ValueFrom: secretRef("sslmode")},
				}
			}},
		{name: "the database before its Secret exists: no hash yet",
			app: func(a *teamsv1alpha1.App) { a.Database = ptr.To(true) },
			want: func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{
					{Name: "DATABASE_URL", ValueFrom: secretRef("uri")},
					{Name: "PGHOST", ValueFrom: secretRef("host")},
					{Name: "PGPORT", ValueFrom: secretRef("port")},
					{Name: "PGDATABASE", ValueFrom: secretRef("dbname")},
					{Name: "PGUSER", ValueFrom: secretRef("user")},
					{Name: "PGPASSWORD", ValueFrom: secretRef("password")},
					{Name: "PGSSLMODE", ValueFrom: secretRef("sslmode")},
				}
			}},
		{name: "stopped scales declared replicas to zero",
			app:  func(a *teamsv1alpha1.App) { a.Replicas = ptr.To[int32](3) },
			opts: render.AppOptions{Stopped: true},
			want: func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			a := base
			tc.app(&a)
			want := wantDeployment()
			tc.want(&want)
			g.Expect(typed[appsv1.Deployment](g, render.Deployment(team(user("anna")), a, tc.opts))).To(Equal(want))
		})
	}
}

func TestAppServiceAndIngress(t *testing.T) {
	g := NewWithT(t)
	tm := team(user("anna"))
	planner := app("care-planner", "registry.example.org/care/planner:1.4.2", 8080)

	svc := typed[corev1.Service](g, render.AppService(tm, planner))
	g.Expect(svc.ObjectMeta).To(Equal(metav1.ObjectMeta{
		Name: "care-planner", Namespace: "team-north-riverside", Labels: wantAppLabels, OwnerReferences: wantOwner,
	}))
	g.Expect(svc.Spec).To(Equal(corev1.ServiceSpec{
		Type:     corev1.ServiceTypeClusterIP,
		Selector: map[string]string{"teams.buurt.dev/team": "north-riverside", "app.kubernetes.io/name": "care-planner"},
		Ports:    []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 8080, TargetPort: intstr.FromString("http")}},
	}))

	bp := blueprint()
	g.Expect(render.AppIngress(tm, bp, planner)).To(BeNil(), "no domain, no Ingress")
	g.Expect(render.AppHost(tm, bp, planner)).To(BeEmpty())

	bp.Spec.Ingress = teamsv1alpha1.Ingress{Domain: "care.example.org", ClassName: "nginx"}
	g.Expect(render.AppHost(tm, bp, planner)).To(Equal("care-planner.north-riverside.care.example.org"))
	ing := typed[networkingv1.Ingress](g, render.AppIngress(tm, bp, planner))
	g.Expect(ing.ObjectMeta).To(Equal(metav1.ObjectMeta{
		Name: "care-planner", Namespace: "team-north-riverside", Labels: wantAppLabels, OwnerReferences: wantOwner,
	}))
	g.Expect(ing.Spec).To(Equal(networkingv1.IngressSpec{
		IngressClassName: ptr.To("nginx"),
		Rules: []networkingv1.IngressRule{{
			Host: "care-planner.north-riverside.care.example.org",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "care-planner", Port: networkingv1.ServiceBackendPort{Number: 8080},
					}},
				}},
			}},
		}},
	}))

	sa := typed[corev1.ServiceAccount](g, render.AppServiceAccount(tm))
	g.Expect(sa.ObjectMeta).To(Equal(metav1.ObjectMeta{
		Name: "buurt-apps", Namespace: "team-north-riverside", Labels: wantLabels, OwnerReferences: wantOwner,
	}))
	g.Expect(sa.AutomountServiceAccountToken).To(Equal(ptr.To(false)))
}

func TestSecretHash(t *testing.T) {
	g := NewWithT(t)
	data := map[string][]byte{"password": []byte("one"), "user": []byte("u")}
	hash := render.SecretHash(data)
	g.Expect(hash).To(HaveLen(16))
	g.Expect(hash).To(MatchRegexp("^[0-9a-f]{16}$"))
	same := maps.Clone(data)
	g.Expect(render.SecretHash(same)).To(Equal(hash), "the same data, the same hash")
	same["password"] = []byte("two")
	g.Expect(render.SecretHash(same)).NotTo(Equal(hash), "a new password, a new hash")
	// Keys and values are separated: moving a byte between them changes it.
	g.Expect(render.SecretHash(map[string][]byte{"ab": []byte("c")})).NotTo(Equal(render.SecretHash(map[string][]byte{"a": []byte("bc")})))
}
