package team_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/controllers/team"
	"github.com/buurt-dev/buurt/internal/render"
)

func dedicatedBlueprint(name string) *teamsv1alpha1.TeamBlueprint {
	bp := designBlueprint(name)
	bp.Spec.Database = teamsv1alpha1.BlueprintDatabase{
		Class:         teamsv1alpha1.DatabaseClassDedicated,
		ReclaimPolicy: teamsv1alpha1.ReclaimPolicyRetain,
		Dedicated: &teamsv1alpha1.DedicatedDatabase{
			Image: "registry.example.org/care/postgres:17", StorageSize: ptr.To(resource.MustParse("5Gi")), StorageClassName: "fast",
		},
	}
	return bp
}

// bindVolume does what the StatefulSet and volume controllers would (envtest
// runs neither): make the database's claim and bind a volume to it, whose
// own reclaim policy is Delete, as dynamic provisioning makes them.
func bindVolume(t *testing.T, teamName string) *corev1.PersistentVolume {
	g := NewWithT(t)
	ctx := context.Background()
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-" + teamName, Name: "data-buurt-postgres-0", Labels: map[string]string{
			"teams.buurt.dev/team": teamName, "app.kubernetes.io/managed-by": "buurt", "app.kubernetes.io/name": "buurt-postgres",
			"teams.buurt.dev/component": "database",
		}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}},
			VolumeName:  "pv-" + teamName,
		},
	}
	create(t, claim)
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-" + teamName},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data/" + teamName}},
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID,
			},
		},
	}
	create(t, pv)
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pv), pv)).To(Succeed())
	return pv
}

func eventuallyReclaimPolicy(g Gomega, name string, policy corev1.PersistentVolumeReclaimPolicy, annotations map[string]string) {
	g.Eventually(func(g Gomega) {
		pv := &corev1.PersistentVolume{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: name}, pv)).To(Succeed())
		g.Expect(pv.Spec.PersistentVolumeReclaimPolicy).To(Equal(policy))
		g.Expect(pv.Annotations).To(Equal(annotations))
	}).WithTimeout(timeout).Should(Succeed())
}

func statefulSet(g Gomega, teamName string) *appsv1.StatefulSet {
	sts := &appsv1.StatefulSet{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: "team-" + teamName, Name: "buurt-postgres"}, sts)).To(Succeed())
	return sts
}

func expectEvent(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam, reason, note string) {
	g.Eventually(func(g Gomega) {
		events := &eventsv1.EventList{}
		g.Expect(env.Client.List(context.Background(), events)).To(Succeed())
		var notes []string
		for _, e := range events.Items {
			if e.Regarding.UID == tm.UID && e.Reason == reason {
				notes = append(notes, e.Note)
			}
		}
		g.Expect(notes).To(ContainElement(note))
	}).WithTimeout(timeout).Should(Succeed())
}

func TestDedicatedDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := dedicatedBlueprint("dedicated")
	create(t, bp)
	tm := newTeam("dedicated-one", "dedicated", user("anna"))
	create(t, tm)

	tm = eventuallyCondition(t, "dedicated-one", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.ProvisioningReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal("The team's PostgreSQL is starting"))
	g.Expect(tm.Status.Database).To(Equal(&teamsv1alpha1.TeamDatabaseStatus{
		Class: teamsv1alpha1.DatabaseClassDedicated, Name: "buurt_dedicated_one", SecretName: "dedicated-one-db",
	}))
	g.Expect(tm.Finalizers).To(ContainElement(team.DatabaseFinalizer))

	secret := dbSecret(g, "dedicated-one")
	password := string(secret.Data["password"])
	g.Expect(len(password)).To(BeNumerically(">=", 40))
	g.Expect(secret.Labels).To(Equal(childLabels("dedicated-one")))
	g.Expect(secret.OwnerReferences).To(Equal(ownedBy(tm)))
	g.Expect(secret.Data).To(Equal(map[string][]byte{
		"host": []byte("buurt-postgres.team-dedicated-one.svc"), "port": []byte("5432"),
		"dbname": []byte("buurt_dedicated_one"), "user": []byte("buurt_dedicated_one"),
		"password": []byte(password), "sslmode": []byte("disable"),
		"uri": []byte("postgres://buurt_dedicated_one:" + password + "@buurt-postgres.team-dedicated-one.svc:5432/buurt_dedicated_one?sslmode=disable"),
	}))

	selector := map[string]string{
		"teams.buurt.dev/team": "dedicated-one", "app.kubernetes.io/managed-by": "buurt",
		"app.kubernetes.io/name": "buurt-postgres", "teams.buurt.dev/component": "database",
	}
	svc := &corev1.Service{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: "team-dedicated-one", Name: "buurt-postgres"}, svc)).To(Succeed())
	g.Expect(svc.OwnerReferences).To(Equal(ownedBy(tm)))
	g.Expect(svc.Spec.ClusterIP).To(Equal("None"))
	g.Expect(svc.Spec.Selector).To(Equal(selector))
	g.Expect(svc.Spec.Ports).To(Equal([]corev1.ServicePort{{
		Name: "postgres", Protocol: corev1.ProtocolTCP, Port: 5432, TargetPort: intstr.FromString("postgres"),
	}}))

	sts := statefulSet(g, "dedicated-one")
	g.Expect(sts.Labels).To(Equal(childLabels("dedicated-one")))
	g.Expect(sts.OwnerReferences).To(Equal(ownedBy(tm)))
	g.Expect(sts.Spec.Replicas).To(Equal(ptr.To[int32](1)))
	g.Expect(sts.Spec.ServiceName).To(Equal("buurt-postgres"))
	g.Expect(sts.Spec.Selector.MatchLabels).To(Equal(selector))
	g.Expect(sts.Spec.Template.Labels).To(Equal(selector))
	g.Expect(sts.Spec.Template.Annotations).To(Equal(map[string]string{"teams.buurt.dev/database-secret-uid": string(secret.UID)}))
	g.Expect(sts.Spec.PersistentVolumeClaimRetentionPolicy).To(Equal(&appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
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
	g.Expect(c.Ports).To(Equal([]corev1.ContainerPort{{Name: "postgres", ContainerPort: 5432, Protocol: corev1.ProtocolTCP}}))
	g.Expect(c.SecurityContext).To(Equal(&corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false), RunAsNonRoot: ptr.To(true),
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}))
	g.Expect(c.Lifecycle.PostStart.Exec.Command).To(Equal([]string{"sh", "-c", render.SyncPasswordScript}))
	g.Expect(sts.Spec.VolumeClaimTemplates).To(HaveLen(1))
	claim := sts.Spec.VolumeClaimTemplates[0]
	g.Expect(claim.Name).To(Equal("data"))
	g.Expect(claim.Labels).To(Equal(selector))
	g.Expect(claim.Spec.AccessModes).To(Equal([]corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}))
	g.Expect(claim.Spec.StorageClassName).To(Equal(ptr.To("fast")))
	g.Expect(claim.Spec.Resources.Requests).To(Equal(corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}))

	// The ingress controller reaches the team's pods, never its database.
	policy := eventuallyPolicy(g, "team-dedicated-one", "buurt-allow-ingress-controller")
	g.Expect(policy.Spec.PodSelector.MatchExpressions).To(Equal([]metav1.LabelSelectorRequirement{{
		Key: "teams.buurt.dev/component", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"database"},
	}}))

	// The pod is ready.
	sts.Status.Replicas, sts.Status.ReadyReplicas = 1, 1
	g.Expect(env.Client.Status().Update(ctx, sts)).To(Succeed())
	tm = eventuallyCondition(t, "dedicated-one", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ProvisionedReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(
		"Database buurt_dedicated_one runs in the team's namespace; connection in Secret dedicated-one-db"))
	// The team's own policy lets its pods reach a database in its namespace:
	// unlike Shared, Dedicated is Ready without any egress in the blueprint.
	g.Expect(bp.Spec.Database.Shared.Egress).To(BeNil())
	eventuallyCondition(t, "dedicated-one", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason)

	// A bound volume is kept from the moment it is bound.
	pv := bindVolume(t, "dedicated-one")
	eventuallyReclaimPolicy(g, pv.Name, corev1.PersistentVolumeReclaimRetain,
		map[string]string{"teams.buurt.dev/original-reclaim-policy": "Delete"})

	// Secret deleted: a new one with a new password, and the new UID on the
	// pod template restarts the server, which sets it.
	g.Expect(env.Client.Delete(ctx, secret)).To(Succeed())
	var fresh *corev1.Secret
	g.Eventually(func(g Gomega) {
		fresh = dbSecret(g, "dedicated-one")
		g.Expect(fresh.UID).NotTo(Equal(secret.UID))
		g.Expect(string(fresh.Data["password"])).NotTo(Equal(password))
		g.Expect(statefulSet(g, "dedicated-one").Spec.Template.Annotations).To(Equal(
			map[string]string{"teams.buurt.dev/database-secret-uid": string(fresh.UID)}))
	}).WithTimeout(timeout).Should(Succeed())

	// A member leaves: a new password in the same Secret, and the time of
	// the rotation on the pod template restarts the server, which sets it.
	since := time.Now()
	edit(t, tm, func() { tm.Spec.Members = []teamsv1alpha1.Subject{user("bram")} })
	g.Eventually(func(g Gomega) {
		rotatedSecret := dbSecret(g, "dedicated-one")
		g.Expect(rotatedSecret.UID).To(Equal(fresh.UID))
		g.Expect(string(rotatedSecret.Data["password"])).NotTo(Equal(string(fresh.Data["password"])))
		tm := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "dedicated-one"}, tm)).To(Succeed())
		g.Expect(tm.Status.Credentials.LastRotationReason).To(Equal(teamsv1alpha1.RotationMemberRemoved))
		at := tm.Status.Credentials.LastRotationTime
		g.Expect(at.Time).To(BeTemporally(">=", since.Truncate(time.Second)))
		g.Expect(statefulSet(g, "dedicated-one").Spec.Template.Annotations).To(Equal(
			map[string]string{"teams.buurt.dev/database-secret-uid": string(fresh.UID) + "/" + at.UTC().Format(time.RFC3339)}))
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(fresh), fresh)).To(Succeed())

	// A bigger volume in the blueprint is for new teams: a claim template
	// cannot change.
	edit(t, bp, func() { bp.Spec.Database.Dedicated.StorageSize = ptr.To(resource.MustParse("10Gi")) })
	g.Eventually(func(g Gomega) {
		tm := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "dedicated-one"}, tm)).To(Succeed())
		g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(
			"Database buurt_dedicated_one runs in the team's namespace; connection in Secret dedicated-one-db; " +
				"it keeps its 5Gi volume, the blueprint's 10Gi applies to new teams"))
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(statefulSet(g, "dedicated-one").Spec.VolumeClaimTemplates[0].Spec.Resources.Requests).To(Equal(
		corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}))

	// Retain: the team goes, its volume stays Retain, an Event says which.
	g.Expect(env.Client.Delete(ctx, tm)).To(Succeed())
	gone(g, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: tm.Name}})
	eventuallyReclaimPolicy(g, pv.Name, corev1.PersistentVolumeReclaimRetain,
		map[string]string{"teams.buurt.dev/original-reclaim-policy": "Delete"})
	expectEvent(g, tm, teamsv1alpha1.RetainedReason, "Database buurt_dedicated_one is kept on PersistentVolume pv-dedicated-one "+
		"(reclaimPolicy Retain); bind a new claim to it to use the data again, or delete it when it is no longer needed")
	expectSecretNowhere(g, tm, password)
	expectSecretNowhere(g, tm, string(fresh.Data["password"]))
}

func TestDedicatedDatabaseDeletePolicyGivesBackTheVolume(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, dedicatedBlueprint("dedicated-delete"))
	tm := newTeam("dedicated-two", "dedicated-delete", user("anna"))
	create(t, tm)
	eventuallyCondition(t, "dedicated-two", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.ProvisioningReason)
	pv := bindVolume(t, "dedicated-two")
	eventuallyReclaimPolicy(g, pv.Name, corev1.PersistentVolumeReclaimRetain,
		map[string]string{"teams.buurt.dev/original-reclaim-policy": "Delete"})

	// The team now wants its data gone with it: the volume gets its own
	// policy back.
	edit(t, tm, func() {
		tm.Spec.Database = &teamsv1alpha1.TeamDatabase{ReclaimPolicy: teamsv1alpha1.ReclaimPolicyDelete}
	})
	eventuallyReclaimPolicy(g, pv.Name, corev1.PersistentVolumeReclaimDelete, nil)

	g.Expect(env.Client.Delete(ctx, tm)).To(Succeed())
	gone(g, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: tm.Name}})
	expectEvent(g, tm, teamsv1alpha1.DatabaseDeletedReason, "Database buurt_dedicated_two is deleted with the team's namespace (reclaimPolicy Delete)")
}

// A volume buurt did not bind for this team is never touched, even when a
// member's claim in the team namespace names it and carries the labels.
func TestDedicatedDatabaseLeavesOtherVolumesAlone(t *testing.T) {
	g := NewWithT(t)
	create(t, dedicatedBlueprint("dedicated-other"))
	create(t, newTeam("dedicated-three", "dedicated-other", user("anna")))
	eventuallyCondition(t, "dedicated-three", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.ProvisioningReason)
	other := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-someone-else"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data/else"}},
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: "elsewhere", Name: "data", UID: types.UID("1c0ffee0-uid"),
			},
		},
	}
	create(t, other)
	create(t, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-dedicated-three", Name: "data-buurt-postgres-0", Labels: map[string]string{
			"teams.buurt.dev/team": "dedicated-three", "app.kubernetes.io/managed-by": "buurt", "teams.buurt.dev/component": "database",
		}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			VolumeName:  "pv-someone-else",
		},
	})
	g.Consistently(func(g Gomega) {
		pv := &corev1.PersistentVolume{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(other), pv)).To(Succeed())
		g.Expect(pv.Spec.PersistentVolumeReclaimPolicy).To(Equal(corev1.PersistentVolumeReclaimDelete))
		g.Expect(pv.Annotations).To(BeEmpty())
	}).WithTimeout(3 * time.Second).Should(Succeed())
}

// The script a Dedicated database runs on start sets the Secret's password,
// against a real server, whatever characters it holds.
func TestSyncPasswordScript(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	if _, err := exec.LookPath("psql"); err != nil {
		t.Fatalf("psql is needed (Debian's postgresql-client): %v", err)
	}
	conn, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, `CREATE ROLE buurt_sync LOGIN PASSWORD 'old-password'`)
	g.Expect(err).NotTo(HaveOccurred())

	next := `n3w'pa"ss; DROP ROLE buurt_sync; --\`
	script := exec.CommandContext(ctx, "sh", "-c", render.SyncPasswordScript) //nolint:gosec // the script under test
	script.Env = append(os.Environ(), "PGHOST="+pg.Host, "PGPORT="+strconv.Itoa(pg.Port), "PGPASSWORD=old-password",
		"POSTGRES_USER=buurt_sync", "POSTGRES_PASSWORD="+next)
	out, err := script.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), string(out))
	g.Expect(string(out)).NotTo(ContainSubstring(next))

	cfg, err := pgx.ParseConfig(pg.URI("buurt_sync", "old-password", "postgres"))
	g.Expect(err).NotTo(HaveOccurred())
	cfg.Password = next
	fresh, err := pgx.ConnectConfig(ctx, cfg)
	g.Expect(err).NotTo(HaveOccurred(), "the new password works")
	g.Expect(fresh.Close(ctx)).To(Succeed())
	_, err = pgx.Connect(ctx, pg.URI("buurt_sync", "old-password", "postgres"))
	g.Expect(err).To(MatchError(ContainSubstring("password authentication failed")))
}
