package coach

import (
	"errors"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

func teams(names ...string) []*teamsv1alpha1.NeighbourhoodTeam {
	out := make([]*teamsv1alpha1.NeighbourhoodTeam, 0, len(names))
	for _, n := range names {
		out = append(out, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	return out
}

// condition is what a test expects of one condition.
type condition struct {
	status          metav1.ConditionStatus
	reason, message string
}

func TestSetStatus(t *testing.T) {
	// The status the coach had before, at generation 2.
	previous := teamsv1alpha1.CoachStatus{ObservedGeneration: 2, Teams: []string{"old"}, TeamCount: 1}
	bindFailed := fmt.Errorf("failed to give coach jan access to team b: %w", errors.New("connection refused"))
	listFailed := fmt.Errorf("failed to list the teams of coach jan: %w", errors.New("connection refused"))
	forbidden := fmt.Errorf("failed to list the teams of coach jan: %w",
		apierrors.NewForbidden(schema.GroupResource{Group: "teams.buurt.dev", Resource: "neighbourhoodteams"}, "", errors.New("no")))
	// Expectations several cases share.
	roomFor2 := condition{metav1.ConditionFalse, teamsv1alpha1.HasCapacityReason, "Supports 2 of at most 3 teams"}
	full := condition{metav1.ConditionTrue, teamsv1alpha1.CapacityReachedReason, "Supports 3 of at most 3 teams"}
	retrying := condition{metav1.ConditionUnknown, teamsv1alpha1.ReconcileErrorReason,
		"Could not check or change the coach's access; what is in place is kept and buurt tries again"}
	const unread = "Could not read the teams that chose the coach; buurt tries again"
	cases := []struct {
		name  string
		scope scope
		err   error

		teams, waiting     []string
		teamCount          int32
		atCapacity, ready  condition
		observedGeneration int64
	}{
		{
			name:  "room for more",
			scope: scope{teamsRead: true, accepted: teams("b", "a")},
			teams: []string{"a", "b"}, waiting: []string{}, teamCount: 2,
			atCapacity:         roomFor2,
			ready:              condition{metav1.ConditionTrue, teamsv1alpha1.ReconciledReason, "Read access to 2 teams"},
			observedGeneration: 3,
		},
		{
			name:  "at capacity with teams waiting",
			scope: scope{teamsRead: true, accepted: teams("a", "b", "c"), waiting: teams("e", "d")},
			teams: []string{"a", "b", "c"}, waiting: []string{"e", "d"}, teamCount: 3,
			atCapacity: condition{metav1.ConditionTrue, teamsv1alpha1.CapacityReachedReason,
				"Supports 3 of at most 3 teams; waiting: e, d"},
			ready:              condition{metav1.ConditionTrue, teamsv1alpha1.ReconciledReason, "Read access to 3 teams"},
			observedGeneration: 3,
		},
		{
			name:  "at capacity with nobody waiting",
			scope: scope{teamsRead: true, accepted: teams("a", "b", "c")},
			teams: []string{"a", "b", "c"}, waiting: []string{}, teamCount: 3,
			atCapacity:         full,
			ready:              condition{metav1.ConditionTrue, teamsv1alpha1.ReconciledReason, "Read access to 3 teams"},
			observedGeneration: 3,
		},
		{
			name:  "bindings buurt may not make",
			scope: scope{teamsRead: true, accepted: teams("a", "b", "c"), forbidden: []string{"b", "c"}, pending: []string{"a"}},
			teams: []string{"a", "b", "c"}, waiting: []string{}, teamCount: 3,
			atCapacity: full,
			ready: condition{metav1.ConditionFalse, teamsv1alpha1.AccessForbiddenReason,
				"buurt may not bind the coachRole of teams b, c: grant the operator's ServiceAccount the bind verb on it, or use buurt:coach"},
			observedGeneration: 3,
		},
		{
			name: "coachRoles buurt does not bind",
			scope: scope{teamsRead: true, accepted: teams("a", "b", "c"), pending: []string{"a"}, unfit: map[string][]string{
				"ClusterRole x lacks the label": {"b", "c"}, "ClusterRole y does not exist": {"a"},
			}},
			teams: []string{"a", "b", "c"}, waiting: []string{}, teamCount: 3,
			atCapacity: full,
			ready: condition{metav1.ConditionFalse, teamsv1alpha1.RoleNotAllowedReason,
				"buurt does not bind the coachRole of teams b, c: ClusterRole x lacks the label; teams a: ClusterRole y does not exist"},
			observedGeneration: 3,
		},
		{
			name:  "namespaces still on their way",
			scope: scope{teamsRead: true, accepted: teams("a", "b"), pending: []string{"a", "b"}},
			teams: []string{"a", "b"}, waiting: []string{}, teamCount: 2,
			atCapacity: roomFor2,
			ready: condition{metav1.ConditionFalse, teamsv1alpha1.WaitingForNamespaceReason,
				"Access is given once these teams' namespaces are ready: a, b"},
			observedGeneration: 3,
		},
		{
			name:  "a binding failed: the teams are reported, the pass is not",
			scope: scope{teamsRead: true, accepted: teams("a", "b"), pending: []string{"a"}},
			err:   bindFailed,
			teams: []string{"a", "b"}, waiting: []string{}, teamCount: 2,
			atCapacity:         roomFor2,
			ready:              retrying,
			observedGeneration: 2,
		},
		{
			name:  "the teams could not be read: the status keeps them",
			scope: scope{},
			err:   listFailed,
			teams: []string{"old"}, teamCount: 1,
			atCapacity:         condition{metav1.ConditionUnknown, teamsv1alpha1.ReconcileErrorReason, unread},
			ready:              retrying,
			observedGeneration: 2,
		},
		{
			name:  "buurt may not read the teams",
			scope: scope{},
			err:   forbidden,
			teams: []string{"old"}, teamCount: 1,
			atCapacity: condition{metav1.ConditionUnknown, teamsv1alpha1.ForbiddenReason, unread},
			ready: condition{metav1.ConditionFalse, teamsv1alpha1.ForbiddenReason,
				"buurt may not read or change the coach's access; grant the operator's ServiceAccount the permissions of config/rbac"},
			observedGeneration: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			coach := &teamsv1alpha1.Coach{
				ObjectMeta: metav1.ObjectMeta{Name: "jan", Generation: 3},
				Spec:       teamsv1alpha1.CoachSpec{MaxTeams: 3},
				Status:     *previous.DeepCopy(),
			}
			s := tc.scope
			s.coach = coach
			setStatus(&s, tc.err)

			g.Expect(coach.Status.Teams).To(Equal(tc.teams))
			g.Expect(coach.Status.TeamCount).To(Equal(tc.teamCount))
			g.Expect(coach.Status.WaitingTeams).To(Equal(tc.waiting))
			g.Expect(coach.Status.ObservedGeneration).To(Equal(tc.observedGeneration))
			g.Expect(coach.Status.Conditions).To(HaveLen(2))
			for conditionType, want := range map[string]condition{
				teamsv1alpha1.AtCapacityCondition: tc.atCapacity,
				teamsv1alpha1.ReadyCondition:      tc.ready,
			} {
				got := meta.FindStatusCondition(coach.Status.Conditions, conditionType)
				g.Expect(got).NotTo(BeNil(), conditionType)
				g.Expect(condition{got.Status, got.Reason, got.Message}).To(Equal(want), conditionType)
				g.Expect(got.ObservedGeneration).To(Equal(int64(3)), conditionType)
			}
		})
	}
}
