// Package split plans how a NeighbourhoodTeam splits in two (a TeamSplit):
// the new team's spec, the source's after the split, what copying the
// database costs the source, and every rule the result would break. The
// plan is computed from what is, changes nothing, and is what a split
// carries out once approved.
package split

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/message"
)

// World is what a plan depends on beyond the split itself, as the caller
// read it.
type World struct {
	// Source is the team that splits; nil when it does not exist.
	Source *teamsv1alpha1.NeighbourhoodTeam
	// Blueprint is the source's blueprint; nil when it does not exist.
	Blueprint *teamsv1alpha1.TeamBlueprint
	// NewTeamTaken says a NeighbourhoodTeam of the new team's name exists
	// that this split did not make.
	NewTeamTaken bool
	// NamespaceTaken says the namespace team-<new name> exists and is not
	// the one of a team this split made.
	NamespaceTaken bool
	// DatabaseSize is the size in bytes of the source's database, for a
	// copy; nil when it was not read.
	DatabaseSize *int64
}

// Plan is what the split would do in w.
func Plan(s *teamsv1alpha1.TeamSplit, w World) teamsv1alpha1.TeamSplitPlan {
	source := w.Source
	if source == nil {
		return teamsv1alpha1.TeamSplitPlan{
			Summary:  fmt.Sprintf("team %s does not exist", s.Spec.Source),
			Problems: []string{fmt.Sprintf("team %s does not exist: spec.source names the team that splits", s.Spec.Source)},
		}
	}
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch {
	case !source.DeletionTimestamp.IsZero():
		problem("team %s is being deleted", source.Name)
	case source.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived:
		problem("team %s is Archived: a platform engineer brings it back (lifecycle: Active) before it can split", source.Name)
	}

	moving, staying := splitMembers(source.Spec.Members, s.Spec.Members, problem, source.Name)
	movingApps, stayingApps := splitApps(source.Spec.Apps, s.Spec.Apps, problem, source.Name)

	if len(staying) == 0 {
		problem("team %s would be left with no member: keep at least one", source.Name)
	}
	if bp := w.Blueprint; bp == nil {
		problem("blueprint %s of team %s does not exist", source.Spec.Blueprint, source.Name)
	} else if limit := bp.Spec.MaxMembers; limit > 0 && int32(len(moving)) > limit { //nolint:gosec // at most 100, the CRD's bound
		problem("team %s would have %d members, more than blueprint %s allows (%d)", s.Spec.NewTeam.Name, len(moving), bp.Name, limit)
	}
	if w.NewTeamTaken {
		problem("a team named %s exists: choose another name for the new team", s.Spec.NewTeam.Name)
	}
	if w.NamespaceTaken {
		problem("namespace team-%s exists: choose another name for the new team", s.Spec.NewTeam.Name)
	}
	copyText := databaseCopy(s, source, w.DatabaseSize, problem)

	newTeam := source.Spec.DeepCopy()
	newTeam.Neighbourhood = cmp.Or(s.Spec.NewTeam.Neighbourhood, source.Spec.Neighbourhood)
	newTeam.Coach = s.Spec.NewTeam.Coach
	newTeam.Members = moving
	newTeam.Apps = movingApps
	newTeam.Lifecycle = teamsv1alpha1.LifecycleActive
	newTeam.Credentials = nil
	after := source.Spec.DeepCopy()
	after.Members = staying
	after.Apps = stayingApps

	return teamsv1alpha1.TeamSplitPlan{
		NewTeam:      newTeam,
		Source:       after,
		Summary:      summary(s, source, moving, movingApps, problems),
		DatabaseCopy: copyText,
		Problems:     problems,
	}
}

// splitMembers parts the source's members into those that move and those
// that stay; a moving member who is not the source's is a problem.
func splitMembers(members, move []teamsv1alpha1.Subject, problem func(string, ...any), team string) (moving, staying []teamsv1alpha1.Subject) {
	for i, m := range move {
		if slices.Contains(move[:i], m) {
			problem("%s %s is listed twice in spec.members", m.Kind, m.Name)
			continue
		}
		if !slices.Contains(members, m) {
			problem("%s %s is not a member of team %s: only its members can move", m.Kind, m.Name, team)
			continue
		}
		moving = append(moving, m)
	}
	for _, m := range members {
		if !slices.Contains(move, m) {
			staying = append(staying, m)
		}
	}
	return moving, staying
}

// splitApps parts the source's own apps into those that move and those
// that stay; a moving app the source does not have is a problem.
func splitApps(apps []teamsv1alpha1.App, move []string, problem func(string, ...any), team string) (moving, staying []teamsv1alpha1.App) {
	for _, name := range move {
		if !slices.ContainsFunc(apps, func(a teamsv1alpha1.App) bool { return a.Name == name }) {
			problem("team %s has no app %s of its own (spec.apps); a blueprint's apps run in both teams", team, name)
		}
	}
	for _, a := range apps {
		if slices.Contains(move, a.Name) {
			moving = append(moving, a)
		} else {
			staying = append(staying, a)
		}
	}
	return moving, staying
}

// databaseCopy says what copying the source's database costs it, or why
// it cannot be copied.
func databaseCopy(s *teamsv1alpha1.TeamSplit, source *teamsv1alpha1.NeighbourhoodTeam, size *int64, problem func(string, ...any)) string {
	if s.Spec.Database != teamsv1alpha1.SplitDatabaseCopy {
		return ""
	}
	class := teamsv1alpha1.DatabaseClass("")
	if db := source.Status.Database; db != nil {
		class = db.Class
	}
	switch class {
	case teamsv1alpha1.DatabaseClassShared:
	case teamsv1alpha1.DatabaseClassDedicated:
		problem("team %s's database is Dedicated, which buurt cannot copy: choose database: Empty and copy the data "+
			"with pg_dump and pg_restore (docs/splitting.md)", source.Name)
		return ""
	default:
		problem("team %s has no database to copy: choose database: Empty", source.Name)
		return ""
	}
	long := "for as long as the copy takes, which depends on the database's size (buurt could not read it yet)"
	if size != nil {
		long = fmt.Sprintf("while its database (%s) is copied: about %s", database.Mebibytes(*size),
			database.CopyEstimate(*size).Round(time.Second))
	}
	return fmt.Sprintf("team %s's workloads stop %s, plus the time they take to stop and start again; every session on its "+
		"database ends (CREATE DATABASE … TEMPLATE needs none). The new team's database is then a copy, its own", source.Name, long)
}

// summary is the plan in one line.
func summary(s *teamsv1alpha1.TeamSplit, source *teamsv1alpha1.NeighbourhoodTeam, moving []teamsv1alpha1.Subject,
	apps []teamsv1alpha1.App, problems []string) string {
	if len(problems) > 0 {
		return fmt.Sprintf("refused: %s", message.Count(len(problems), "problem"))
	}
	return fmt.Sprintf("%d of %d members and %d of %d apps move to %s; database %s", len(moving), len(source.Spec.Members),
		len(apps), len(source.Spec.Apps), s.Spec.NewTeam.Name, cmp.Or(string(s.Spec.Database), string(teamsv1alpha1.SplitDatabaseEmpty)))
}
