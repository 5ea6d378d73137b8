package render

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
)

// Names of the database objects in a team namespace.
const (
	DatabaseEgressPolicyName = "buurt-allow-database"
	// DedicatedDatabaseName names the StatefulSet and headless Service of a
	// Dedicated database.
	DedicatedDatabaseName = "postgres"
	postgresPort          = 5432
	postgresUID           = 999 // the postgres user of the official image
)

// DatabaseSecretName is the Secret that tells a team's apps how to connect.
func DatabaseSecretName(team *teamsv1alpha1.NeighbourhoodTeam) string {
	return team.Name + "-db"
}

// Connection is what a team's apps need to reach its database.
type Connection struct {
	Host, Port, DBName, User, Password, SSLMode string
}

// DatabaseSecret holds the team's connection. It is the source of truth for
// the password: the controller reuses what is here.
func DatabaseSecret(team *teamsv1alpha1.NeighbourhoodTeam, c Connection) *corev1ac.SecretApplyConfiguration {
	return corev1ac.Secret(DatabaseSecretName(team), team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithType(corev1.SecretTypeOpaque).
		WithData(map[string][]byte{
			"host":     []byte(c.Host),
			"port":     []byte(c.Port),
			"dbname":   []byte(c.DBName),
			"user":     []byte(c.User),
			"password": []byte(c.Password),
			"sslmode":  []byte(c.SSLMode),
			"uri":      []byte(database.URI(c.Host, c.Port, c.User, c.Password, c.DBName, c.SSLMode)),
		})
}

// DatabaseEgressPolicy lets the team's pods reach its shared database server
// on serverPort, or is nil when the blueprint says nothing of where it is.
func DatabaseEgressPolicy(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint, serverPort int32) *networkingv1ac.NetworkPolicyApplyConfiguration {
	egress := blueprint.Spec.Database.Shared.Egress
	if egress == nil {
		return nil
	}
	to := networkingv1ac.NetworkPolicyPeer()
	if egress.CIDR != "" {
		to.WithIPBlock(networkingv1ac.IPBlock().WithCIDR(egress.CIDR))
	} else {
		to = peer(*egress.Peer)
	}
	return networkPolicy(team, DatabaseEgressPolicyName, networkingv1ac.NetworkPolicySpec().
		WithPodSelector(metav1ac.LabelSelector()).
		WithPolicyTypes(networkingv1.PolicyTypeEgress).
		WithEgress(networkingv1ac.NetworkPolicyEgressRule().
			WithTo(to).
			WithPorts(port(corev1.ProtocolTCP, serverPort))))
}

// dedicatedLabels select a Dedicated database's pod.
func dedicatedLabels(team *teamsv1alpha1.NeighbourhoodTeam) map[string]string {
	labels := Labels(team)
	labels["app.kubernetes.io/name"] = DedicatedDatabaseName
	return labels
}

// DedicatedService is the headless Service of a Dedicated database.
func DedicatedService(team *teamsv1alpha1.NeighbourhoodTeam) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(DedicatedDatabaseName, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithSpec(corev1ac.ServiceSpec().
			WithClusterIP(corev1.ClusterIPNone).
			WithSelector(dedicatedLabels(team)).
			WithPorts(corev1ac.ServicePort().WithName("postgres").WithPort(postgresPort).
				WithTargetPort(intstr.FromString("postgres"))))
}

// DedicatedHost is the host name apps use for a Dedicated database.
func DedicatedHost(team *teamsv1alpha1.NeighbourhoodTeam) string {
	return DedicatedDatabaseName + "." + team.NamespaceName() + ".svc"
}

// DedicatedPort is the port of a Dedicated database.
var DedicatedPort = strconv.Itoa(postgresPort)

// DedicatedStatefulSet runs the team's own PostgreSQL: one replica, its data
// on a volume from the blueprint's size and class, its password from the
// team's database Secret, restricted like every team pod.
func DedicatedStatefulSet(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) *appsv1ac.StatefulSetApplyConfiguration {
	dedicated := blueprint.Spec.Database.Dedicated
	if dedicated == nil {
		dedicated = &teamsv1alpha1.DedicatedDatabase{}
	}
	size := resource.MustParse("1Gi")
	if dedicated.StorageSize != nil {
		size = *dedicated.StorageSize
	}
	image := dedicated.Image
	if image == "" {
		image = "postgres:17"
	}
	secret := DatabaseSecretName(team)
	fromSecret := func(name, key string) *corev1ac.EnvVarApplyConfiguration {
		return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
			WithSecretKeyRef(corev1ac.SecretKeySelector().WithName(secret).WithKey(key)))
	}
	container := corev1ac.Container().
		WithName("postgres").
		WithImage(image).
		WithPorts(corev1ac.ContainerPort().WithName("postgres").WithContainerPort(postgresPort)).
		WithEnv(
			fromSecret("POSTGRES_USER", "user"),
			fromSecret("POSTGRES_PASSWORD", "password"),
			fromSecret("POSTGRES_DB", "dbname"),
			corev1ac.EnvVar().WithName("PGDATA").WithValue("/var/lib/postgresql/data/pgdata"),
		).
		WithVolumeMounts(
			corev1ac.VolumeMount().WithName("data").WithMountPath("/var/lib/postgresql/data"),
			corev1ac.VolumeMount().WithName("run").WithMountPath("/var/run/postgresql"),
		).
		WithReadinessProbe(corev1ac.Probe().WithExec(corev1ac.ExecAction().
			WithCommand("pg_isready", "-h", "127.0.0.1", "-p", DedicatedPort))).
		WithSecurityContext(restrictedContainer())
	if res := dedicated.Resources; res != nil {
		r := corev1ac.ResourceRequirements()
		if len(res.Requests) > 0 {
			r.WithRequests(res.Requests)
		}
		if len(res.Limits) > 0 {
			r.WithLimits(res.Limits)
		}
		container.WithResources(r)
	}
	claim := corev1ac.PersistentVolumeClaimSpec().
		WithAccessModes(corev1.ReadWriteOnce).
		WithResources(corev1ac.VolumeResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceStorage: size}))
	if dedicated.StorageClassName != "" {
		claim.WithStorageClassName(dedicated.StorageClassName)
	}
	return appsv1ac.StatefulSet(DedicatedDatabaseName, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithSpec(appsv1ac.StatefulSetSpec().
			WithReplicas(1).
			WithServiceName(DedicatedDatabaseName).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(dedicatedLabels(team))).
			// Deleting the team must not delete the data with it; the
			// controller decides by the reclaim policy.
			WithPersistentVolumeClaimRetentionPolicy(appsv1ac.StatefulSetPersistentVolumeClaimRetentionPolicy().
				WithWhenDeleted(appsv1.RetainPersistentVolumeClaimRetentionPolicyType).
				WithWhenScaled(appsv1.RetainPersistentVolumeClaimRetentionPolicyType)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(dedicatedLabels(team)).
				WithSpec(corev1ac.PodSpec().
					WithAutomountServiceAccountToken(false).
					WithEnableServiceLinks(false).
					WithSecurityContext(corev1ac.PodSecurityContext().
						WithRunAsNonRoot(true).
						WithRunAsUser(postgresUID).
						WithFSGroup(postgresUID).
						WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
					WithContainers(container).
					WithVolumes(corev1ac.Volume().WithName("run").WithEmptyDir(corev1ac.EmptyDirVolumeSource())))).
			WithVolumeClaimTemplates(corev1ac.PersistentVolumeClaim("data", "").
				WithLabels(Labels(team)).
				WithSpec(claim)))
}

// restrictedContainer is the container security context the restricted Pod
// Security Standard asks for.
func restrictedContainer() *corev1ac.SecurityContextApplyConfiguration {
	return corev1ac.SecurityContext().
		WithAllowPrivilegeEscalation(false).
		WithRunAsNonRoot(true).
		WithCapabilities(corev1ac.Capabilities().WithDrop(corev1.Capability("ALL"))).
		WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))
}
