package render_test

import (
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

func TestDatabaseSecret(t *testing.T) {
	g := NewWithT(t)
	got := typed[corev1.Secret](g, render.DatabaseSecret(team(user("anna")), render.Connection{
		Host: "pg.example.org", Port: "5432", DBName: "buurt_north_riverside", User: "buurt_north_riverside",
		Password: "s3cr3t/with+chars", SSLMode: "require",
	}))
	g.Expect(got.ObjectMeta).To(Equal(metav1.ObjectMeta{
		Name: "north-riverside-db", Namespace: "team-north-riverside", Labels: wantLabels, OwnerReferences: wantOwner,
	}))
	g.Expect(got.Type).To(Equal(corev1.SecretTypeOpaque))
	g.Expect(got.Data).To(Equal(map[string][]byte{
		"host":     []byte("pg.example.org"),
		"port":     []byte("5432"),
		"dbname":   []byte("buurt_north_riverside"),
		"user":     []byte("buurt_north_riverside"),
		"password": []byte("s3cr3t/with+chars"),
		"sslmode":  []byte("require"),
		"uri":      []byte("postgres://buurt_north_riverside:s3cr3t%2Fwith+chars@pg.example.org:5432/buurt_north_riverside?sslmode=require"),
	}))
}

func TestDedicatedDatabase(t *testing.T) {
	g := NewWithT(t)
	bp := blueprint()
	bp.Spec.Database = teamsv1alpha1.BlueprintDatabase{
		Class: teamsv1alpha1.DatabaseClassDedicated,
		Dedicated: &teamsv1alpha1.DedicatedDatabase{
			Image: "registry.example.org/care/postgres:17", StorageSize: ptr.To(resource.MustParse("5Gi")), StorageClassName: "fast",
		},
	}
	tm := team(user("anna"))
	selector := map[string]string{
		"teams.buurt.dev/team": "north-riverside", "app.kubernetes.io/managed-by": "buurt", "app.kubernetes.io/name": "buurt-postgres",
		"teams.buurt.dev/component": "database",
	}

	svc := typed[corev1.Service](g, render.DedicatedService(tm))
	g.Expect(svc.ObjectMeta).To(Equal(metav1.ObjectMeta{
		Name: "buurt-postgres", Namespace: "team-north-riverside", Labels: wantLabels, OwnerReferences: wantOwner,
	}))
	g.Expect(svc.Spec).To(Equal(corev1.ServiceSpec{
		ClusterIP: "None",
		Selector:  selector,
		Ports:     []corev1.ServicePort{{Name: "postgres", Port: 5432, TargetPort: intstr.FromString("postgres")}},
	}))
	g.Expect(render.DedicatedHost(tm)).To(Equal("buurt-postgres.team-north-riverside.svc"))

	sts := typed[appsv1.StatefulSet](g, render.DedicatedStatefulSet(tm, bp, "6d1f0c3e-uid", render.DedicatedStorage(bp), false))
	g.Expect(sts.ObjectMeta).To(Equal(metav1.ObjectMeta{
		Name: "buurt-postgres", Namespace: "team-north-riverside", Labels: wantLabels, OwnerReferences: wantOwner,
	}))
	g.Expect(sts.Spec.Replicas).To(Equal(ptr.To[int32](1)))
	// Dormant or Archived: no replica, the same claim template (the volume
	// stays, and is kept when scaled: WhenScaled Retain below).
	stopped := typed[appsv1.StatefulSet](g, render.DedicatedStatefulSet(tm, bp, "6d1f0c3e-uid", render.DedicatedStorage(bp), true))
	g.Expect(stopped.Spec.Replicas).To(Equal(ptr.To[int32](0)))
	g.Expect(stopped.Spec.VolumeClaimTemplates).To(Equal(sts.Spec.VolumeClaimTemplates))
	g.Expect(sts.Spec.ServiceName).To(Equal("buurt-postgres"))
	g.Expect(sts.Spec.Selector).To(Equal(&metav1.LabelSelector{MatchLabels: selector}))
	g.Expect(sts.Spec.PersistentVolumeClaimRetentionPolicy).To(Equal(&appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
	}))
	g.Expect(sts.Spec.Template.Labels).To(Equal(selector))
	g.Expect(sts.Spec.Template.Annotations).To(Equal(map[string]string{ //nolint:gosec // a UID, not a credential
		"teams.buurt.dev/database-secret-uid": "6d1f0c3e-uid",
	}))
	pod := sts.Spec.Template.Spec
	g.Expect(pod.AutomountServiceAccountToken).To(Equal(ptr.To(false)))
	g.Expect(pod.SecurityContext).To(Equal(&corev1.PodSecurityContext{
		RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](999), FSGroup: ptr.To[int64](999),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}))
	g.Expect(pod.Containers).To(HaveLen(1))
	c := pod.Containers[0]
	g.Expect(c.Image).To(Equal("registry.example.org/care/postgres:17"))
	g.Expect(c.ImagePullPolicy).To(Equal(corev1.PullAlways))
	g.Expect(c.SecurityContext).To(Equal(&corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false), RunAsNonRoot: ptr.To(true),
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}))
	secretRef := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "north-riverside-db"}, Key: key,
		}}
	}
	g.Expect(c.Env).To(Equal([]corev1.EnvVar{
		{Name: "POSTGRES_USER", ValueFrom: secretRef("user")},
		{Name: "POSTGRES_PASSWORD", ValueFrom: secretRef("password")},
		{Name: "POSTGRES_DB", ValueFrom: secretRef("dbname")},
		{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"},
	}))
	g.Expect(c.Lifecycle).To(Equal(&corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{
		Exec: &corev1.ExecAction{Command: []string{"sh", "-c", render.SyncPasswordScript}},
	}}))
	g.Expect(sts.Spec.VolumeClaimTemplates).To(HaveLen(1))
	claim := sts.Spec.VolumeClaimTemplates[0]
	g.Expect(claim.Name).To(Equal("data"))
	g.Expect(claim.Labels).To(Equal(selector))
	g.Expect(claim.Spec.AccessModes).To(Equal([]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}))
	g.Expect(claim.Spec.StorageClassName).To(Equal(ptr.To("fast")))
	storage := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	g.Expect(storage.String()).To(Equal("5Gi"))
}
