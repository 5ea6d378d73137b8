package team_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// workloadState is what sleep changes of a workload: its replicas (or, for
// a CronJob, suspend as "true"/"false") and what it carries of before.
type workloadState struct {
	Replicas int32
	Suspend  string
	Record   string
}

// workloadStates reads every workload of the test in the namespace.
func workloadStates(g Gomega, ns string) map[string]workloadState {
	ctx := context.Background()
	out := map[string]workloadState{}
	deployments := &appsv1.DeploymentList{}
	g.Expect(env.Client.List(ctx, deployments, client.InNamespace(ns))).To(Succeed())
	for _, d := range deployments.Items {
		out["Deployment "+d.Name] = workloadState{Replicas: *d.Spec.Replicas, Record: d.Annotations[teamsv1alpha1.AwakeReplicasAnnotation]}
	}
	sets := &appsv1.StatefulSetList{}
	g.Expect(env.Client.List(ctx, sets, client.InNamespace(ns))).To(Succeed())
	for _, s := range sets.Items {
		out["StatefulSet "+s.Name] = workloadState{Replicas: *s.Spec.Replicas, Record: s.Annotations[teamsv1alpha1.AwakeReplicasAnnotation]}
	}
	jobs := &batchv1.CronJobList{}
	g.Expect(env.Client.List(ctx, jobs, client.InNamespace(ns))).To(Succeed())
	for _, j := range jobs.Items {
		suspend := "false"
		if ptr.Deref(j.Spec.Suspend, false) {
			suspend = "true"
		}
		out["CronJob "+j.Name] = workloadState{Suspend: suspend, Record: j.Annotations[teamsv1alpha1.AwakeSuspendAnnotation]}
	}
	return out
}

func namespaceAnnotation(g Gomega, ns string) string {
	n := &corev1.Namespace{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: ns}, n)).To(Succeed())
	return n.Annotations[teamsv1alpha1.SleepAnnotation]
}

func podTemplate(name string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.example.org/care/" + name + ":1"}}},
	}
}

// TestLifecycle: Dormant stops every workload of the team, the team's own
// too, and a Dedicated database, keeping its volume; waking brings each
// back exactly as it was, also an app scaled by hand. Archived stops them as
// well, makes members read-only, releases nothing of the data, and quota
// starts no pod; back from Archived the database has a new password.
func TestLifecycle(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := dedicatedBlueprint("lifecycle")
	bp.Spec.MemberRole, bp.Spec.CoachRole = "buurt:team-member", "buurt:coach"
	create(t, bp)
	tm := newTeam("lifecycle-one", "lifecycle", user("anna"))
	tm.Spec.Apps = []teamsv1alpha1.App{
		{Name: "planner", Image: "registry.example.org/care/planner:1", Port: 8080},
		{Name: "rota", Image: "registry.example.org/care/rota:2", Port: 8080, Replicas: ptr.To[int32](2)},
	}
	create(t, tm)
	const ns = "team-lifecycle-one"
	g.Eventually(func(g Gomega) { statefulSet(g, "lifecycle-one") }).WithTimeout(timeout).Should(Succeed())
	pv := bindVolume(t, "lifecycle-one")

	// What the team made itself, and an app a member scaled by hand.
	create(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "own-worker"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "own-worker"}},
		Template: podTemplate("own-worker"),
	}})
	create(t, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "own-cache"}, Spec: appsv1.StatefulSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "own-cache"}}, Template: podTemplate("own-cache"),
	}})
	for name, suspend := range map[string]bool{"nightly": false, "paused": true} {
		create(t, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: batchv1.CronJobSpec{
			Schedule: "0 3 * * *", Suspend: ptr.To(suspend),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: name, Image: "registry.example.org/care/report:1"}},
			}}}},
		}})
	}
	g.Eventually(func(g Gomega) { deployment(g, ns, "planner") }).WithTimeout(timeout).Should(Succeed())
	planner := deployment(g, ns, "planner")
	planner.Spec.Replicas = ptr.To[int32](3)
	g.Expect(env.Client.Update(ctx, planner, client.FieldOwner("kubectl"))).To(Succeed())

	awake := map[string]workloadState{
		"Deployment planner":         {Replicas: 3},
		"Deployment rota":            {Replicas: 2},
		"Deployment own-worker":      {Replicas: 2},
		"StatefulSet own-cache":      {Replicas: 1},
		"StatefulSet buurt-postgres": {Replicas: 1},
		"CronJob nightly":            {Suspend: "false"},
		"CronJob paused":             {Suspend: "true"},
	}
	// buurt leaves an app alone that does not declare its replicas.
	g.Eventually(func(g Gomega) map[string]workloadState { return workloadStates(g, ns) }).WithTimeout(timeout).Should(Equal(awake))
	g.Consistently(func(g Gomega) map[string]workloadState { return workloadStates(g, ns) }).
		WithTimeout(2 * time.Second).Should(Equal(awake))

	// Dormant: every workload stops, each carrying what it had; the
	// database's volume stays.
	edit(t, tm, func() { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleDormant })
	g.Eventually(func(g Gomega) map[string]workloadState { return workloadStates(g, ns) }).WithTimeout(timeout).Should(Equal(map[string]workloadState{
		"Deployment planner":         {Replicas: 0, Record: "3"},
		"Deployment rota":            {Replicas: 0},
		"Deployment own-worker":      {Replicas: 0, Record: "2"},
		"StatefulSet own-cache":      {Replicas: 0, Record: "1"},
		"StatefulSet buurt-postgres": {Replicas: 0},
		"CronJob nightly":            {Suspend: "true", Record: "false"},
		"CronJob paused":             {Suspend: "true", Record: "true"},
	}))
	g.Eventually(func(g Gomega) string { return namespaceAnnotation(g, ns) }).WithTimeout(timeout).Should(Equal("Stopped"))
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-buurt-postgres-0"}, &corev1.PersistentVolumeClaim{})).To(Succeed())
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(pv), &corev1.PersistentVolume{})).To(Succeed())
	expectEvent(g, tm, teamsv1alpha1.FellAsleepReason, "Stopped 5 workloads (Deployment own-worker, Deployment planner, "+
		"StatefulSet own-cache, CronJob nightly, CronJob paused); each carries what it had (annotation teams.buurt.dev/awake-replicas "+
		"or teams.buurt.dev/awake-suspend) and gets it back when the team wakes")
	for _, app := range []string{"planner", "rota"} {
		markAvailable(t, ns, app)
	}
	tm = eventuallyCondition(t, "lifecycle-one", teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.DormantReason)
	g.Expect(cond(tm, teamsv1alpha1.DatabaseReadyCondition).Message).To(Equal(
		"The team's PostgreSQL is stopped while the team is Dormant; its volume and data are kept"))
	tm = eventuallyCondition(t, "lifecycle-one", teamsv1alpha1.AppsReadyCondition, metav1.ConditionTrue, teamsv1alpha1.DormantReason)
	g.Expect(cond(tm, teamsv1alpha1.AppsReadyCondition).Message).To(Equal(
		"The team is Dormant: its 2 apps are scaled to zero and its CronJobs suspended"))
	g.Eventually(func(g Gomega) teamsv1alpha1.TeamPhase {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		return tm.Status.Phase
	}).WithTimeout(timeout).Should(Equal(teamsv1alpha1.TeamPhaseDormant))

	// Awake: each comes back exactly as it was, and carries nothing of it.
	edit(t, tm, func() { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleActive })
	g.Eventually(func(g Gomega) map[string]workloadState { return workloadStates(g, ns) }).WithTimeout(timeout).Should(Equal(awake))
	g.Eventually(func(g Gomega) string { return namespaceAnnotation(g, ns) }).WithTimeout(timeout).Should(BeEmpty())
	expectEvent(g, tm, teamsv1alpha1.WokeUpReason, "Brought back 5 workloads as they were: Deployment own-worker, "+
		"Deployment planner, StatefulSet own-cache, CronJob nightly, CronJob paused")
	g.Consistently(func(g Gomega) map[string]workloadState { return workloadStates(g, ns) }).
		WithTimeout(2 * time.Second).Should(Equal(awake))

	// Archived: stopped as for Dormant, members read-only, quota starts no
	// pod, coach released; the database's password is made anew on the way
	// back.
	sts := statefulSet(g, "lifecycle-one")
	sts.Status.Replicas, sts.Status.ReadyReplicas = 1, 1
	g.Expect(env.Client.Status().Update(ctx, sts)).To(Succeed())
	password := dbSecret(g, "lifecycle-one").Data["password"]
	restartKey := sts.Spec.Template.Annotations["teams.buurt.dev/database-secret-uid"]
	edit(t, tm, func() { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleArchived })
	g.Eventually(func(g Gomega) string { return namespaceAnnotation(g, ns) }).WithTimeout(timeout).Should(Equal("Stopped"))
	g.Eventually(func(g Gomega) int32 { return *statefulSet(g, "lifecycle-one").Spec.Replicas }).WithTimeout(timeout).Should(BeZero())
	sts = statefulSet(g, "lifecycle-one")
	sts.Status.Replicas, sts.Status.ReadyReplicas = 0, 0
	g.Expect(env.Client.Status().Update(ctx, sts)).To(Succeed())
	for _, app := range []string{"planner", "rota"} {
		markAvailable(t, ns, app)
	}
	tm = eventuallyCondition(t, "lifecycle-one", teamsv1alpha1.ReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ArchivedReason)
	g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseArchived))
	g.Expect(cond(tm, teamsv1alpha1.ReadyCondition).Message).To(Equal("The team is archived and nothing of it is deleted: " +
		"its workloads are stopped, its database is kept and cannot be logged in to, its members have read-only access, " +
		"its coach is released and its quota starts no pod. To bring it back, a platform engineer sets spec.lifecycle to Active; " +
		"the database then gets a new password"))
	g.Expect(tm.Status.Credentials.RotationPending).To(Equal(teamsv1alpha1.RotationUnarchived))
	g.Expect(cond(tm, teamsv1alpha1.AccessReadyCondition).Message).To(Equal(
		"The team is archived: its 1 member entries have read-only access (ClusterRole buurt:coach) and may not change the team"))
	binding := &rbacv1.RoleBinding{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "buurt:members"}, binding)).To(Succeed())
	g.Expect(binding.RoleRef.Name).To(Equal("buurt:coach"))
	self := &rbacv1.ClusterRole{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "buurt:team:lifecycle-one"}, self)).To(Succeed())
	g.Expect(self.Rules[0].Verbs).To(Equal([]string{"get"}))
	g.Eventually(func(g Gomega) {
		expectQuota(g, ns, map[corev1.ResourceName]string{
			"requests.cpu": "2250m", "requests.memory": "4608Mi", "requests.storage": "20Gi", "pods": "0",
		})
	}).WithTimeout(timeout).Should(Succeed())
	expectEvent(g, tm, teamsv1alpha1.ArchivedReason, cond(tm, teamsv1alpha1.ReadyCondition).Message)
	g.Expect(dbSecret(g, "lifecycle-one").Data["password"]).To(Equal(password), "nothing is deleted")
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "data-buurt-postgres-0"}, &corev1.PersistentVolumeClaim{})).To(Succeed())

	// Back: everything as it was, with a new password.
	edit(t, tm, func() { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleActive })
	g.Eventually(func(g Gomega) map[string]workloadState { return workloadStates(g, ns) }).WithTimeout(timeout).Should(Equal(awake))
	g.Eventually(func(g Gomega) {
		g.Expect(dbSecret(g, "lifecycle-one").Data["password"]).NotTo(Equal(password))
		g.Expect(statefulSet(g, "lifecycle-one").Spec.Template.Annotations["teams.buurt.dev/database-secret-uid"]).NotTo(Equal(restartKey))
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "buurt:members"}, binding)).To(Succeed())
		g.Expect(binding.RoleRef.Name).To(Equal("buurt:team-member"))
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		g.Expect(tm.Status.Credentials.LastRotationReason).To(Equal(teamsv1alpha1.RotationUnarchived))
		g.Expect(tm.Status.Credentials.RotationPending).To(BeEmpty())
	}).WithTimeout(timeout).Should(Succeed())
	g.Eventually(func(g Gomega) {
		expectQuota(g, ns, map[corev1.ResourceName]string{
			"requests.cpu": "2250m", "requests.memory": "4608Mi", "requests.storage": "20Gi", "pods": "20",
		})
	}).WithTimeout(timeout).Should(Succeed())
	expectEvent(g, tm, teamsv1alpha1.UnarchivedReason, "The team is back from Archived: its members have their access again, "+
		"its workloads come back as they were, it asks its coach again, and its database (if it has one) gets a new password")
}
