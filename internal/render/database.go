package render

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
)

// Names of the database objects in a team namespace.
const (
	// DedicatedDatabaseName names the StatefulSet and headless Service of a
	// Dedicated database.
	DedicatedDatabaseName = "buurt-postgres"
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

// dedicatedLabels select a Dedicated database's pod.
func dedicatedLabels(team *teamsv1alpha1.NeighbourhoodTeam) map[string]string {
	labels := Labels(team)
	labels["app.kubernetes.io/name"] = DedicatedDatabaseName
	labels[teamsv1alpha1.ComponentLabel] = teamsv1alpha1.ComponentDatabase
	return labels
}

// DatabaseSecretUIDAnnotation on a Dedicated database's pod template holds
// the UID of the database Secret it was started with and, once its password
// was rotated, the time of the last rotation: a Secret deleted to rotate the
// password is made anew with a new UID, a rotation changes the time, either
// restarts the pod, and SyncPasswordScript sets the new password.
const DatabaseSecretUIDAnnotation = "teams.buurt.dev/database-secret-uid" //nolint:gosec // an annotation's name

// SyncPasswordScript runs after a Dedicated database's container starts. The
// image sets POSTGRES_PASSWORD only when it first makes the data directory;
// this sets it on every start, so that the Secret stays the source of truth.
// It waits for the server on TCP (the image's first-start server listens on
// the socket only), then connects through the local socket, which the image
// trusts. psql quotes the password as a literal (:'password'); it is never
// part of the command line.
//
//nolint:gosec // it reads a password from the environment; it holds none
const SyncPasswordScript = `for i in $(seq 120); do
  if pg_isready -q -h 127.0.0.1; then
    printf '%s\n' "ALTER ROLE CURRENT_USER PASSWORD :'password';" |
      psql -v ON_ERROR_STOP=1 -q -v password="$POSTGRES_PASSWORD" -U "$POSTGRES_USER" -d postgres && exit 0
  fi
  sleep 1
done
echo "buurt: could not set the password from the database Secret" >&2
exit 1
`

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

// Storage is the volume a Dedicated database asks for.
type Storage struct {
	Size resource.Quantity
	// ClassName is empty for the cluster's default storage class.
	ClassName string
}

// DedicatedStorage is the volume the blueprint asks for: 1Gi of the default
// class unless it says otherwise. A StatefulSet's claim template cannot
// change, so an existing database keeps the storage it was made with.
func DedicatedStorage(blueprint *teamsv1alpha1.TeamBlueprint) Storage {
	storage := Storage{Size: resource.MustParse("1Gi")}
	if dedicated := blueprint.Spec.Database.Dedicated; dedicated != nil {
		if dedicated.StorageSize != nil {
			storage.Size = *dedicated.StorageSize
		}
		storage.ClassName = dedicated.StorageClassName
	}
	return storage
}

// DedicatedHost is the host name apps use for a Dedicated database.
func DedicatedHost(team *teamsv1alpha1.NeighbourhoodTeam) string {
	return DedicatedDatabaseName + "." + team.NamespaceName() + ".svc"
}

// DedicatedPort is the port of a Dedicated database.
var DedicatedPort = strconv.Itoa(postgresPort)

// DedicatedStatefulSet runs the team's own PostgreSQL: one replica (none
// while stopped: Dormant or Archived; the volume stays), its data on a
// volume of storage, its password from the team's database Secret
// (restartKey: its UID, and the time of its last rotation), restricted like
// every team pod.
func DedicatedStatefulSet(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint, restartKey string, storage Storage, stopped bool) *appsv1ac.StatefulSetApplyConfiguration {
	dedicated := blueprint.Spec.Database.Dedicated
	if dedicated == nil {
		dedicated = &teamsv1alpha1.DedicatedDatabase{}
	}
	image := dedicated.Image
	if image == "" {
		image = "postgres:17"
	}
	replicas := int32(1)
	if stopped {
		replicas = 0
	}
	secret := DatabaseSecretName(team)
	fromSecret := func(name, key string) *corev1ac.EnvVarApplyConfiguration {
		return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
			WithSecretKeyRef(corev1ac.SecretKeySelector().WithName(secret).WithKey(key)))
	}
	container := corev1ac.Container().
		WithName("postgres").
		WithImage(image).
		// A blueprint may require Always of every container in the namespace.
		WithImagePullPolicy(corev1.PullAlways).
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
		WithLifecycle(corev1ac.Lifecycle().WithPostStart(corev1ac.LifecycleHandler().
			WithExec(corev1ac.ExecAction().WithCommand("sh", "-c", SyncPasswordScript)))).
		WithSecurityContext(restrictedContainer())
	if dedicated.Resources != nil {
		container.WithResources(resources(dedicated.Resources))
	}
	claim := corev1ac.PersistentVolumeClaimSpec().
		WithAccessModes(corev1.ReadWriteOnce).
		WithResources(corev1ac.VolumeResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceStorage: storage.Size}))
	if storage.ClassName != "" {
		claim.WithStorageClassName(storage.ClassName)
	}
	return appsv1ac.StatefulSet(DedicatedDatabaseName, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithSpec(appsv1ac.StatefulSetSpec().
			WithReplicas(replicas).
			WithServiceName(DedicatedDatabaseName).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(dedicatedLabels(team))).
			// Deleting the team must not delete the data with it; the
			// controller decides by the reclaim policy.
			WithPersistentVolumeClaimRetentionPolicy(appsv1ac.StatefulSetPersistentVolumeClaimRetentionPolicy().
				WithWhenDeleted(appsv1.RetainPersistentVolumeClaimRetentionPolicyType).
				WithWhenScaled(appsv1.RetainPersistentVolumeClaimRetentionPolicyType)).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(dedicatedLabels(team)).
				WithAnnotations(map[string]string{DatabaseSecretUIDAnnotation: restartKey}).
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
			// The claims carry the team's labels, so that the controller
			// finds them and keeps their volumes by the reclaim policy.
			WithVolumeClaimTemplates(corev1ac.PersistentVolumeClaim("data", "").
				WithLabels(dedicatedLabels(team)).
				WithSpec(claim)))
}

// resources are a container's requests and limits, as far as res sets them.
func resources(res *teamsv1alpha1.Resources) *corev1ac.ResourceRequirementsApplyConfiguration {
	r := corev1ac.ResourceRequirements()
	if len(res.Requests) > 0 {
		r.WithRequests(res.Requests)
	}
	if len(res.Limits) > 0 {
		r.WithLimits(res.Limits)
	}
	return r
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
