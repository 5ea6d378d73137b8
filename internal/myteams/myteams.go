// Package myteams decides which NeighbourhoodTeams a person has a part in,
// and which part: the teams they are a member of (by user name or by one
// of their groups), the teams they coach (a Coach whose subject they are
// has accepted the team), or every team for someone who may list them all
// (a platform engineer). It is the heart of "my teams" (issue 19): what
// it does not return, the person is never shown, not even that it exists.
package myteams

import (
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Person is who asks: a user name and the groups the apiserver
// authenticated them with.
type Person struct {
	User   string
	Groups []string
}

// Is tells whether s is the person: their user name, or one of their groups.
func (p Person) Is(s teamsv1alpha1.Subject) bool {
	switch s.Kind {
	case teamsv1alpha1.SubjectKindUser:
		return s.Name == p.User
	case teamsv1alpha1.SubjectKindGroup:
		return slices.Contains(p.Groups, s.Name)
	}
	return false
}

// Part is a team as one person has a part in it.
type Part struct {
	Team *teamsv1alpha1.NeighbourhoodTeam
	Role myv1alpha1.Role
	// Coaches names the person's coaches that support the team, for
	// myv1alpha1.RoleCoach.
	Coaches []string
}

// RoleIn is the person's part in team, "" for none. coached maps a team's
// name to the names of the person's coaches that support it (Coached);
// all is true for someone who may list every team. Being a member comes
// first, then coaching, then seeing all.
func RoleIn(p Person, team *teamsv1alpha1.NeighbourhoodTeam, coached map[string][]string, all bool) myv1alpha1.Role {
	switch {
	case slices.ContainsFunc(team.Spec.Members, p.Is):
		return myv1alpha1.RoleMember
	case len(coached[team.Name]) > 0:
		return myv1alpha1.RoleCoach
	case all:
		return myv1alpha1.RolePlatformEngineer
	}
	return ""
}

// Coached maps the name of each team one of the person's coaches supports
// (the Coach's status.teams: accepted, not waiting) to those coaches'
// names. A coach is the person's when its subject is them or one of their
// groups.
func Coached(p Person, coaches []teamsv1alpha1.Coach) map[string][]string {
	out := map[string][]string{}
	for i := range coaches {
		c := &coaches[i]
		if !p.Is(c.Spec.Subject) {
			continue
		}
		for _, team := range c.Status.Teams {
			out[team] = append(out[team], c.Name)
		}
	}
	return out
}

// PartIn is the person's part in team (RoleIn), with the coaches that
// make it theirs for a coach; false for none.
func PartIn(p Person, team *teamsv1alpha1.NeighbourhoodTeam, coached map[string][]string, all bool) (Part, bool) {
	switch role := RoleIn(p, team, coached, all); role {
	case "":
		return Part{}, false
	case myv1alpha1.RoleCoach:
		return Part{Team: team, Role: role, Coaches: coached[team.Name]}, true
	default:
		return Part{Team: team, Role: role}, true
	}
}

// Parts are the person's parts in teams, in the order of teams.
func Parts(p Person, teams []teamsv1alpha1.NeighbourhoodTeam, coaches []teamsv1alpha1.Coach, all bool) []Part {
	coached := Coached(p, coaches)
	var out []Part
	for i := range teams {
		if part, ok := PartIn(p, &teams[i], coached, all); ok {
			out = append(out, part)
		}
	}
	return out
}

// View is the team as the person with this part in it sees it.
func View(part Part) myv1alpha1.Team {
	t := part.Team
	view := myv1alpha1.Team{
		TypeMeta: metav1.TypeMeta{APIVersion: myv1alpha1.GroupVersion.String(), Kind: "Team"},
		ObjectMeta: metav1.ObjectMeta{
			Name: t.Name, UID: t.UID, ResourceVersion: t.ResourceVersion, CreationTimestamp: t.CreationTimestamp,
			Labels: maps.Clone(t.Labels),
		},
		Status: myv1alpha1.TeamStatus{
			Role: part.Role, Coaches: slices.Clone(part.Coaches), Phase: string(t.Status.Phase), Namespace: t.Status.Namespace,
			Neighbourhood: t.Spec.Neighbourhood, Coach: t.Spec.Coach, MemberCount: int32(len(t.Spec.Members)), //nolint:gosec // at most 50, bounded by the CRD
			Lifecycle: string(t.Spec.Lifecycle),
		},
	}
	if sleep := t.Status.Sleep; sleep != nil {
		view.Status.Sleep, view.Status.NextSleepTransition = string(sleep.State), sleep.NextTransitionTime.DeepCopy()
	}
	if ready := meta.FindStatusCondition(t.Status.Conditions, teamsv1alpha1.ReadyCondition); ready != nil {
		view.Status.Ready, view.Status.Reason = ready.Status, ready.Reason
	}
	return view
}
