package split

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
)

const (
	// copyPassTimeout bounds the work on the server in one pass, besides
	// the copy itself, which has its own (database.CopyTimeout).
	copyPassTimeout = 20 * time.Second
	// pauseLimit is how long the source's workloads may stay stopped for a
	// copy that has not begun (the server does not answer, its workloads
	// do not stop) before the step fails and they start again. A copy that
	// has begun has its own deadline on top of it.
	pauseLimit = 10 * time.Minute
	// copyRetry is how soon the step looks again at what it waits for
	// and no watch brings: the source's namespace, the server.
	copyRetry = 5 * time.Second
)

// copyDatabase copies the source's Shared database for the new team. While
// this step runs, the team controller stops the source's workloads (as for
// sleep) and brings them back once it is done or failed; the copy begins
// once every one is stopped. The new team's database is made by the copy
// only (the team controller waits for it, AwaitingCopy).
func (r *Reconciler) copyDatabase(ctx context.Context, s *teamsv1alpha1.TeamSplit, step *teamsv1alpha1.TeamSplitStep) (outcome, error) {
	since := time.Now()
	if step.State == teamsv1alpha1.StepRunning && step.LastTransitionTime != nil {
		since = step.LastTransitionTime.Time
	}
	paused := time.Since(since)
	source := &teamsv1alpha1.NeighbourhoodTeam{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: s.Spec.Source}, source); err != nil {
		if apierrors.IsNotFound(err) {
			return failing("team %s is gone", s.Spec.Source), nil
		}
		return outcome{}, err
	}
	ns := &corev1.Namespace{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: source.NamespaceName()}, ns); err != nil {
		return outcome{}, fmt.Errorf("failed to read namespace %s: %w", source.NamespaceName(), err)
	}
	if ns.Annotations[teamsv1alpha1.SleepAnnotation] != teamsv1alpha1.SleepStopped {
		if paused > pauseLimit {
			return failing("team %s's workloads did not stop within %s, so its database was not copied; they run again, "+
				"and team %s gets an empty database", source.Name, pauseLimit, s.Spec.NewTeam.Name), nil
		}
		out := waiting("stopping team %s's workloads, so that nobody is connected to its database while it is copied", source.Name)
		out.requeue = copyRetry
		return out, nil
	}

	server, where, problem, err := r.sharedServer(ctx, source)
	if err != nil {
		return outcome{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, copyPassTimeout)
	defer cancel()
	var from, to database.Tenant
	var size int64
	if problem == "" {
		from, to, size, err = tenants(ctx, server, source.Name, s.Spec.NewTeam.Name)
	}
	if err == nil && problem == "" {
		if !from.Found || !to.Found {
			return failing("team %s or %s has no database role on %s that buurt made", source.Name, s.Spec.NewTeam.Name, where), nil
		}
		began := time.Now()
		// The copy's own deadline, past this pass's.
		copyCtx, cancelCopy := context.WithTimeout(context.WithoutCancel(ctx), database.CopyTimeout(size)+copyPassTimeout)
		defer cancelCopy()
		if err = server.Copy(copyCtx, from, to, database.CopyTimeout(size)); err == nil {
			took := time.Since(began).Round(time.Second)
			ctrl.LoggerFrom(ctx).Info("Copied a team's database for a split", "from", from.Name, "to", to.Name, "bytes", size, "took", took)
			return outcome{done: true, event: &event{corev1.EventTypeNormal, "DatabaseCopied", fmt.Sprintf(
				"Copied team %s's database (%s) for team %s in %s, with team %s's workloads stopped for %s; they start again",
				source.Name, database.Mebibytes(size), s.Spec.NewTeam.Name, took, source.Name, time.Since(since).Round(time.Second)), ""}}, nil
		}
	}
	var conflict *database.ConflictError
	switch {
	case errors.As(err, &conflict), errors.Is(err, database.ErrNotACopy):
		ctrl.LoggerFrom(ctx).Info("A split's database copy met a database it does not take over", "server", where, "error", err.Error())
		return failing("the copy was not made: shared database server %s has a database of team %s's name already, "+
			"which buurt does not overwrite; team %s's workloads run again", where, s.Spec.NewTeam.Name, source.Name), nil
	case err != nil && !database.IsServerError(err):
		return outcome{}, err
	case err != nil:
		ctrl.LoggerFrom(ctx).Error(err, "A split's database copy failed on the shared server", "server", where)
		problem = fmt.Sprintf("shared database server %s %s", where, database.Explain(err))
	}
	if paused > pauseLimit {
		return failing("the database was not copied within %s (%s); team %s's workloads run again, and team %s gets an empty database",
			pauseLimit, problem, source.Name, s.Spec.NewTeam.Name), nil
	}
	out := waiting("team %s's workloads are stopped; the copy waits: %s. buurt tries again until %s have passed", source.Name,
		problem, pauseLimit)
	out.requeue = copyRetry
	return out, nil
}

// tenants are the two teams' roles on the server, and the size of the
// source's database.
func tenants(ctx context.Context, server *database.SharedServer, source, newTeam string) (from, to database.Tenant, size int64, err error) {
	if from, err = server.Tenant(ctx, source); err != nil {
		return
	}
	if to, err = server.Tenant(ctx, newTeam); err != nil {
		return
	}
	size, err = server.Size(ctx, from.Name)
	return
}

// sharedServer is the pool of the team's blueprint's shared server, from
// the admin Secret in the operator's namespace (read past the cache,
// which holds only buurt's own Secrets), and where it is. problem says, in
// words a team may read, why buurt cannot reach it.
func (r *Reconciler) sharedServer(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) (
	server *database.SharedServer, where, problem string, err error) {
	bp := &teamsv1alpha1.TeamBlueprint{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: cmp.Or(team.Spec.Blueprint, teamsv1alpha1.DefaultBlueprintName)}, bp); err != nil {
		return nil, "", "", fmt.Errorf("failed to read the blueprint of team %s: %w", team.Name, err)
	}
	name := bp.Spec.Database.Shared.AdminSecretName
	if name == "" {
		return nil, "", fmt.Sprintf("blueprint %s names no shared server", bp.Name), nil
	}
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", fmt.Sprintf("the shared server's admin Secret %s/%s does not exist", r.Namespace, name), nil
		}
		return nil, "", "", fmt.Errorf("failed to read admin Secret %s/%s: %w", r.Namespace, name, err)
	}
	admin, bad := database.ParseAdmin(secret.Data)
	if bad != "" {
		return nil, "", fmt.Sprintf("admin Secret %s/%s has no valid %q", r.Namespace, name, bad), nil
	}
	where = admin.Host + ":" + admin.Port
	if server, err = r.Databases.Get(ctx, admin); err != nil {
		return nil, where, fmt.Sprintf("admin Secret %s/%s does not make a valid connection", r.Namespace, name), nil
	}
	return server, where, "", nil
}

// databaseSize is the size of the team's Shared database, for the plan;
// nil, with the reason in the log, when buurt cannot read it now.
func (r *Reconciler) databaseSize(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) *int64 {
	if team.Status.Database == nil || team.Status.Database.Class != teamsv1alpha1.DatabaseClassShared {
		return nil
	}
	server, _, problem, err := r.sharedServer(ctx, team)
	if err != nil || problem != "" {
		ctrl.LoggerFrom(ctx).Info("Cannot read the size of a team's database for a split's plan", "team", team.Name,
			"problem", problem, "error", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, copyPassTimeout)
	defer cancel()
	size, err := server.Size(ctx, team.Status.Database.Name)
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("Cannot read the size of a team's database for a split's plan", "team", team.Name, "error", err.Error())
		return nil
	}
	return &size
}
