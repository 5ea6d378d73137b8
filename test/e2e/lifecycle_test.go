//go:build e2e

package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
)

// lifecycleDoc is docs/lifecycle.md's commands and outputs, in order.
type lifecycleDoc struct {
	commands, outputs []string
}

func readLifecycleDoc(t *testing.T) lifecycleDoc {
	var doc lifecycleDoc
	for _, b := range fencedBlocks(t, "lifecycle.md", "## Metrics") {
		switch b.lang {
		case "sh":
			doc.commands = append(doc.commands, b.body)
		case "":
			doc.outputs = append(doc.outputs, b.body)
		}
	}
	NewWithT(t).Expect(doc.commands).To(HaveLen(4), "docs/lifecycle.md: sleep, archive, read the phase, bring back")
	NewWithT(t).Expect(doc.outputs).To(HaveLen(3), "docs/lifecycle.md: the diagram, the admission message, the phase")
	return doc
}

// may asks the apiserver whether user may do verb on resource in namespace
// (on buurt's own resources, on the object name).
func may(g Gomega, user, verb, resource, namespace, name string) bool {
	attributes := &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Resource: resource, Name: name}
	if name != "" {
		attributes.Group = teamsv1alpha1.GroupVersion.Group
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, ResourceAttributes: attributes,
	}}
	g.Expect(admin.Create(context.Background(), review)).To(Succeed())
	return review.Status.Allowed
}

// TestTeamSleepsOnItsOwnHours gives a team a schedule that sleeps a minute
// from now and wakes a minute later, in real time, by the clock of
// Amsterdam: the team's app, scaled by hand to 3, and a CronJob the team
// made stop and come back exactly as they were.
func TestTeamSleepsOnItsOwnHours(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const ns = "team-e2e-sleep"
	bp := testenv.DesignBlueprint("e2e-sleep")
	bp.Spec.Apps = []teamsv1alpha1.App{{Name: "care-planner", Image: "registry.example.org/care/planner:1.4.2", Port: 8080}}
	readyTeam(t, bp, newTeam("e2e-sleep", "e2e-sleep", user("anna@care.example.org")))

	// Anna scales the app by hand and makes a CronJob of her own.
	anna := as(t, "anna@care.example.org")
	shellAs(t, "anna@care.example.org")(g, "kubectl scale deployment care-planner --namespace "+ns+" --replicas=3")
	planner := &appsv1.Deployment{}
	g.Expect(anna.Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "night-report"}, Spec: batchv1.CronJobSpec{
		Schedule: "0 3 * * *",
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "report", Image: "registry.example.org/care/report:1",
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}},
		}}}},
	}})).To(Succeed())
	runningPods := func(g Gomega) int {
		pods := &corev1.PodList{}
		g.Expect(admin.List(ctx, pods, client.InNamespace(ns))).To(Succeed())
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp.IsZero() {
				running++
			}
		}
		return running
	}
	g.Eventually(runningPods).WithTimeout(timeout).Should(Equal(3))

	// A schedule that sleeps at the start of a minute at least 20 seconds
	// away, and wakes a minute later.
	amsterdam, err := time.LoadLocation("Europe/Amsterdam")
	g.Expect(err).NotTo(HaveOccurred())
	sleepAt := time.Now().In(amsterdam).Add(20 * time.Second).Truncate(time.Minute).Add(time.Minute)
	wakeAt := sleepAt.Add(time.Minute)
	all := []teamsv1alpha1.Weekday{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	mine := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Expect(anna.Get(ctx, client.ObjectKey{Name: "e2e-sleep"}, mine)).To(Succeed())
	base := mine.DeepCopy()
	mine.Spec.Sleep = &teamsv1alpha1.SleepSchedule{
		SleepAt: sleepAt.Format("15:04"), WakeAt: wakeAt.Format("15:04"), Days: all, TimeZone: "Europe/Amsterdam",
	}
	g.Expect(anna.Patch(ctx, mine, client.MergeFrom(base))).To(Succeed())
	eventuallyTeam(t, "e2e-sleep", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(tm.Status.Sleep).NotTo(BeNil())
		g.Expect(tm.Status.Sleep.State).To(Equal(teamsv1alpha1.SleepStateAwake))
		g.Expect(tm.Status.Sleep.NextTransitionTime.Time).To(BeTemporally("==", sleepAt))
	})

	// Asleep, at the time it said.
	g.Eventually(func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "care-planner"}, planner)).To(Succeed())
		g.Expect(planner.Spec.Replicas).To(Equal(ptr.To[int32](0)))
		g.Expect(planner.Annotations).To(HaveKeyWithValue(teamsv1alpha1.AwakeReplicasAnnotation, "3"))
		g.Expect(runningPods(g)).To(BeZero())
	}).WithTimeout(time.Until(sleepAt) + timeout).WithPolling(time.Second).Should(Succeed())
	g.Expect(time.Now()).To(BeTemporally(">=", sleepAt))
	tm := eventuallyTeam(t, "e2e-sleep", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseDormant))
		g.Expect(tm.Status.Sleep.State).To(Equal(teamsv1alpha1.SleepStateAsleep))
		g.Expect(tm.Status.Sleep.NextTransitionTime.Time).To(BeTemporally("==", wakeAt))
	})
	job := &batchv1.CronJob{}
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "night-report"}, job)).To(Succeed())
	g.Expect(job.Spec.Suspend).To(Equal(ptr.To(true)))
	g.Expect(tm.Spec.Lifecycle).To(Equal(teamsv1alpha1.LifecycleActive), "the schedule does not touch the spec")

	// Awake, at the time it said, as it was.
	g.Eventually(func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "care-planner"}, planner)).To(Succeed())
		g.Expect(planner.Spec.Replicas).To(Equal(ptr.To[int32](3)))
		g.Expect(planner.Annotations).NotTo(HaveKey(teamsv1alpha1.AwakeReplicasAnnotation))
		g.Expect(runningPods(g)).To(Equal(3))
	}).WithTimeout(time.Until(wakeAt) + timeout).WithPolling(time.Second).Should(Succeed())
	g.Expect(time.Now()).To(BeTemporally(">=", wakeAt))
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "night-report"}, job)).To(Succeed())
	g.Expect(job.Spec.Suspend).To(Equal(ptr.To(false)))
	eventuallyTeam(t, "e2e-sleep", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		ready(g, tm)
		g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseActive))
		g.Expect(tm.Status.Sleep.State).To(Equal(teamsv1alpha1.SleepStateAwake))
	})
}

// TestArchivedTeamKeepsItsData runs docs/lifecycle.md: Anna puts her team to
// sleep; a platform engineer archives it: the team's role can no longer log
// in, its row is still there, Anna only reads; brought back, the team's
// database has a new password that reads the row.
func TestArchivedTeamKeepsItsData(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const ns, role = "team-north-hillside", "buurt_north_hillside"
	doc := readLifecycleDoc(t)
	const pia = "pia-archive@region.example.org"
	binding := testenv.PlatformEngineerBinding("e2e-lifecycle-platform-engineer", pia)
	g.Expect(admin.Create(ctx, binding)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), binding) })
	readyTeam(t, sharedBlueprint("hillside"), newTeam("north-hillside", "hillside", user("anna@care.example.org")))
	password := func(g Gomega) string {
		s := &corev1.Secret{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "north-hillside-db"}, s)).To(Succeed())
		return string(s.Data["password"])
	}
	old := password(g)
	conn, err := pgx.Connect(ctx, pg.URI(role, old, role))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = conn.Exec(ctx, "CREATE TABLE visits (client text, visited date); INSERT INTO visits VALUES ('mevrouw de Vries', '2026-11-23')")
	g.Expect(err).NotTo(HaveOccurred())
	asAnna, asPia := shellAs(t, "anna@care.example.org"), shellAs(t, pia)

	// Anna puts the team to sleep: the Shared database stays up.
	asAnna(g, doc.commands[0])
	tm := eventuallyTeam(t, "north-hillside", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseDormant))
		conditionIs(g, tm, teamsv1alpha1.DatabaseReadyCondition, teamsv1alpha1.ProvisionedReason, metav1.ConditionTrue)
		g.Expect(meta.FindStatusCondition(tm.Status.Conditions, teamsv1alpha1.DatabaseReadyCondition).Message).To(HaveSuffix(
			"; a Shared database stays up while the team is Dormant: it costs the team nothing"))
	})
	g.Expect(conn.Ping(ctx)).To(Succeed(), "a Shared database stays up while the team sleeps")
	// She may not archive it; admission says so, as the doc does.
	err = as(t, "anna@care.example.org").Patch(ctx, tm, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"lifecycle":"Archived"}}`)))
	g.Expect(err).To(MatchError(ContainSubstring(strings.TrimSuffix(doc.outputs[1], "\n"))))

	// Pia archives it.
	asPia(g, doc.commands[1])
	g.Eventually(func(g Gomega) {
		g.Expect(asPia(g, doc.commands[2])).To(Equal(doc.outputs[2]))
	}).WithTimeout(timeout).Should(Succeed())
	tm = eventuallyTeam(t, "north-hillside", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		conditionIs(g, tm, teamsv1alpha1.ReadyCondition, teamsv1alpha1.ArchivedReason, metav1.ConditionTrue)
		conditionIs(g, tm, teamsv1alpha1.DatabaseReadyCondition, teamsv1alpha1.ArchivedReason, metav1.ConditionTrue)
	})
	g.Expect(tm.Status.Credentials.RotationPending).To(Equal(teamsv1alpha1.RotationUnarchived))
	// Its role cannot log in, and the session it had is ended.
	superuser, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = superuser.Close(ctx) }()
	var canLogin bool
	g.Expect(superuser.QueryRow(ctx, "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", role).Scan(&canLogin)).To(Succeed())
	g.Expect(canLogin).To(BeFalse())
	g.Expect(conn.Ping(ctx)).NotTo(Succeed(), "its open session is ended")
	refusedLogin(g, role, old)
	// Its data is there.
	g.Expect(visit(g, pg.URI(testpg.AdminUser, pg.Password, role))).To(Equal("mevrouw de Vries"))
	// Anna reads, and changes nothing; nothing new starts.
	g.Expect(may(g, "anna@care.example.org", "list", "pods", ns, "")).To(BeTrue())
	g.Expect(may(g, "anna@care.example.org", "create", "pods", ns, "")).To(BeFalse())
	g.Expect(may(g, "anna@care.example.org", "get", "secrets", ns, "")).To(BeFalse())
	g.Expect(may(g, "anna@care.example.org", "update", "neighbourhoodteams", "", "north-hillside")).To(BeFalse())
	quota := &corev1.ResourceQuota{}
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "buurt-quota"}, quota)).To(Succeed())
	g.Expect(quota.Spec.Hard.Pods().String()).To(Equal("0"))

	// Pia brings it back: a new password, which reads the row.
	asPia(g, doc.commands[3])
	eventuallyTeam(t, "north-hillside", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		ready(g, tm)
		g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseActive))
		g.Expect(tm.Status.Credentials.LastRotationReason).To(Equal(teamsv1alpha1.RotationUnarchived))
		g.Expect(tm.Status.Credentials.RotationPending).To(BeEmpty())
	})
	fresh := password(g)
	g.Expect(fresh).NotTo(Equal(old))
	refusedLogin(g, role, old)
	g.Expect(visit(g, pg.URI(role, fresh, role))).To(Equal("mevrouw de Vries"))
	g.Expect(may(g, "anna@care.example.org", "create", "pods", ns, "")).To(BeTrue())
	g.Expect(may(g, "anna@care.example.org", "get", "secrets", ns, "")).To(BeTrue())
	g.Expect(may(g, "anna@care.example.org", "update", "neighbourhoodteams", "", "north-hillside")).To(BeTrue())
}

// visit reads the row the test wrote, through uri.
func visit(g Gomega, uri string) string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, uri)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(ctx) }()
	var client string
	g.Expect(conn.QueryRow(ctx, "SELECT client FROM visits").Scan(&client)).To(Succeed())
	return client
}

// refusedLogin asserts that the shared server refuses role with password:
// a wrong password (28P01), or a role that may not log in (28000).
func refusedLogin(g Gomega, role, password string) {
	_, err := pgx.Connect(context.Background(), pg.URI(role, password, role))
	pgErr := &pgconn.PgError{}
	g.Expect(errors.As(err, &pgErr)).To(BeTrue(), "logging in as %s: %v", role, err)
	g.Expect(pgErr.Code).To(BeElementOf("28P01", "28000"))
}
