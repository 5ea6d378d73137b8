package render

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// AppServiceAccountName is the ServiceAccount every app of a team runs as. It
// is bound to no role and its token is not mounted: apps need no access to
// the Kubernetes API.
const AppServiceAccountName = "buurt-apps"

// DatabaseSecretHashAnnotation on an app's pod template changes when the
// team's database Secret does, so a new password rolls every app that uses
// it. It holds a truncated hash, never anything of the Secret itself.
const DatabaseSecretHashAnnotation = "teams.buurt.dev/database-secret-hash" //nolint:gosec // an annotation's name

// appPortName names an app's container port; its Service targets it.
const appPortName = "http"

// AppSet is what a team runs: the blueprint's apps, then the team's own.
type AppSet struct {
	// Apps are deployed.
	Apps []teamsv1alpha1.App
	// NameConflicts are team apps with the name of a blueprint app; the
	// blueprint's app runs, the team's does not.
	NameConflicts []string
	// ImagesNotAllowed are apps whose image is under none of the
	// blueprint's allowedRegistries; they do not run.
	ImagesNotAllowed []teamsv1alpha1.App
	// NeedDatabase are apps that ask for the database of a team without
	// one; they do not run, as their pods could never start.
	NeedDatabase []string
}

// Apps decides which apps a team runs; hasDatabase is false for a team of
// database class None.
func Apps(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint, hasDatabase bool) AppSet {
	var set AppSet
	taken := map[string]bool{}
	for _, app := range blueprint.Spec.Apps {
		taken[app.Name] = true
	}
	all := slices.Clone(blueprint.Spec.Apps)
	for _, app := range team.Spec.Apps {
		if taken[app.Name] {
			set.NameConflicts = append(set.NameConflicts, app.Name)
			continue
		}
		all = append(all, app)
	}
	for _, app := range all {
		switch {
		case !ImageAllowed(blueprint, app.Image):
			set.ImagesNotAllowed = append(set.ImagesNotAllowed, app)
		case usesDatabase(app) && !hasDatabase:
			set.NeedDatabase = append(set.NeedDatabase, app.Name)
		default:
			set.Apps = append(set.Apps, app)
		}
	}
	return set
}

// ImageAllowed is true when the blueprint allows every image (it lists no
// registries) or image starts with one of its allowedRegistries, each of
// which ends in '/'.
func ImageAllowed(blueprint *teamsv1alpha1.TeamBlueprint, image string) bool {
	if len(blueprint.Spec.AllowedRegistries) == 0 {
		return true
	}
	for _, registry := range blueprint.Spec.AllowedRegistries {
		if strings.HasPrefix(image, registry) {
			return true
		}
	}
	return false
}

// AppLabels are on an app's Deployment, pods, Service and Ingress; buurt
// prunes apps by them.
func AppLabels(team *teamsv1alpha1.NeighbourhoodTeam, appName string) map[string]string {
	labels := AnyAppLabels(team)
	labels["app.kubernetes.io/name"] = appName
	return labels
}

// AnyAppLabels are the labels every app of the team carries.
func AnyAppLabels(team *teamsv1alpha1.NeighbourhoodTeam) map[string]string {
	labels := Labels(team)
	labels[teamsv1alpha1.ComponentLabel] = teamsv1alpha1.ComponentApp
	return labels
}

// appSelector selects an app's pods. It never changes: a Deployment's
// selector is immutable.
func appSelector(team *teamsv1alpha1.NeighbourhoodTeam, appName string) map[string]string {
	return map[string]string{teamsv1alpha1.TeamLabel: team.Name, "app.kubernetes.io/name": appName}
}

// AppServiceAccount is the identity of the team's apps.
func AppServiceAccount(team *teamsv1alpha1.NeighbourhoodTeam) *corev1ac.ServiceAccountApplyConfiguration {
	return corev1ac.ServiceAccount(AppServiceAccountName, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithAutomountServiceAccountToken(false)
}

// SecretHash is the value of DatabaseSecretHashAnnotation for a Secret's
// data: 16 hex digits of a SHA-256 over the sorted keys and values.
func SecretHash(data map[string][]byte) string {
	h := sha256.New()
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(data[k])
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// AppOptions are what a Deployment needs beyond the app itself.
type AppOptions struct {
	// Stopped scales an app that declares its replicas to zero, for a team
	// Dormant or Archived. An app that does not declare them is stopped,
	// and brought back, by the team's sleep (controllers/team/workloads.go),
	// as are the workloads the team made itself.
	Stopped bool
	// DatabaseSecretHash is the SecretHash of the team's database Secret,
	// for an app with database true; empty while the Secret does not exist.
	DatabaseSecretHash string
}

// Deployment runs an app in the team's namespace, restricted: not root, no
// privilege escalation, no capabilities, RuntimeDefault seccomp, no
// Kubernetes API token. With database true, the connection comes from the
// team's database Secret by reference. An app that declares replicas has
// them (none while stopped); one that does not leaves spec.replicas to
// whoever scales it (kubectl scale, an autoscaler), 1 when created.
func Deployment(team *teamsv1alpha1.NeighbourhoodTeam, app teamsv1alpha1.App, opts AppOptions) *appsv1ac.DeploymentApplyConfiguration {
	container := corev1ac.Container().
		WithName(app.Name).
		WithImage(app.Image).
		// A blueprint may require Always of every container in the namespace.
		WithImagePullPolicy(corev1.PullAlways).
		WithPorts(corev1ac.ContainerPort().WithName(appPortName).WithContainerPort(app.Port).WithProtocol(corev1.ProtocolTCP)).
		WithReadinessProbe(appProbe(app)).
		WithLivenessProbe(appProbe(app).WithInitialDelaySeconds(10).WithPeriodSeconds(20)).
		WithSecurityContext(restrictedContainer())
	for _, e := range app.Env {
		container.WithEnv(corev1ac.EnvVar().WithName(e.Name).WithValue(e.Value))
	}
	template := corev1ac.PodTemplateSpec().WithLabels(AppLabels(team, app.Name))
	if usesDatabase(app) {
		container.WithEnv(databaseEnv(team)...)
		if opts.DatabaseSecretHash != "" {
			template.WithAnnotations(map[string]string{DatabaseSecretHashAnnotation: opts.DatabaseSecretHash})
		}
	}
	if app.Resources != nil {
		container.WithResources(resources(app.Resources))
	}
	spec := appsv1ac.DeploymentSpec()
	if app.Replicas != nil {
		spec.WithReplicas(*app.Replicas)
		if opts.Stopped {
			spec.WithReplicas(0)
		}
	}
	return appsv1ac.Deployment(app.Name, team.NamespaceName()).
		WithLabels(AppLabels(team, app.Name)).
		WithOwnerReferences(ownerReference(team)).
		WithSpec(spec.
			WithRevisionHistoryLimit(3).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(appSelector(team, app.Name))).
			WithTemplate(template.WithSpec(corev1ac.PodSpec().
				WithServiceAccountName(AppServiceAccountName).
				WithAutomountServiceAccountToken(false).
				WithEnableServiceLinks(false).
				WithSecurityContext(corev1ac.PodSecurityContext().
					WithRunAsNonRoot(true).
					WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
				WithContainers(container))))
}

// usesDatabase is true for an app that asks for the team's database.
func usesDatabase(app teamsv1alpha1.App) bool {
	return app.Database != nil && *app.Database
}

// UsesDatabase is true when any of apps asks for the team's database.
func UsesDatabase(apps []teamsv1alpha1.App) bool {
	return slices.ContainsFunc(apps, usesDatabase)
}

// appProbe checks probePath over HTTP, or else that the port accepts
// connections.
func appProbe(app teamsv1alpha1.App) *corev1ac.ProbeApplyConfiguration {
	port := intstr.FromString(appPortName)
	if app.ProbePath != "" {
		return corev1ac.Probe().WithHTTPGet(corev1ac.HTTPGetAction().WithPath(app.ProbePath).WithPort(port))
	}
	return corev1ac.Probe().WithTCPSocket(corev1ac.TCPSocketAction().WithPort(port))
}

// databaseEnv is the team's connection, each variable a reference to a key of
// its database Secret: DATABASE_URL and what libpq reads.
func databaseEnv(team *teamsv1alpha1.NeighbourhoodTeam) []*corev1ac.EnvVarApplyConfiguration {
	secret := DatabaseSecretName(team)
	env := make([]*corev1ac.EnvVarApplyConfiguration, 0, 7)
	for _, v := range []struct{ name, key string }{
		{"DATABASE_URL", "uri"}, {"PGHOST", "host"}, {"PGPORT", "port"}, {"PGDATABASE", "dbname"},
		{"PGUSER", "user"}, {"PGPASSWORD", "password"}, {"PGSSLMODE", "sslmode"},
	} {
		env = append(env, corev1ac.EnvVar().WithName(v.name).WithValueFrom(corev1ac.EnvVarSource().
			WithSecretKeyRef(corev1ac.SecretKeySelector().WithName(secret).WithKey(v.key))))
	}
	return env
}

// AppService gives an app a stable address in the namespace, on its port.
func AppService(team *teamsv1alpha1.NeighbourhoodTeam, app teamsv1alpha1.App) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(app.Name, team.NamespaceName()).
		WithLabels(AppLabels(team, app.Name)).
		WithOwnerReferences(ownerReference(team)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(appSelector(team, app.Name)).
			WithPorts(corev1ac.ServicePort().WithName(appPortName).WithProtocol(corev1.ProtocolTCP).
				WithPort(app.Port).WithTargetPort(intstr.FromString(appPortName))))
}

// AppHost is where an app is reached, <app>.<team>.<domain>, or empty when
// the blueprint names no domain.
func AppHost(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint, app teamsv1alpha1.App) string {
	domain := TeamDomain(team, blueprint)
	if domain == "" {
		return ""
	}
	return app.Name + "." + domain
}

// TeamDomain is the domain every Ingress host of the team must be under,
// <team>.<domain>, or empty when the blueprint names no domain.
func TeamDomain(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) string {
	if blueprint.Spec.Ingress.Domain == "" {
		return ""
	}
	return team.Name + "." + blueprint.Spec.Ingress.Domain
}

// AppIngress routes AppHost to the app's Service, or is nil when the
// blueprint names no domain.
func AppIngress(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint, app teamsv1alpha1.App) *networkingv1ac.IngressApplyConfiguration {
	host := AppHost(team, blueprint, app)
	if host == "" {
		return nil
	}
	spec := networkingv1ac.IngressSpec().
		WithRules(networkingv1ac.IngressRule().
			WithHost(host).
			WithHTTP(networkingv1ac.HTTPIngressRuleValue().
				WithPaths(networkingv1ac.HTTPIngressPath().
					WithPath("/").
					WithPathType(networkingv1.PathTypePrefix).
					WithBackend(networkingv1ac.IngressBackend().
						WithService(networkingv1ac.IngressServiceBackend().
							WithName(app.Name).
							WithPort(networkingv1ac.ServiceBackendPort().WithNumber(app.Port)))))))
	if class := blueprint.Spec.Ingress.ClassName; class != "" {
		spec.WithIngressClassName(class)
	}
	return networkingv1ac.Ingress(app.Name, team.NamespaceName()).
		WithLabels(AppLabels(team, app.Name)).
		WithOwnerReferences(ownerReference(team)).
		WithSpec(spec)
}
