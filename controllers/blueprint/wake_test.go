package blueprint

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// settleQueue is a work queue on a clock the test moves.
func settleQueue() (workqueue.TypedRateLimitingInterface[reconcile.Request], *clocktesting.FakeClock) {
	clock := clocktesting.NewFakeClock(time.Unix(1000, 0))
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request](),
		workqueue.TypedRateLimitingQueueConfig[reconcile.Request]{Clock: clock})
	return q, clock
}

func teamOf(blueprint string, change func(*teamsv1alpha1.NeighbourhoodTeam)) *teamsv1alpha1.NeighbourhoodTeam {
	team := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "a"},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{Blueprint: blueprint}}
	if change != nil {
		change(team)
	}
	return team
}

// waiting is the blueprints queued once teamsSettle has passed. The queue
// moves what is due in its own goroutine, which on a busy machine may be
// slow to run: this waits up to 10 s for the want blueprints the test
// expects, then 500 ms more for any other.
func waiting(q workqueue.TypedRateLimitingInterface[reconcile.Request], clock *clocktesting.FakeClock, want int) []string {
	clock.Step(teamsSettle)
	var names []string
	deadline := time.Now().Add(10 * time.Second)
	if want == 0 {
		deadline = time.Now().Add(500 * time.Millisecond)
	}
	for time.Now().Before(deadline) {
		if q.Len() == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		req, _ := q.Get()
		names = append(names, req.Name)
		q.Done(req)
		if soon := time.Now().Add(500 * time.Millisecond); len(names) >= want && soon.Before(deadline) {
			deadline = soon
		}
	}
	return names
}

func TestABurstOfNewTeamsWakesTheirBlueprintOnce(t *testing.T) {
	g := NewWithT(t)
	q, clock := settleQueue()
	defer q.ShutDown()
	for range 100 {
		teamsOfBlueprint.Create(context.Background(), event.CreateEvent{Object: teamOf("standard", nil)}, q)
	}
	g.Expect(q.Len()).To(BeZero(), "a blueprint waits for its teams to settle")
	g.Expect(waiting(q, clock, 1)).To(Equal([]string{"standard"}))
}

func TestATeamChangeWakesItsBlueprintOnlyForWhatItsStatusReports(t *testing.T) {
	refused := func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Status.Conditions = []metav1.Condition{{Type: teamsv1alpha1.QuotaReadyCondition, Status: metav1.ConditionFalse,
			Reason: teamsv1alpha1.RejectedReason, Message: "exceeded"}}
	}
	for _, tc := range []struct {
		name   string
		new    *teamsv1alpha1.NeighbourhoodTeam
		wakens []string
	}{
		{"its Ready condition", teamOf("standard", func(tm *teamsv1alpha1.NeighbourhoodTeam) {
			tm.Status.Conditions = []metav1.Condition{{Type: teamsv1alpha1.ReadyCondition, Status: metav1.ConditionTrue}}
		}), nil},
		{"its quota refused", teamOf("standard", refused), []string{"standard"}},
		{"a member more", teamOf("standard", func(tm *teamsv1alpha1.NeighbourhoodTeam) {
			tm.Spec.Members = []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna"}}
		}), []string{"standard"}},
		{"moved to another blueprint", teamOf("strict", nil), []string{"standard", "strict"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			q, clock := settleQueue()
			defer q.ShutDown()
			teamsOfBlueprint.Update(context.Background(), event.UpdateEvent{ObjectOld: teamOf("standard", nil), ObjectNew: tc.new}, q)
			g.Expect(waiting(q, clock, len(tc.wakens))).To(ConsistOf(tc.wakens))
		})
	}
}
