package team_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// teamEvent is what a reader of an Event sees of it, but its timestamps and
// the team's resourceVersion in its regarding.
type teamEvent struct {
	// namespace is where the Event is; regardingNamespace the namespace its
	// reference to the team names.
	namespace, regardingNamespace string
	regarding                     string
	related                       string
	line                          string
	reportingController           string
}

// teamEvents are the Events regarding tm (by UID), wherever they are.
func teamEvents(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) []teamEvent {
	events := &eventsv1.EventList{}
	g.Expect(env.Client.List(context.Background(), events)).To(Succeed())
	out := []teamEvent{}
	for _, e := range events.Items {
		if e.Regarding.UID != tm.UID {
			continue
		}
		r := e.Regarding
		got := teamEvent{
			namespace: e.Namespace, regardingNamespace: r.Namespace,
			regarding:           r.APIVersion + " " + r.Kind + " " + r.Name,
			line:                e.Type + "/" + e.Reason + "/" + e.Action + ": " + e.Note,
			reportingController: e.ReportingController,
		}
		if e.Related != nil {
			got.related = e.Related.Kind + " " + e.Related.Name
		}
		out = append(out, got)
	}
	return out
}

// inDefault and inTeam are an Event on the team in default, where
// `kubectl describe` finds it, and its copy in the team's namespace, where the
// team's members read it.
func inDefault(team, related, line string) teamEvent {
	return teamEvent{
		namespace: "default", regarding: "teams.buurt.dev/v1alpha1 NeighbourhoodTeam " + team,
		related: related, line: line, reportingController: "buurt",
	}
}

func inTeam(team, related, line string) teamEvent {
	e := inDefault(team, related, line)
	e.namespace, e.regardingNamespace = "team-"+team, "team-"+team
	return e
}

// A team's Events are in default and, while its namespace is the team's, in
// that namespace too; never in a namespace of that name that is not the
// team's, nor in one being deleted.
func TestEventsWhereMembersRead(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, designBlueprint("events"))
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-events-taken"}})
	taken := newTeam("events-taken", "events", user("anna"))
	create(t, taken)
	made := newTeam("events-made", "events", user("anna"))
	made.Spec.Coach = "nobody"
	create(t, made)
	eventuallyCondition(t, "events-taken", teamsv1alpha1.NamespaceReadyCondition, metav1.ConditionFalse, teamsv1alpha1.NamespaceConflictReason)
	eventuallyCondition(t, "events-made", teamsv1alpha1.CoachAssignedCondition, metav1.ConditionFalse, teamsv1alpha1.CoachNotFoundReason)

	conflict := "Warning/NamespaceConflict/Reconcile: Namespace team-events-taken exists and was not made by buurt for this team, " +
		"so buurt changes nothing in it; rename the team or remove that namespace"
	g.Eventually(func(g Gomega) []teamEvent { return teamEvents(g, taken) }).WithTimeout(timeout).Should(Equal([]teamEvent{
		inDefault("events-taken", "", conflict),
	}))
	created := "Normal/NamespaceCreated/Reconcile: Created namespace team-events-made"
	noCoach := `Warning/CoachNotFound/Reconcile: Coach "nobody" does not exist; choose another or ask for it to be created`
	want := []teamEvent{
		inDefault("events-made", "Namespace team-events-made", created),
		inDefault("events-made", "", noCoach),
		inTeam("events-made", "Namespace team-events-made", created),
		inTeam("events-made", "", noCoach),
	}
	g.Eventually(func(g Gomega) []teamEvent { return teamEvents(g, made) }).WithTimeout(timeout).Should(ConsistOf(want))

	// A namespace being deleted takes no new objects: the team's Events go
	// to default only. (envtest runs no namespace controller, so it stays
	// Terminating.)
	g.Expect(env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-events-made"}})).To(Succeed())
	eventuallyCondition(t, "events-made", teamsv1alpha1.NamespaceReadyCondition, metav1.ConditionFalse, teamsv1alpha1.NamespaceTerminatingReason)
	want = append(want, inDefault("events-made", "",
		"Warning/NamespaceTerminating/Reconcile: Namespace team-events-made is being deleted; buurt makes it again once it is gone"))
	g.Eventually(func(g Gomega) []teamEvent { return teamEvents(g, made) }).WithTimeout(timeout).Should(ConsistOf(want))
	g.Consistently(func(g Gomega) []teamEvent { return teamEvents(g, made) }).WithTimeout(2 * time.Second).Should(ConsistOf(want))
}
