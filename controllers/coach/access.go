package coach

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/teamrole"
)

// reconcileBindings gives the coach their RoleBinding in the namespace of
// every accepted team it can, and removes the others. A team whose binding
// could not be checked this time keeps what it has: a passing failure never
// takes access away.
func (r *Reconciler) reconcileBindings(ctx context.Context, s *scope) error {
	keep := sets.New[string]()
	var errs []error
	for _, team := range s.accepted {
		ok, unfit, err := r.bind(ctx, s.coach, team)
		switch {
		case unfit != "":
			if s.unfit == nil {
				s.unfit = map[string][]string{}
			}
			s.unfit[unfit] = append(s.unfit[unfit], team.Name)
		case apierrors.IsForbidden(err):
			s.forbidden = append(s.forbidden, team.Name)
		case err != nil:
			keep.Insert(team.Name)
			errs = append(errs, err)
		case ok:
			keep.Insert(team.Name)
		default:
			s.pending = append(s.pending, team.Name)
		}
	}
	return errors.Join(append(errs, r.pruneBindings(ctx, s.coach, keep))...)
}

// bind gives the coach the blueprint's coachRole in the team's namespace. It
// is false, with nothing done, while the namespace is not buurt's for this
// team or the blueprint is missing: a coach never gets access to a namespace
// buurt does not manage. unfit says why the coachRole is not one buurt binds
// (not labelled fit for coaches, or gone); the binding is then not kept,
// like the members' (controllers/team), since that is an answer and not a
// failure to find out.
func (r *Reconciler) bind(ctx context.Context, coach *teamsv1alpha1.Coach, team *teamsv1alpha1.NeighbourhoodTeam) (ok bool, unfit string, err error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: team.NamespaceName()}, ns); err != nil {
		return false, "", client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(ns, team) || !ns.DeletionTimestamp.IsZero() {
		return false, "", nil
	}
	blueprint := &teamsv1alpha1.TeamBlueprint{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: team.Spec.Blueprint}, blueprint); err != nil {
		return false, "", client.IgnoreNotFound(err)
	}
	unfit, err = teamrole.Check(ctx, r.Roles, blueprint.Spec.CoachRole, teamsv1alpha1.TeamRoleCoach)
	if err != nil || unfit != "" {
		return false, unfit, err
	}
	if err := r.Applier.ApplyBinding(ctx, render.CoachRoleBinding(coach, team, blueprint), &rbacv1.RoleBinding{}); err != nil {
		return false, "", fmt.Errorf("failed to give coach %s access to team %s: %w", klog.KObj(coach), klog.KObj(team), err)
	}
	return true, "", nil
}

// pruneBindings removes the coach's RoleBindings in the namespaces of teams
// not in keep.
func (r *Reconciler) pruneBindings(ctx context.Context, coach *teamsv1alpha1.Coach, keep sets.Set[string]) error {
	return r.Applier.Prune(ctx, coach, &rbacv1.RoleBindingList{},
		func(b client.Object) bool { return keep.Has(b.GetLabels()[teamsv1alpha1.TeamLabel]) },
		client.MatchingLabels(render.CoachLabels(coach)))
}

// reconcileTeamAccess lets the coach read their own Coach and the
// NeighbourhoodTeams they support, by name. The role stays while the coach
// supports no team: their Coach's status is where they see that.
func (r *Reconciler) reconcileTeamAccess(ctx context.Context, coach *teamsv1alpha1.Coach, teams []string) error {
	if err := r.Applier.Apply(ctx, render.CoachTeamsClusterRole(coach, teams), &rbacv1.ClusterRole{}); err != nil {
		return fmt.Errorf("failed to let coach %s read their teams: %w", klog.KObj(coach), err)
	}
	if err := r.Applier.Apply(ctx, render.CoachTeamsClusterRoleBinding(coach), &rbacv1.ClusterRoleBinding{}); err != nil {
		return fmt.Errorf("failed to let coach %s read their teams: %w", klog.KObj(coach), err)
	}
	return nil
}

// removeTeamAccess deletes the ClusterRoleBinding and ClusterRole that let
// the coach read their Coach and their teams.
func (r *Reconciler) removeTeamAccess(ctx context.Context, coach *teamsv1alpha1.Coach) error {
	none := func(client.Object) bool { return false }
	labels := client.MatchingLabels(render.CoachLabels(coach))
	return errors.Join(
		r.Applier.Prune(ctx, coach, &rbacv1.ClusterRoleBindingList{}, none, labels),
		r.Applier.Prune(ctx, coach, &rbacv1.ClusterRoleList{}, none, labels))
}
