package team

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// DatabaseFinalizer holds a team with a database until its data is kept or
// deleted by its reclaim policy: a Shared database lives outside Kubernetes,
// where garbage collection cannot reach, and a Dedicated one's volumes must
// be switched to Retain before the namespace and its claims go.
const DatabaseFinalizer = "teams.buurt.dev/database"

// databaseClass is the team's database class: fixed in status once its
// database exists, else the team's override, else the blueprint's.
func databaseClass(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) (class, wanted teamsv1alpha1.DatabaseClass) {
	wanted = blueprint.Spec.Database.Class
	if team.Spec.Database != nil && team.Spec.Database.Class != "" {
		wanted = team.Spec.Database.Class
	}
	if team.Status.Database != nil && team.Status.Database.Class != "" {
		return team.Status.Database.Class, wanted
	}
	return wanted, wanted
}

// reclaimPolicy is the team's override, else the blueprint's, else Retain.
func reclaimPolicy(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) teamsv1alpha1.ReclaimPolicy {
	if team.Spec.Database != nil && team.Spec.Database.ReclaimPolicy != "" {
		return team.Spec.Database.ReclaimPolicy
	}
	if blueprint != nil && blueprint.Spec.Database.ReclaimPolicy != "" {
		return blueprint.Spec.Database.ReclaimPolicy
	}
	return teamsv1alpha1.ReclaimPolicyRetain
}

// reconcileDatabase provisions the team's database by its class.
func (r *Reconciler) reconcileDatabase(ctx context.Context, s *scope) error {
	team := s.team
	class, wanted := databaseClass(team, s.blueprint)
	if class != wanted {
		// The blueprint can describe one class only: the database is left as
		// it is, reachable as before, and its volumes still follow the
		// reclaim policy.
		s.keepDatabaseEgress = true
		if class == teamsv1alpha1.DatabaseClassDedicated {
			if _, err := r.reconcileVolumes(ctx, team, reclaimPolicy(team, s.blueprint)); err != nil {
				return err
			}
		}
		s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.DatabaseClassMismatchReason,
			fmt.Sprintf("The team's database is %s but its blueprint or override now says %s; buurt leaves the database as it is "+
				"and does not move data: migrate it and make a new team, or set the class back", class, wanted))
		return nil
	}
	switch class {
	case teamsv1alpha1.DatabaseClassShared:
		return r.reconcileShared(ctx, s)
	case teamsv1alpha1.DatabaseClassDedicated:
		return r.reconcileDedicated(ctx, s)
	default:
		var none *teamsv1alpha1.TeamDatabaseStatus
		s.database = &none
		s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionTrue, teamsv1alpha1.DatabaseNotRequestedReason,
			"The team has no database (class None)")
		return nil
	}
}
