package myteams_test

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/myteams"
)

func user(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: name}
}

func group(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindGroup, Name: name}
}

func team(name string, members ...teamsv1alpha1.Subject) teamsv1alpha1.NeighbourhoodTeam {
	return teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: teamsv1alpha1.NeighbourhoodTeamSpec{Members: members}}
}

func coach(name string, subject teamsv1alpha1.Subject, supports ...string) teamsv1alpha1.Coach {
	c := teamsv1alpha1.Coach{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: teamsv1alpha1.CoachSpec{Subject: subject}}
	c.Status.Teams = supports
	return c
}

// roles is what Parts gives, as team name → role (→ coaches).
func roles(parts []myteams.Part) map[string]string {
	out := map[string]string{}
	for _, p := range parts {
		out[p.Team.Name] = string(p.Role)
		for _, c := range p.Coaches {
			out[p.Team.Name] += " " + c
		}
	}
	return out
}

func TestParts(t *testing.T) {
	teams := []teamsv1alpha1.NeighbourhoodTeam{
		team("north-riverside", user("anna@care.example.org"), user("bram@care.example.org")),
		team("north-hillside", group("hillside-nurses")),
		team("south-harbour", user("cor@care.example.org")),
		// A user named like a group is not the group, and the other way round.
		team("east-park", user("hillside-nurses"), group("anna@care.example.org")),
	}
	coaches := []teamsv1alpha1.Coach{
		coach("jan", user("jan@care.example.org"), "north-riverside", "south-harbour"),
		coach("regional-coaches", group("coaches-north"), "north-hillside"),
		// Someone else's coach, and a coach whose teams wait (not in
		// status.teams): neither counts.
		coach("els", user("els@care.example.org"), "east-park"),
	}
	for _, tc := range []struct {
		name   string
		person myteams.Person
		all    bool
		want   map[string]string
	}{
		{"a member by user and by group", myteams.Person{User: "anna@care.example.org", Groups: []string{"hillside-nurses", "system:authenticated"}}, false,
			map[string]string{"north-riverside": "Member", "north-hillside": "Member"}},
		{"a coach sees the teams their coach supports", myteams.Person{User: "jan@care.example.org", Groups: []string{"system:authenticated"}}, false,
			map[string]string{"north-riverside": "Coach jan", "south-harbour": "Coach jan"}},
		{"a coach by group, and a member of another team", myteams.Person{User: "cor@care.example.org", Groups: []string{"coaches-north"}}, false,
			map[string]string{"north-hillside": "Coach regional-coaches", "south-harbour": "Member"}},
		{"a member who also coaches the team is a member", myteams.Person{User: "anna@care.example.org", Groups: []string{"coaches-north", "hillside-nurses"}}, false,
			map[string]string{"north-riverside": "Member", "north-hillside": "Member"}},
		{"someone in no team sees none", myteams.Person{User: "piet@care.example.org", Groups: []string{"system:authenticated"}}, false,
			map[string]string{}},
		{"a platform engineer sees all, their own part first", myteams.Person{User: "cor@care.example.org"}, true,
			map[string]string{"north-riverside": "PlatformEngineer", "north-hillside": "PlatformEngineer",
				"south-harbour": "Member", "east-park": "PlatformEngineer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(roles(myteams.Parts(tc.person, teams, coaches, tc.all))).To(Equal(tc.want))
		})
	}
}
