package team

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/patch"
)

// reconcileDelete keeps or drops the team's database by its reclaim policy,
// then lets the team go. Everything inside Kubernetes is garbage collected.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) error {
	team := s.team
	if !controllerutil.ContainsFinalizer(team, DatabaseFinalizer) {
		return nil
	}
	class := teamsv1alpha1.DatabaseClassShared
	if team.Status.Database != nil && team.Status.Database.Class != "" {
		class = team.Status.Database.Class
	} else if s.blueprint != nil {
		class, _ = databaseClass(team, s.blueprint)
	}
	if class == teamsv1alpha1.DatabaseClassDedicated {
		return r.deleteDedicated(ctx, s)
	}
	return r.deleteShared(ctx, s)
}

// deleteShared keeps the team's database and role on the shared server, or
// drops them; the finalizer holds until the server answers.
func (r *Reconciler) deleteShared(ctx context.Context, s *scope) error {
	team := s.team
	name := databaseName(team)
	// Without a blueprint that names the server, buurt cannot reach the
	// database: it is kept, whatever the policy.
	if s.blueprint == nil || s.blueprint.Spec.Database.Shared.AdminSecretName == "" {
		r.retained(ctx, s, fmt.Sprintf("Database %s on the shared server is kept: the team's blueprint no longer names the server", name),
			"drop it by hand when it is no longer needed")
		return patch.RemoveFinalizer(ctx, r.Client, team, DatabaseFinalizer)
	}
	if reclaimPolicy(team, s.blueprint) == teamsv1alpha1.ReclaimPolicyRetain {
		where := "the shared server"
		locked := "; buurt could not reach the server to take the password off role " + name +
			", so whoever knew it can still log in: run ALTER ROLE " + name + " NOLOGIN PASSWORD NULL"
		if server, admin, ok, err := r.sharedServer(ctx, s); err == nil && ok {
			where = admin.Host + ":" + admin.Port
			if _, err := r.lockShared(ctx, server, team); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "Failed to take the password off a kept database's role", "role", name)
			} else {
				locked = "; its role cannot log in and has no password any more, so nobody who knew the team's logs in with it"
			}
		}
		r.retained(ctx, s, fmt.Sprintf("Database %s on %s is kept (reclaimPolicy Retain)%s", name, where, locked),
			"drop it by hand when it is no longer needed, or make a team of the same name to use it again")
		return patch.RemoveFinalizer(ctx, r.Client, team, DatabaseFinalizer)
	}

	server, admin, ok, err := r.sharedServer(ctx, s)
	if !ok || err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sharedPhaseTimeout)
	defer cancel()
	tenant, err := server.Tenant(ctx, team.Name)
	if err == nil {
		err = server.Drop(ctx, tenant)
	}
	switch conflict := (*database.ConflictError)(nil); {
	case errors.As(err, &conflict):
		// Nothing there is the team's: nothing is dropped. The Event does
		// not name what is there (it may be the admin user); the log does.
		ctrl.LoggerFrom(ctx).Info("Dropping nothing: the team's database name is taken on the shared server", "conflict", conflict.Error())
		r.Recorder.Eventf(ctx, team, nil, corev1.EventTypeWarning, teamsv1alpha1.DatabaseConflictReason, "Delete",
			"Dropped nothing on %s:%s: it %s", admin.Host, admin.Port, conflictWords(conflict))
		return patch.RemoveFinalizer(ctx, r.Client, team, DatabaseFinalizer)
	case database.IsServerError(err):
		// The finalizer holds until the server answers.
		r.serverDown(ctx, s, admin, err)
		return nil
	case err != nil:
		return fmt.Errorf("failed to drop the database of team %s: %w", klog.KObj(team), err)
	}
	name = tenant.Name
	r.Recorder.Eventf(ctx, team, nil, corev1.EventTypeNormal, teamsv1alpha1.DatabaseDeletedReason, "Delete",
		"Dropped database and role %s on %s:%s (reclaimPolicy Delete)", name, admin.Host, admin.Port)
	return patch.RemoveFinalizer(ctx, r.Client, team, DatabaseFinalizer)
}

// lockShared closes the role of a kept database (database.Lock), within the
// phase's deadline, and returns the team's tenant: for a team deleted whose
// members, who could read the password, leave with it (deleting does not
// wait for a server that does not answer), and for an Archived team.
func (r *Reconciler) lockShared(ctx context.Context, server *database.SharedServer, team *teamsv1alpha1.NeighbourhoodTeam) (database.Tenant, error) {
	ctx, cancel := context.WithTimeout(ctx, sharedPhaseTimeout)
	defer cancel()
	tenant, err := server.Tenant(ctx, team.Name)
	if err != nil {
		return tenant, err
	}
	return tenant, server.Lock(ctx, tenant)
}

// deleteDedicated makes sure, before the namespace and its claims go, that
// the volumes holding a Dedicated database follow the reclaim policy.
func (r *Reconciler) deleteDedicated(ctx context.Context, s *scope) error {
	team := s.team
	name := databaseName(team)
	policy := reclaimPolicy(team, s.blueprint)
	volumes, err := r.reconcileVolumes(ctx, team, policy)
	if err != nil {
		return err
	}
	switch {
	case policy == teamsv1alpha1.ReclaimPolicyDelete:
		r.Recorder.Eventf(ctx, team, nil, corev1.EventTypeNormal, teamsv1alpha1.DatabaseDeletedReason, "Delete",
			"Database %s is deleted with the team's namespace (reclaimPolicy Delete)", name)
	case len(volumes) == 0:
		r.retained(ctx, s, fmt.Sprintf("Database %s had no volume bound yet; there is no data to keep", name), "")
	default:
		r.retained(ctx, s, fmt.Sprintf("Database %s is kept on PersistentVolume %s (reclaimPolicy Retain)", name, strings.Join(volumes, ", ")),
			"bind a new claim to it to use the data again, or delete it when it is no longer needed")
	}
	return patch.RemoveFinalizer(ctx, r.Client, team, DatabaseFinalizer)
}

// retained tells, in the log, an Event and the condition, where a deleted
// team's data is kept and what to do with it.
func (r *Reconciler) retained(ctx context.Context, s *scope, where, next string) {
	team := s.team
	ctrl.LoggerFrom(ctx).Info("Keeping the team's database", "where", where)
	note := where
	if next != "" {
		note += "; " + next
	}
	r.Recorder.Eventf(ctx, team, nil, corev1.EventTypeNormal, teamsv1alpha1.RetainedReason, "Delete", "%s", note)
	s.found(teamsv1alpha1.DatabaseReadyCondition, metav1.ConditionFalse, teamsv1alpha1.RetainedReason, where)
}

// databaseName is the name of the team's database, as recorded in status.
func databaseName(team *teamsv1alpha1.NeighbourhoodTeam) string {
	if team.Status.Database != nil && team.Status.Database.Name != "" {
		return team.Status.Database.Name
	}
	return database.Name(team.Name)
}
