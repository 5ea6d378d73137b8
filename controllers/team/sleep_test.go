package team_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// TestATeamSleepsOnItsOwnSchedule: a team whose schedule says it sleeps now
// is Dormant, its app at zero, and its status says when it wakes; moved so
// that it is awake now, the app runs again. A manual Dormant wins.
func TestATeamSleepsOnItsOwnSchedule(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := designBlueprint("sleepy")
	bp.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	create(t, bp)
	every := []teamsv1alpha1.Weekday{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	// Times of day an hour either side of now, by the clock of UTC, to
	// the minute.
	now := time.Now().UTC().Truncate(time.Minute)
	hourAgo, inAnHour := now.Add(-time.Hour), now.Add(time.Hour)
	tm := newTeam("sleepy", "sleepy", user("anna"))
	tm.Spec.Apps = []teamsv1alpha1.App{{Name: "rota", Image: "registry.example.org/care/rota:2.0.1", Port: 9000, Replicas: ptr.To[int32](2)}}
	tm.Spec.Sleep = &teamsv1alpha1.SleepSchedule{
		SleepAt: hourAgo.Format("15:04"), WakeAt: inAnHour.Format("15:04"), Days: every, TimeZone: "UTC",
	}
	create(t, tm)
	const ns = "team-sleepy"

	g.Eventually(func(g Gomega) {
		g.Expect(deployment(g, ns, "rota").Spec.Replicas).To(Equal(ptr.To[int32](0)))
	}).WithTimeout(timeout).Should(Succeed())
	markAvailable(t, ns, "rota")
	tm = eventuallyCondition(t, "sleepy", teamsv1alpha1.AppsReadyCondition, metav1.ConditionTrue, teamsv1alpha1.DormantReason)
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		g.Expect(tm.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseDormant))
		g.Expect(tm.Status.Sleep).NotTo(BeNil())
		g.Expect(tm.Status.Sleep.State).To(Equal(teamsv1alpha1.SleepStateAsleep))
		g.Expect(tm.Status.Sleep.NextTransitionTime.Time).To(BeTemporally("==", inAnHour))
	}).WithTimeout(timeout).Should(Succeed())

	// The team moves its hours: it is awake now, and sleeps in an hour.
	edit(t, tm, func() {
		tm.Spec.Sleep.SleepAt, tm.Spec.Sleep.WakeAt = inAnHour.Format("15:04"), hourAgo.Format("15:04")
	})
	g.Eventually(func(g Gomega) {
		g.Expect(deployment(g, ns, "rota").Spec.Replicas).To(Equal(ptr.To[int32](2)))
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		g.Expect(tm.Status.Sleep.State).To(Equal(teamsv1alpha1.SleepStateAwake))
		g.Expect(tm.Status.Sleep.NextTransitionTime.Time).To(BeTemporally("==", inAnHour))
	}).WithTimeout(timeout).Should(Succeed())

	// Dormant by hand wins over a schedule that says awake.
	edit(t, tm, func() { tm.Spec.Lifecycle = teamsv1alpha1.LifecycleDormant })
	g.Eventually(func(g Gomega) {
		g.Expect(deployment(g, ns, "rota").Spec.Replicas).To(Equal(ptr.To[int32](0)))
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		g.Expect(tm.Status.Sleep.State).To(Equal(teamsv1alpha1.SleepStateAwake))
	}).WithTimeout(timeout).Should(Succeed())

	// No schedule: no status of one.
	edit(t, tm, func() { tm.Spec.Sleep, tm.Spec.Lifecycle = nil, teamsv1alpha1.LifecycleActive })
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
		g.Expect(tm.Status.Sleep).To(BeNil())
		g.Expect(deployment(g, ns, "rota").Spec.Replicas).To(Equal(ptr.To[int32](2)))
	}).WithTimeout(timeout).Should(Succeed())
}
