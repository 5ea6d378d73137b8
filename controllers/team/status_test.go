package team

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// condition is what a test expects of one condition.
type condition struct {
	status          metav1.ConditionStatus
	reason, message string
}

const (
	T = metav1.ConditionTrue
	F = metav1.ConditionFalse
	U = metav1.ConditionUnknown
)

// allFound is a pass in which every phase found its part in order.
func allFound() map[string]finding {
	return map[string]finding{
		teamsv1alpha1.NamespaceReadyCondition: {T, teamsv1alpha1.ReconciledReason, "Namespace team-t is ready"},
		teamsv1alpha1.AccessReadyCondition:    {T, teamsv1alpha1.ReconciledReason, "1 member entries have access"},
		teamsv1alpha1.QuotaReadyCondition:     {T, teamsv1alpha1.ReconciledReason, "The blueprint's quota and limits are in place"},
		teamsv1alpha1.DatabaseReadyCondition:  {T, teamsv1alpha1.DatabaseNotRequestedReason, "The team has no database (class None)"},
		teamsv1alpha1.NetworkReadyCondition:   {T, teamsv1alpha1.ReconciledReason, "4 NetworkPolicies isolate the namespace"},
		teamsv1alpha1.AppsReadyCondition:      {T, teamsv1alpha1.NoAppsReason, "The team runs no apps"},
		teamsv1alpha1.CoachAssignedCondition:  {F, teamsv1alpha1.NoCoachReason, "The team has not chosen a coach (spec.coach)"},
	}
}

func without(findings map[string]finding, conditionTypes ...string) map[string]finding {
	for _, t := range conditionTypes {
		delete(findings, t)
	}
	return findings
}

func with(findings map[string]finding, conditionType string, f finding) map[string]finding {
	findings[conditionType] = f
	return findings
}

func TestSetStatus(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "resourcequotas"}, "buurt-quota", errors.New("no"))
	invalid := apierrors.NewInvalid(schema.GroupKind{Kind: "ResourceQuota"}, "buurt-quota",
		field.ErrorList{field.Invalid(field.NewPath("spec", "hard", "pods"), "-5", "must be greater than or equal to 0")})
	// Each case gets its own copy: setStatus changes conditions in place.
	readyBefore := func() []metav1.Condition {
		return []metav1.Condition{{Type: teamsv1alpha1.ReadyCondition, Status: T, Reason: teamsv1alpha1.ReconciledReason,
			Message: "The team's workspace is ready", ObservedGeneration: 1}}
	}

	cases := []struct {
		name string
		// before is the team's status before the pass; the pass saw
		// generation 2.
		before                teamsv1alpha1.NeighbourhoodTeamStatus
		members               int
		dormant               bool
		noBlueprint, deleting bool
		findings              map[string]finding
		failed                map[string]error
		want                  map[string]condition
		phase                 teamsv1alpha1.TeamPhase
		generation            int64
	}{
		{
			name: "every phase found its part: Ready and Active", members: 1, findings: allFound(),
			want: map[string]condition{
				teamsv1alpha1.ReadyCondition:           {T, teamsv1alpha1.ReconciledReason, "The team's workspace is ready"},
				teamsv1alpha1.SizeWithinLimitCondition: {T, teamsv1alpha1.WithinLimitReason, "1 of at most 3 members"},
				teamsv1alpha1.CoachAssignedCondition:   {F, teamsv1alpha1.NoCoachReason, "The team has not chosen a coach (spec.coach)"},
			},
			phase: teamsv1alpha1.TeamPhaseActive, generation: 2,
		},
		{
			name: "ready and asleep: Dormant", members: 1, dormant: true, findings: allFound(),
			want:  map[string]condition{teamsv1alpha1.ReadyCondition: {T, teamsv1alpha1.ReconciledReason, "The team's workspace is ready"}},
			phase: teamsv1alpha1.TeamPhaseDormant, generation: 2,
		},
		{
			name:    "a forbidden apply turns a Ready team not Ready in the same pass",
			before:  teamsv1alpha1.NeighbourhoodTeamStatus{Phase: teamsv1alpha1.TeamPhaseActive, ObservedGeneration: 1, Conditions: readyBefore()},
			members: 1, findings: without(allFound(), teamsv1alpha1.QuotaReadyCondition),
			failed: map[string]error{teamsv1alpha1.QuotaReadyCondition: forbidden},
			want: map[string]condition{
				teamsv1alpha1.QuotaReadyCondition: {F, teamsv1alpha1.ForbiddenReason,
					`resourcequotas "buurt-quota" is forbidden: no; grant buurt's ServiceAccount that permission, or remove what stops it`},
				teamsv1alpha1.ReadyCondition: {F, teamsv1alpha1.ForbiddenReason,
					`QuotaReady: resourcequotas "buurt-quota" is forbidden: no; grant buurt's ServiceAccount that permission, or remove what stops it`},
			},
			phase: teamsv1alpha1.TeamPhaseDegraded, generation: 1,
		},
		{
			name: "a refused object is Rejected with the apiserver's words", members: 1,
			findings: without(allFound(), teamsv1alpha1.QuotaReadyCondition),
			failed:   map[string]error{teamsv1alpha1.QuotaReadyCondition: invalid},
			want: map[string]condition{
				teamsv1alpha1.QuotaReadyCondition: {F, teamsv1alpha1.RejectedReason,
					`The apiserver refused it: ResourceQuota "buurt-quota" is invalid: spec.hard.pods: Invalid value: "-5": must be greater than or equal to 0`},
			},
			phase: teamsv1alpha1.TeamPhaseForming,
		},
		{
			name: "a phase that explains its own error", members: 1,
			findings: without(allFound(), teamsv1alpha1.AccessReadyCondition),
			failed: map[string]error{teamsv1alpha1.AccessReadyCondition: &reportedError{
				finding: finding{F, teamsv1alpha1.AccessForbiddenReason, "buurt may not bind ClusterRole x"}, err: forbidden}},
			want: map[string]condition{
				teamsv1alpha1.AccessReadyCondition: {F, teamsv1alpha1.AccessForbiddenReason, "buurt may not bind ClusterRole x"},
				teamsv1alpha1.ReadyCondition:       {F, teamsv1alpha1.AccessForbiddenReason, "AccessReady: buurt may not bind ClusterRole x"},
			},
			phase: teamsv1alpha1.TeamPhaseForming,
		},
		{
			name: "an error buurt cannot explain is Unknown, and a False condition comes first in Ready", members: 1,
			findings: with(without(allFound(), teamsv1alpha1.NetworkReadyCondition), teamsv1alpha1.AppsReadyCondition,
				finding{F, teamsv1alpha1.ImageNotAllowedReason, "App x is not deployed"}),
			failed: map[string]error{teamsv1alpha1.NetworkReadyCondition: errors.New("connection refused")},
			want: map[string]condition{
				teamsv1alpha1.NetworkReadyCondition: {U, teamsv1alpha1.ReconcileErrorReason,
					"buurt could not check or apply this and keeps what is in place; it tries again: connection refused"},
				teamsv1alpha1.ReadyCondition: {F, teamsv1alpha1.ImageNotAllowedReason,
					"AppsReady: App x is not deployed (also not ready: NetworkReady)"},
			},
			phase: teamsv1alpha1.TeamPhaseForming,
		},
		{
			name: "only Unknown conditions: Ready is Unknown", members: 1,
			findings: with(allFound(), teamsv1alpha1.DatabaseReadyCondition,
				finding{U, teamsv1alpha1.ServerUnreachableReason, "Shared database server db:5432 does not answer"}),
			want: map[string]condition{
				teamsv1alpha1.ReadyCondition: {U, teamsv1alpha1.ServerUnreachableReason, "DatabaseReady: Shared database server db:5432 does not answer"},
			},
			phase: teamsv1alpha1.TeamPhaseForming, generation: 2,
		},
		{
			// Every phase did its work, so the pass is observed; the team is
			// still not Ready, as its apps cannot reach the database.
			name:    "a Shared database its pods cannot reach turns a Ready team not Ready",
			before:  teamsv1alpha1.NeighbourhoodTeamStatus{Phase: teamsv1alpha1.TeamPhaseActive, ObservedGeneration: 1, Conditions: readyBefore()},
			members: 1,
			findings: with(allFound(), teamsv1alpha1.DatabaseReadyCondition,
				finding{F, teamsv1alpha1.NoDatabaseEgressReason, "Database buurt_t on db:5432 is made; set spec.database.shared.egress"}),
			want: map[string]condition{
				teamsv1alpha1.DatabaseReadyCondition: {F, teamsv1alpha1.NoDatabaseEgressReason,
					"Database buurt_t on db:5432 is made; set spec.database.shared.egress"},
				teamsv1alpha1.ReadyCondition: {F, teamsv1alpha1.NoDatabaseEgressReason,
					"DatabaseReady: Database buurt_t on db:5432 is made; set spec.database.shared.egress"},
			},
			phase: teamsv1alpha1.TeamPhaseDegraded, generation: 2,
		},
		{
			name: "a namespace buurt did not make: nothing inside is made", members: 1,
			findings: map[string]finding{
				teamsv1alpha1.NamespaceReadyCondition: {F, teamsv1alpha1.NamespaceConflictReason, "Namespace team-t exists"},
			},
			want: map[string]condition{
				teamsv1alpha1.AccessReadyCondition: {F, teamsv1alpha1.WaitingForNamespaceReason, "Made once the team's namespace is buurt's and ready"},
				teamsv1alpha1.AppsReadyCondition:   {F, teamsv1alpha1.WaitingForNamespaceReason, "Made once the team's namespace is buurt's and ready"},
				teamsv1alpha1.ReadyCondition: {F, teamsv1alpha1.NamespaceConflictReason,
					"NamespaceReady: Namespace team-t exists (also not ready: AccessReady, QuotaReady, DatabaseReady, NetworkReady, AppsReady)"},
			},
			phase: teamsv1alpha1.TeamPhaseForming, generation: 2,
		},
		{
			name: "too many members", members: 4, findings: allFound(),
			want: map[string]condition{
				teamsv1alpha1.SizeWithinLimitCondition: {F, teamsv1alpha1.TooManyMembersReason,
					"The team has 4 members and its blueprint allows 3; buurt teams grow by splitting into a second team"},
				teamsv1alpha1.ReadyCondition: {F, teamsv1alpha1.TooManyMembersReason,
					"SizeWithinLimit: The team has 4 members and its blueprint allows 3; buurt teams grow by splitting into a second team"},
			},
			phase: teamsv1alpha1.TeamPhaseForming, generation: 2,
		},
		{
			name:        "no blueprint: the workspace is left as it was and Ready says why",
			before:      teamsv1alpha1.NeighbourhoodTeamStatus{Phase: teamsv1alpha1.TeamPhaseActive, ObservedGeneration: 1, Conditions: readyBefore()},
			noBlueprint: true, findings: map[string]finding{},
			want: map[string]condition{
				teamsv1alpha1.ReadyCondition: {F, teamsv1alpha1.BlueprintNotFoundReason,
					`TeamBlueprint "gone" does not exist; the workspace is made when it is created`},
			},
			phase: teamsv1alpha1.TeamPhaseDegraded, generation: 1,
		},
		{
			name:        "the blueprint could not be read",
			before:      teamsv1alpha1.NeighbourhoodTeamStatus{Phase: teamsv1alpha1.TeamPhaseActive, ObservedGeneration: 1, Conditions: readyBefore()},
			noBlueprint: true, findings: map[string]finding{},
			failed: map[string]error{teamsv1alpha1.ReadyCondition: errors.New("timeout")},
			want: map[string]condition{
				teamsv1alpha1.ReadyCondition: {U, teamsv1alpha1.ReconcileErrorReason,
					"buurt could not check or apply this and keeps what is in place; it tries again: timeout"},
			},
			phase: teamsv1alpha1.TeamPhaseDegraded, generation: 1,
		},
		{
			name:     "deleting: Terminating, with what the delete found",
			before:   teamsv1alpha1.NeighbourhoodTeamStatus{Phase: teamsv1alpha1.TeamPhaseActive, ObservedGeneration: 1, Conditions: readyBefore()},
			deleting: true, members: 1,
			findings: map[string]finding{teamsv1alpha1.DatabaseReadyCondition: {F, teamsv1alpha1.RetainedReason, "Database x is kept"}},
			want: map[string]condition{
				teamsv1alpha1.DatabaseReadyCondition: {F, teamsv1alpha1.RetainedReason, "Database x is kept"},
				teamsv1alpha1.ReadyCondition:         {T, teamsv1alpha1.ReconciledReason, "The team's workspace is ready"},
			},
			phase: teamsv1alpha1.TeamPhaseTerminating, generation: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			team := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "t", Generation: 2}, Status: tc.before}
			team.Spec.Blueprint = "gone"
			for range tc.members {
				team.Spec.Members = append(team.Spec.Members, teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna"})
			}
			if tc.dormant {
				team.Spec.Lifecycle = teamsv1alpha1.LifecycleDormant
			}
			// The pass works dormant out from the lifecycle (readSleep).
			s := &scope{team: team, generation: 2, findings: tc.findings, failed: tc.failed, deleting: tc.deleting, dormant: tc.dormant}
			if s.failed == nil {
				s.failed = map[string]error{}
			}
			if !tc.noBlueprint {
				s.blueprint = &teamsv1alpha1.TeamBlueprint{Spec: teamsv1alpha1.TeamBlueprintSpec{MaxMembers: 3}}
			}
			setStatus(s)

			got := map[string]condition{}
			for _, c := range team.Status.Conditions {
				g.Expect(c.ObservedGeneration).To(BeElementOf(int64(1), int64(2)), c.Type)
				got[c.Type] = condition{c.Status, c.Reason, c.Message}
			}
			for conditionType, want := range tc.want {
				g.Expect(got).To(HaveKeyWithValue(conditionType, want))
			}
			g.Expect(team.Status.Phase).To(Equal(tc.phase))
			g.Expect(team.Status.ObservedGeneration).To(Equal(tc.generation))
		})
	}
}

// The status fields a phase observed replace what was there; those of a
// phase that did not get that far stay.
func TestSetStatusKeepsWhatWasNotObserved(t *testing.T) {
	g := NewWithT(t)
	db := &teamsv1alpha1.TeamDatabaseStatus{Class: teamsv1alpha1.DatabaseClassShared, Name: "buurt_t", SecretName: "t-db"}
	team := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "t", Generation: 1}, Status: teamsv1alpha1.NeighbourhoodTeamStatus{
		Namespace: "team-t", Database: db, Apps: []teamsv1alpha1.AppStatus{{Name: "rota"}},
	}}
	ns := "team-t"
	apps := []teamsv1alpha1.AppStatus{{Name: "rota", DesiredReplicas: 1, AvailableReplicas: 1}}
	s := &scope{team: team, generation: 1, namespace: &ns, apps: &apps, findings: allFound(), failed: map[string]error{},
		blueprint: &teamsv1alpha1.TeamBlueprint{Spec: teamsv1alpha1.TeamBlueprintSpec{MaxMembers: 3}}}
	setStatus(s)
	g.Expect(team.Status.Namespace).To(Equal("team-t"))
	g.Expect(team.Status.Database).To(Equal(db))
	g.Expect(team.Status.Apps).To(Equal(apps))

	var none *teamsv1alpha1.TeamDatabaseStatus
	s.database = &none
	setStatus(s)
	g.Expect(team.Status.Database).To(BeNil())
}
