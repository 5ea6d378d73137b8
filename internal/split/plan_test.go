package split_test

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/split"
)

func user(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: name}
}

// twelve is a team of 12 with two apps of its own (rota uses the database)
// and a Shared database, asleep on its own hours.
func twelve() *teamsv1alpha1.NeighbourhoodTeam {
	t := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "north-riverside"},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside", Blueprint: "default", Coach: "jan",
			Apps: []teamsv1alpha1.App{
				{Name: "rota", Image: "ghcr.io/care/rota:1", Port: 8080, Database: ptr.To(true)},
				{Name: "wiki", Image: "ghcr.io/care/wiki:2", Port: 8080},
			},
			Sleep:       &teamsv1alpha1.SleepSchedule{SleepAt: "20:00", WakeAt: "07:00", TimeZone: "Europe/Amsterdam"},
			Credentials: &teamsv1alpha1.TeamCredentials{RotationRequest: "2026-11-01"},
		},
		Status: teamsv1alpha1.NeighbourhoodTeamStatus{Database: &teamsv1alpha1.TeamDatabaseStatus{Class: teamsv1alpha1.DatabaseClassShared}},
	}
	for i := range 12 {
		t.Spec.Members = append(t.Spec.Members, user(fmt.Sprintf("nurse-%02d@care.example.org", i)))
	}
	return t
}

func blueprint() *teamsv1alpha1.TeamBlueprint {
	return &teamsv1alpha1.TeamBlueprint{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: teamsv1alpha1.TeamBlueprintSpec{MaxMembers: 12}}
}

func splitOf(members []teamsv1alpha1.Subject, apps []string, database teamsv1alpha1.SplitDatabase) *teamsv1alpha1.TeamSplit {
	return &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "north-riverside-grows"}, Spec: teamsv1alpha1.TeamSplitSpec{
		Source: "north-riverside", NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: "north-hillside", Coach: "marieke"},
		Members: members, Apps: apps, Database: database,
	}}
}

// Five of twelve and one app move with a copy of the database: the new
// team gets exactly them, the source's blueprint, database class and
// hours, its own coach and no rotation request; the source keeps the rest.
func TestPlanOfAGoodSplit(t *testing.T) {
	g := NewWithT(t)
	source := twelve()
	s := splitOf(source.Spec.Members[7:], []string{"rota"}, teamsv1alpha1.SplitDatabaseCopy)
	size := int64(3<<30 + 1)
	plan := split.Plan(s, split.World{Source: source, Blueprint: blueprint(), DatabaseSize: &size})

	g.Expect(plan.Problems).To(BeEmpty())
	g.Expect(plan.Summary).To(Equal("5 of 12 members and 1 of 2 apps move to north-hillside; database Copy"))
	g.Expect(*plan.NewTeam).To(Equal(teamsv1alpha1.NeighbourhoodTeamSpec{
		Neighbourhood: "riverside", Blueprint: "default", Coach: "marieke", Members: source.Spec.Members[7:],
		Apps: source.Spec.Apps[:1], Lifecycle: teamsv1alpha1.LifecycleActive, Sleep: source.Spec.Sleep,
	}))
	g.Expect(*plan.Source).To(Equal(teamsv1alpha1.NeighbourhoodTeamSpec{
		Neighbourhood: "riverside", Blueprint: "default", Coach: "jan", Members: source.Spec.Members[:7],
		Apps: source.Spec.Apps[1:], Sleep: source.Spec.Sleep, Credentials: source.Spec.Credentials,
	}))
	g.Expect(plan.DatabaseCopy).To(Equal("team north-riverside's workloads stop while its database (3073 MiB) is copied: " +
		"about 1m6s, plus the time they take to stop and start again; every session on its database ends " +
		"(CREATE DATABASE … TEMPLATE needs none). The new team's database is then a copy, its own"))
	g.Expect(source.Spec.Members).To(HaveLen(12), "the plan changes nothing it reads")

	unread := split.Plan(s, split.World{Source: source, Blueprint: blueprint()})
	g.Expect(unread.DatabaseCopy).To(Equal("team north-riverside's workloads stop for as long as the copy takes, which depends on " +
		"the database's size (buurt could not read it yet), plus the time they take to stop and start again; every session on " +
		"its database ends (CREATE DATABASE … TEMPLATE needs none). The new team's database is then a copy, its own"))
}

// Each rule the result would break is a problem of its own, said so that
// the team knows what to change.
func TestPlanProblems(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*teamsv1alpha1.TeamSplit, *teamsv1alpha1.NeighbourhoodTeam, *split.World)
		want   []string
	}{
		{"everyone leaves", func(s *teamsv1alpha1.TeamSplit, src *teamsv1alpha1.NeighbourhoodTeam, _ *split.World) {
			s.Spec.Members = src.Spec.Members
		}, []string{"team north-riverside would be left with no member: keep at least one"}},
		{"a stranger moves", func(s *teamsv1alpha1.TeamSplit, _ *teamsv1alpha1.NeighbourhoodTeam, _ *split.World) {
			s.Spec.Members = append(s.Spec.Members, user("bram@care.example.org"))
		}, []string{"User bram@care.example.org is not a member of team north-riverside: only its members can move"}},
		{"a member twice", func(s *teamsv1alpha1.TeamSplit, _ *teamsv1alpha1.NeighbourhoodTeam, _ *split.World) {
			s.Spec.Members = append(s.Spec.Members, s.Spec.Members[0])
		}, []string{"User nurse-07@care.example.org is listed twice in spec.members"}},
		{"a blueprint app", func(s *teamsv1alpha1.TeamSplit, _ *teamsv1alpha1.NeighbourhoodTeam, _ *split.World) {
			s.Spec.Apps = []string{"care-planner"}
		}, []string{"team north-riverside has no app care-planner of its own (spec.apps); a blueprint's apps run in both teams"}},
		{"the name is taken", func(_ *teamsv1alpha1.TeamSplit, _ *teamsv1alpha1.NeighbourhoodTeam, w *split.World) {
			w.NewTeamTaken, w.NamespaceTaken = true, true
		}, []string{"a team named north-hillside exists: choose another name for the new team",
			"namespace team-north-hillside exists: choose another name for the new team"}},
		{"too many for the blueprint", func(_ *teamsv1alpha1.TeamSplit, _ *teamsv1alpha1.NeighbourhoodTeam, w *split.World) {
			w.Blueprint.Spec.MaxMembers = 4
		}, []string{"team north-hillside would have 5 members, more than blueprint default allows (4)"}},
		{"no blueprint", func(_ *teamsv1alpha1.TeamSplit, _ *teamsv1alpha1.NeighbourhoodTeam, w *split.World) {
			w.Blueprint = nil
		}, []string{"blueprint default of team north-riverside does not exist"}},
		{"archived", func(_ *teamsv1alpha1.TeamSplit, src *teamsv1alpha1.NeighbourhoodTeam, _ *split.World) {
			src.Spec.Lifecycle = teamsv1alpha1.LifecycleArchived
		}, []string{"team north-riverside is Archived: a platform engineer brings it back (lifecycle: Active) before it can split"}},
		{"a Dedicated copy", func(_ *teamsv1alpha1.TeamSplit, src *teamsv1alpha1.NeighbourhoodTeam, _ *split.World) {
			src.Status.Database.Class = teamsv1alpha1.DatabaseClassDedicated
		}, []string{"team north-riverside's database is Dedicated, which buurt cannot copy: choose database: Empty and copy " +
			"the data with pg_dump and pg_restore (docs/splitting.md)"}},
		{"nothing to copy", func(_ *teamsv1alpha1.TeamSplit, src *teamsv1alpha1.NeighbourhoodTeam, _ *split.World) {
			src.Status.Database = nil
		}, []string{"team north-riverside has no database to copy: choose database: Empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			source := twelve()
			s := splitOf(source.Spec.Members[7:], []string{"rota"}, teamsv1alpha1.SplitDatabaseCopy)
			w := split.World{Source: source, Blueprint: blueprint()}
			tc.change(s, source, &w)
			plan := split.Plan(s, w)
			g.Expect(plan.Problems).To(Equal(tc.want))
			g.Expect(plan.Summary).To(HavePrefix("refused: "))
		})
	}
}

func TestPlanWithoutTheSource(t *testing.T) {
	plan := split.Plan(splitOf([]teamsv1alpha1.Subject{user("anna@care.example.org")}, nil, ""), split.World{})
	NewWithT(t).Expect(plan).To(Equal(teamsv1alpha1.TeamSplitPlan{
		Summary:  "team north-riverside does not exist",
		Problems: []string{"team north-riverside does not exist: spec.source names the team that splits"},
	}))
}
