package team_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

func deployment(g Gomega, namespace, name string) *appsv1.Deployment {
	d := &appsv1.Deployment{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, d)).To(Succeed())
	return d
}

// markAvailable does what the Deployment controller would (envtest runs
// none): every replica the Deployment wants is updated and available.
func markAvailable(t *testing.T, namespace, name string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		d := deployment(g, namespace, name)
		want := *d.Spec.Replicas
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: want, UpdatedReplicas: want, ReadyReplicas: want, AvailableReplicas: want,
		}
		g.Expect(env.Client.Status().Update(context.Background(), d)).To(Succeed())
	}).WithTimeout(timeout).Should(Succeed())
}

func gone(g Gomega, obj client.Object) {
	g.Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj))
	}).WithTimeout(timeout).Should(BeTrue(), "%T %s is gone", obj, obj.GetName())
}

func appsBlueprint(name, adminSecretName string) *teamsv1alpha1.TeamBlueprint {
	bp := sharedBlueprint(name, adminSecretName)
	bp.Spec.Ingress = teamsv1alpha1.Ingress{Domain: "care.example.org"}
	bp.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	bp.Spec.Apps = []teamsv1alpha1.App{{
		Name: "care-planner", Image: "registry.example.org/care/planner:1.4.2", Port: 8080, Database: ptr.To(true), ProbePath: "/healthz",
	}}
	return bp
}

func TestApps(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, adminSecret("pg-admin-apps", pg.Password))
	create(t, appsBlueprint("apps", "pg-admin-apps"))
	tm := newTeam("apps-one", "apps", user("anna"))
	tm.Spec.Apps = []teamsv1alpha1.App{{
		Name: "rota", Image: "registry.example.org/care/rota:2.0.1", Port: 9000, Replicas: ptr.To[int32](2),
		Env: []teamsv1alpha1.EnvVar{{Name: "TZ", Value: "Europe/Amsterdam"}},
	}}
	create(t, tm)
	const ns = "team-apps-one"

	tm = eventuallyCondition(t, "apps-one", teamsv1alpha1.AppsReadyCondition, metav1.ConditionFalse, teamsv1alpha1.AppsUnavailableReason)
	g.Expect(cond(tm, teamsv1alpha1.AppsReadyCondition).Message).To(Equal("Not yet available: care-planner, rota"))
	g.Expect(tm.Status.Apps).To(Equal([]teamsv1alpha1.AppStatus{
		{Name: "care-planner", DesiredReplicas: 1, URL: "http://care-planner.apps-one.care.example.org"},
		{Name: "rota", DesiredReplicas: 2, URL: "http://rota.apps-one.care.example.org"},
	}))
	secret := dbSecret(g, "apps-one")

	planner := deployment(g, ns, "care-planner")
	labels := func(app string) map[string]string {
		return map[string]string{
			"teams.buurt.dev/team": "apps-one", "app.kubernetes.io/managed-by": "buurt",
			"app.kubernetes.io/name": app, "teams.buurt.dev/component": "app",
		}
	}
	g.Expect(planner.Labels).To(Equal(labels("care-planner")))
	g.Expect(planner.OwnerReferences).To(Equal(ownedBy(tm)))
	g.Expect(planner.Spec.Replicas).To(Equal(ptr.To[int32](1)))
	g.Expect(planner.Spec.Selector.MatchLabels).To(Equal(map[string]string{"teams.buurt.dev/team": "apps-one", "app.kubernetes.io/name": "care-planner"}))
	g.Expect(planner.Spec.Template.Labels).To(Equal(labels("care-planner")))
	g.Expect(planner.Spec.Template.Annotations).To(Equal(map[string]string{
		"teams.buurt.dev/database-secret-hash": render.SecretHash(secret.Data),
	}))
	pod := planner.Spec.Template.Spec
	g.Expect(pod.ServiceAccountName).To(Equal("buurt-apps"))
	g.Expect(pod.AutomountServiceAccountToken).To(Equal(ptr.To(false)))
	g.Expect(pod.SecurityContext).To(Equal(&corev1.PodSecurityContext{
		RunAsNonRoot: ptr.To(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}))
	g.Expect(pod.Containers).To(HaveLen(1))
	c := pod.Containers[0]
	g.Expect(c.Image).To(Equal("registry.example.org/care/planner:1.4.2"))
	g.Expect(c.SecurityContext).To(Equal(&corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false), RunAsNonRoot: ptr.To(true),
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}))
	ref := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "apps-one-db"}, Key: key,
		}}
	}
	g.Expect(c.Env).To(Equal([]corev1.EnvVar{
		{Name: "DATABASE_URL", ValueFrom: ref("uri")}, {Name: "PGHOST", ValueFrom: ref("host")},
		{Name: "PGPORT", ValueFrom: ref("port")}, {Name: "PGDATABASE", ValueFrom: ref("dbname")},
		{Name: "PGUSER", ValueFrom: ref("user")}, {Name: "PGPASSWORD", ValueFrom: ref("password")},
		{Name: "PGSSLMODE", ValueFrom: ref("sslmode")},
	}))
	g.Expect(c.ReadinessProbe.HTTPGet).To(Equal(&corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}))

	rota := deployment(g, ns, "rota")
	g.Expect(rota.Spec.Replicas).To(Equal(ptr.To[int32](2)))
	g.Expect(rota.Spec.Template.Annotations).To(BeEmpty(), "rota does not use the database")
	g.Expect(rota.Spec.Template.Spec.Containers[0].Env).To(Equal([]corev1.EnvVar{{Name: "TZ", Value: "Europe/Amsterdam"}}))
	g.Expect(rota.Spec.Template.Spec.Containers[0].ReadinessProbe.TCPSocket).To(Equal(&corev1.TCPSocketAction{Port: intstr.FromString("http")}))

	svc := &corev1.Service{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "rota"}, svc)).To(Succeed())
	g.Expect(svc.Labels).To(Equal(labels("rota")))
	g.Expect(svc.OwnerReferences).To(Equal(ownedBy(tm)))
	g.Expect(svc.Spec.Selector).To(Equal(map[string]string{"teams.buurt.dev/team": "apps-one", "app.kubernetes.io/name": "rota"}))
	g.Expect(svc.Spec.Ports).To(Equal([]corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 9000, TargetPort: intstr.FromString("http")}}))
	ing := &networkingv1.Ingress{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "rota"}, ing)).To(Succeed())
	g.Expect(ing.Labels).To(Equal(labels("rota")))
	g.Expect(ing.OwnerReferences).To(Equal(ownedBy(tm)))
	g.Expect(ing.Spec.Rules).To(HaveLen(1))
	g.Expect(ing.Spec.Rules[0].Host).To(Equal("rota.apps-one.care.example.org"))
	g.Expect(ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service).To(Equal(&networkingv1.IngressServiceBackend{
		Name: "rota", Port: networkingv1.ServiceBackendPort{Number: 9000},
	}))
	sa := &corev1.ServiceAccount{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "buurt-apps"}, sa)).To(Succeed())
	g.Expect(sa.AutomountServiceAccountToken).To(Equal(ptr.To(false)))

	// Available: the roll-up is Ready.
	markAvailable(t, ns, "care-planner")
	markAvailable(t, ns, "rota")
	tm = eventuallyCondition(t, "apps-one", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)
	g.Expect(cond(tm, teamsv1alpha1.AppsReadyCondition)).To(And(
		HaveField("Status", metav1.ConditionTrue), HaveField("Reason", teamsv1alpha1.AppsAvailableReason),
		HaveField("Message", "All 2 apps are available")))
	g.Expect(tm.Status.Apps[1]).To(Equal(teamsv1alpha1.AppStatus{
		Name: "rota", DesiredReplicas: 2, AvailableReplicas: 2, URL: "http://rota.apps-one.care.example.org",
	}))
	g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseActive))

	// An edit rolls the app.
	edit(t, tm, func() { tm.Spec.Apps[0].Image = "registry.example.org/care/rota:2.1.0" })
	g.Eventually(func(g Gomega) {
		g.Expect(deployment(g, ns, "rota").Spec.Template.Spec.Containers[0].Image).To(Equal("registry.example.org/care/rota:2.1.0"))
	}).WithTimeout(timeout).Should(Succeed())
	eventuallyCondition(t, "apps-one", teamsv1alpha1.AppsReadyCondition, metav1.ConditionFalse, teamsv1alpha1.AppsUnavailableReason)
	markAvailable(t, ns, "rota")

	// A new password rolls the app that uses the database, and only it.
	g.Expect(env.Client.Delete(ctx, secret)).To(Succeed())
	g.Eventually(func(g Gomega) {
		fresh := dbSecret(g, "apps-one")
		g.Expect(fresh.UID).NotTo(Equal(secret.UID))
		g.Expect(fresh.Data["password"]).NotTo(Equal(secret.Data["password"]))
		g.Expect(deployment(g, ns, "care-planner").Spec.Template.Annotations).To(Equal(map[string]string{
			"teams.buurt.dev/database-secret-hash": render.SecretHash(fresh.Data),
		}))
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(deployment(g, ns, "care-planner").Spec.Template.Annotations).NotTo(Equal(planner.Spec.Template.Annotations))
	g.Expect(deployment(g, ns, "rota").Spec.Template.Annotations).To(BeEmpty())
	markAvailable(t, ns, "care-planner")

	// Dormant: every app to zero, the phase says so; Active brings them back.
	edit(t, tm, func() { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleDormant })
	g.Eventually(func(g Gomega) {
		g.Expect(deployment(g, ns, "care-planner").Spec.Replicas).To(Equal(ptr.To[int32](0)))
		g.Expect(deployment(g, ns, "rota").Spec.Replicas).To(Equal(ptr.To[int32](0)))
	}).WithTimeout(timeout).Should(Succeed())
	markAvailable(t, ns, "care-planner")
	markAvailable(t, ns, "rota")
	tm = eventuallyCondition(t, "apps-one", teamsv1alpha1.AppsReadyCondition, metav1.ConditionTrue, teamsv1alpha1.DormantReason)
	g.Expect(cond(tm, teamsv1alpha1.AppsReadyCondition).Message).To(Equal("The team is Dormant: its 2 apps are scaled to zero and its CronJobs suspended"))
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseDormant))
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(dbSecret(g, "apps-one").Data).To(HaveKey("password"), "the database stays")
	edit(t, tm, func() { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleActive })
	g.Eventually(func(g Gomega) {
		g.Expect(deployment(g, ns, "care-planner").Spec.Replicas).To(Equal(ptr.To[int32](1)))
		g.Expect(deployment(g, ns, "rota").Spec.Replicas).To(Equal(ptr.To[int32](2)))
	}).WithTimeout(timeout).Should(Succeed())

	// An app removed is pruned: its Deployment, Service and Ingress.
	edit(t, tm, func() { tm.Spec.Apps = nil })
	gone(g, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rota"}})
	gone(g, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rota"}})
	gone(g, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rota"}})
	deployment(g, ns, "care-planner")
}

func TestAppsThatMayNotRun(t *testing.T) {
	g := NewWithT(t)
	bp := designBlueprint("apps-guarded")
	bp.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	bp.Spec.Apps = []teamsv1alpha1.App{{Name: "care-planner", Image: "registry.example.org/care/planner:1.4.2", Port: 8080}}
	create(t, bp)
	tm := newTeam("apps-guarded", "apps-guarded", user("anna"))
	tm.Spec.Apps = []teamsv1alpha1.App{
		{Name: "miner", Image: "docker.io/evil/miner:1", Port: 80},
		{Name: "care-planner", Image: "registry.example.org/care/planner:0.9", Port: 80},
		{Name: "reports", Image: "registry.example.org/care/reports:1", Port: 80, Database: ptr.To(true)},
		{Name: "rota", Image: "registry.example.org/care/rota:2.0.1", Port: 8080},
	}
	create(t, tm)
	const ns = "team-apps-guarded"

	tm = eventuallyCondition(t, "apps-guarded", teamsv1alpha1.AppsReadyCondition, metav1.ConditionFalse, teamsv1alpha1.ImageNotAllowedReason)
	g.Expect(cond(tm, teamsv1alpha1.AppsReadyCondition).Message).To(Equal(
		"App miner is not deployed: its image docker.io/evil/miner:1 is under none of the blueprint's allowedRegistries; " +
			"the team's app care-planner is not deployed: the blueprint has an app of that name; rename the team's; " +
			"app reports is not deployed: it asks for the database and the team has none (class None)"))
	g.Eventually(func(g Gomega) {
		g.Expect(deployment(g, ns, "rota").Spec.Template.Spec.Containers[0].Image).To(Equal("registry.example.org/care/rota:2.0.1"))
		g.Expect(deployment(g, ns, "care-planner").Spec.Template.Spec.Containers[0].Image).To(Equal("registry.example.org/care/planner:1.4.2"))
	}).WithTimeout(timeout).Should(Succeed())
	for _, name := range []string{"miner", "reports"} {
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &appsv1.Deployment{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no Deployment %s: %v", name, err)
	}
	g.Expect(tm.Status.Apps).To(Equal([]teamsv1alpha1.AppStatus{
		{Name: "care-planner", DesiredReplicas: 1}, {Name: "rota", DesiredReplicas: 1},
	}))

	// The blueprint stops allowing a registry that a running app comes from:
	// the app stops.
	edit(t, bp, func() {
		bp.Spec.Apps = nil
		bp.Spec.AllowedRegistries = []string{"registry.example.org/rota-only/"}
	})
	gone(g, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rota"}})
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		g.Expect(cond(tm, teamsv1alpha1.AppsReadyCondition).Message).To(Equal(
			"App miner is not deployed: its image docker.io/evil/miner:1 is under none of the blueprint's allowedRegistries; " +
				"app care-planner is not deployed: its image registry.example.org/care/planner:0.9 is under none of the blueprint's allowedRegistries; " +
				"app reports is not deployed: its image registry.example.org/care/reports:1 is under none of the blueprint's allowedRegistries; " +
				"app rota is not deployed: its image registry.example.org/care/rota:2.0.1 is under none of the blueprint's allowedRegistries"))
	}).WithTimeout(timeout).Should(Succeed())
}
