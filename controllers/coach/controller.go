// Package coach reconciles Coaches: a coach supports, read-only, the teams
// that chose them, oldest first, up to maxTeams.
package coach

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/apply"
	"github.com/buurt-dev/buurt/internal/index"
	"github.com/buurt-dev/buurt/internal/metrics"
	"github.com/buurt-dev/buurt/internal/render"
)

// AccessFinalizer holds a coach until every access buurt gave them is gone:
// access is revoked before the coach disappears, not whenever the garbage
// collector gets to it.
const AccessFinalizer = "teams.buurt.dev/coach-access"

// Reconciler gives each coach read access to the teams they support.
type Reconciler struct {
	// Client reads through the manager's cache.
	Client client.Client
	// Recorder records Events on coaches.
	Recorder recorder.EventRecorder
	// Applier applies RBAC objects with server-side apply.
	Applier *apply.Applier
}

// NewReconciler wires a Reconciler to the manager.
func NewReconciler(mgr ctrl.Manager) *Reconciler {
	return &Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("buurt"),
		Applier:  apply.New(mgr.GetClient()),
	}
}

// +kubebuilder:rbac:groups=teams.buurt.dev,resources=coaches,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=coaches/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=neighbourhoodteams,verbs=get;list;watch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=teamblueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings;clusterroles;clusterrolebindings,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller. Teams are mapped to the coach
// they chose, and on a change of coach to the one they left too; the team
// index of package index must be set up first.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := metrics.Register(collector{reader: r.Client}); err != nil {
		return fmt.Errorf("failed to register coach metrics: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&teamsv1alpha1.Coach{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&rbacv1.ClusterRole{}).
		Owns(&rbacv1.ClusterRoleBinding{}).
		Watches(&teamsv1alpha1.NeighbourhoodTeam{}, teamCoaches{}).
		Complete(r)
}

// teamCoaches enqueues the coach a team chose and, when it changed, the one
// it chose before.
type teamCoaches struct{}

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

func enqueueCoach(q queue, o client.Object) {
	if name := o.(*teamsv1alpha1.NeighbourhoodTeam).Spec.Coach; name != "" {
		q.Add(reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
	}
}

func (teamCoaches) Create(_ context.Context, e event.CreateEvent, q queue) { enqueueCoach(q, e.Object) }
func (teamCoaches) Delete(_ context.Context, e event.DeleteEvent, q queue) { enqueueCoach(q, e.Object) }
func (teamCoaches) Generic(_ context.Context, e event.GenericEvent, q queue) {
	enqueueCoach(q, e.Object)
}

func (teamCoaches) Update(_ context.Context, e event.UpdateEvent, q queue) {
	enqueueCoach(q, e.ObjectOld)
	enqueueCoach(q, e.ObjectNew)
}

var _ handler.EventHandler = teamCoaches{}

// Reconcile accepts the oldest teams that chose the coach, up to maxTeams,
// gives the coach read access to each, takes it away from every other team,
// and reports it.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	coach := &teamsv1alpha1.Coach{}
	if err := r.Client.Get(ctx, req.NamespacedName, coach); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !coach.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.reconcileDelete(ctx, coach)
	}
	if !controllerutil.ContainsFinalizer(coach, AccessFinalizer) {
		patch := client.MergeFrom(coach.DeepCopy())
		controllerutil.AddFinalizer(coach, AccessFinalizer)
		if err := r.Client.Patch(ctx, coach, patch); err != nil {
			return reconcile.Result{}, fmt.Errorf("failed to add the access finalizer to coach %s: %w", klog.KObj(coach), err)
		}
	}
	before := coach.DeepCopy()

	teams := &teamsv1alpha1.NeighbourhoodTeamList{}
	if err := r.Client.List(ctx, teams, client.MatchingFields{index.TeamCoach: coach.Name}); err != nil {
		return reconcile.Result{}, fmt.Errorf("failed to list the teams of coach %s: %w", klog.KObj(coach), err)
	}
	accepted, waiting := Accept(teams.Items, int(coach.Spec.MaxTeams), coach.Status.Teams)

	bound := sets.New[string]()
	var pending, forbidden []string
	for _, team := range accepted {
		ok, err := r.bind(ctx, coach, team)
		switch {
		case apierrors.IsForbidden(err):
			forbidden = append(forbidden, team.Name)
		case err != nil:
			return reconcile.Result{}, err
		case ok:
			bound.Insert(team.Name)
		default:
			pending = append(pending, team.Name)
		}
	}
	if err := r.pruneBindings(ctx, coach, bound); err != nil {
		return reconcile.Result{}, err
	}
	supported := names(accepted)
	slices.Sort(supported)
	if err := r.reconcileTeamAccess(ctx, coach, supported); err != nil {
		return reconcile.Result{}, err
	}

	coach.Status.Teams = supported
	coach.Status.TeamCount = int32(len(accepted)) //nolint:gosec // at most maxTeams, bounded by the CRD
	coach.Status.WaitingTeams = names(waiting)
	coach.Status.ObservedGeneration = coach.Generation
	setStatusConditions(coach, pending, forbidden)
	r.recordChanges(before, coach)
	if equality.Semantic.DeepEqual(before.Status, coach.Status) {
		return reconcile.Result{}, nil
	}
	if err := r.Client.Status().Patch(ctx, coach, client.MergeFrom(before)); err != nil {
		return reconcile.Result{}, fmt.Errorf("failed to update status of coach %s: %w", klog.KObj(coach), err)
	}
	return reconcile.Result{}, nil
}

// Accept splits the teams that chose a coach into those the coach supports
// and those that wait, in line. Teams the coach already supports (current)
// keep their place, so a team never loses its coach to one that merely
// showed up later; free places go to the oldest waiting teams (by creation
// time, then name). With fewer places than supported teams, the newest lose
// theirs. Teams being deleted are neither.
func Accept(teams []teamsv1alpha1.NeighbourhoodTeam, maxTeams int, current []string) (accepted, waiting []*teamsv1alpha1.NeighbourhoodTeam) {
	supported := sets.New(current...)
	var incumbents, others []*teamsv1alpha1.NeighbourhoodTeam
	for i := range teams {
		switch t := &teams[i]; {
		case !t.DeletionTimestamp.IsZero():
		case supported.Has(t.Name):
			incumbents = append(incumbents, t)
		default:
			others = append(others, t)
		}
	}
	oldestFirst := func(a, b *teamsv1alpha1.NeighbourhoodTeam) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	}
	slices.SortFunc(incumbents, oldestFirst)
	slices.SortFunc(others, oldestFirst)
	if len(incumbents) > maxTeams {
		others = slices.Concat(incumbents[maxTeams:], others)
		slices.SortFunc(others, oldestFirst)
		incumbents = incumbents[:maxTeams]
	}
	free := min(maxTeams-len(incumbents), len(others))
	accepted = slices.Concat(incumbents, others[:free])
	slices.SortFunc(accepted, oldestFirst)
	return accepted, others[free:]
}

func names(teams []*teamsv1alpha1.NeighbourhoodTeam) []string {
	out := make([]string, 0, len(teams))
	for _, t := range teams {
		out = append(out, t.Name)
	}
	return out
}

// bind gives the coach the blueprint's coachRole in the team's namespace. It
// is false, with nothing done, while the namespace is not buurt's for this
// team or the blueprint is missing: a coach never gets access to a namespace
// buurt does not manage.
func (r *Reconciler) bind(ctx context.Context, coach *teamsv1alpha1.Coach, team *teamsv1alpha1.NeighbourhoodTeam) (bool, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: team.NamespaceName()}, ns); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(ns, team) || !ns.DeletionTimestamp.IsZero() {
		return false, nil
	}
	blueprint := &teamsv1alpha1.TeamBlueprint{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: team.Spec.Blueprint}, blueprint); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if err := r.Applier.Apply(ctx, render.CoachRoleBinding(coach, team, blueprint), &rbacv1.RoleBinding{}); err != nil {
		return false, fmt.Errorf("failed to give coach %s access to team %s: %w", klog.KObj(coach), klog.KObj(team), err)
	}
	return true, nil
}

// pruneBindings removes the coach's RoleBindings in the namespaces of teams
// not in keep.
func (r *Reconciler) pruneBindings(ctx context.Context, coach *teamsv1alpha1.Coach, keep sets.Set[string]) error {
	bindings := &rbacv1.RoleBindingList{}
	if err := r.Client.List(ctx, bindings, client.MatchingLabels(render.CoachLabels(coach))); err != nil {
		return fmt.Errorf("failed to list the RoleBindings of coach %s: %w", klog.KObj(coach), err)
	}
	for i := range bindings.Items {
		b := &bindings.Items[i]
		if keep.Has(b.Labels[teamsv1alpha1.TeamLabel]) || !metav1.IsControlledBy(b, coach) {
			continue
		}
		if err := r.Client.Delete(ctx, b); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to take coach %s's access to namespace %s: %w", klog.KObj(coach), b.Namespace, err)
		}
		r.Applier.Forget(b)
	}
	return nil
}

// reconcileTeamAccess lets the coach read the NeighbourhoodTeams they
// support, by name; with none, the role and its binding go (a role with no
// names would grant every team).
func (r *Reconciler) reconcileTeamAccess(ctx context.Context, coach *teamsv1alpha1.Coach, teams []string) error {
	if len(teams) > 0 {
		if err := r.Applier.Apply(ctx, render.CoachTeamsClusterRole(coach, teams), &rbacv1.ClusterRole{}); err != nil {
			return fmt.Errorf("failed to let coach %s read their teams: %w", klog.KObj(coach), err)
		}
		if err := r.Applier.Apply(ctx, render.CoachTeamsClusterRoleBinding(coach), &rbacv1.ClusterRoleBinding{}); err != nil {
			return fmt.Errorf("failed to let coach %s read their teams: %w", klog.KObj(coach), err)
		}
		return nil
	}
	name := render.CoachTeamsName(coach)
	for _, obj := range []client.Object{
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}},
	} {
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		if !metav1.IsControlledBy(obj, coach) {
			continue
		}
		if err := r.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to delete %T %s of coach %s: %w", obj, name, klog.KObj(coach), err)
		}
		r.Applier.Forget(obj)
	}
	return nil
}

// reconcileDelete takes every access away from a coach being deleted, then
// lets it go. Its teams report CoachNotFound.
func (r *Reconciler) reconcileDelete(ctx context.Context, coach *teamsv1alpha1.Coach) error {
	if !controllerutil.ContainsFinalizer(coach, AccessFinalizer) {
		return nil
	}
	if err := errors.Join(r.pruneBindings(ctx, coach, nil), r.reconcileTeamAccess(ctx, coach, nil)); err != nil {
		return err
	}
	patch := client.MergeFrom(coach.DeepCopy())
	controllerutil.RemoveFinalizer(coach, AccessFinalizer)
	if err := r.Client.Patch(ctx, coach, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to remove the access finalizer from coach %s: %w", klog.KObj(coach), err)
	}
	return nil
}

func setStatusConditions(coach *teamsv1alpha1.Coach, pending, forbidden []string) {
	set := func(conditionType string, ok bool, reason, message string) {
		status := metav1.ConditionFalse
		if ok {
			status = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&coach.Status.Conditions, metav1.Condition{
			Type: conditionType, Status: status, Reason: reason, Message: message, ObservedGeneration: coach.Generation,
		})
	}
	full := coach.Status.TeamCount >= coach.Spec.MaxTeams
	switch {
	case full && len(coach.Status.WaitingTeams) > 0:
		set(teamsv1alpha1.AtCapacityCondition, true, teamsv1alpha1.CapacityReachedReason,
			fmt.Sprintf("Supports %d of at most %d teams; waiting: %s", coach.Status.TeamCount, coach.Spec.MaxTeams,
				strings.Join(coach.Status.WaitingTeams, ", ")))
	case full:
		set(teamsv1alpha1.AtCapacityCondition, true, teamsv1alpha1.CapacityReachedReason,
			fmt.Sprintf("Supports %d of at most %d teams", coach.Status.TeamCount, coach.Spec.MaxTeams))
	default:
		set(teamsv1alpha1.AtCapacityCondition, false, teamsv1alpha1.HasCapacityReason,
			fmt.Sprintf("Supports %d of at most %d teams", coach.Status.TeamCount, coach.Spec.MaxTeams))
	}
	switch {
	case len(forbidden) > 0:
		set(teamsv1alpha1.ReadyCondition, false, teamsv1alpha1.AccessForbiddenReason,
			fmt.Sprintf("buurt may not bind the coachRole of teams %s: grant the operator's ServiceAccount the bind verb on it, "+
				"or use buurt:coach", strings.Join(forbidden, ", ")))
	case len(pending) > 0:
		set(teamsv1alpha1.ReadyCondition, false, teamsv1alpha1.WaitingForNamespaceReason,
			fmt.Sprintf("Access is given once these teams' namespaces are ready: %s", strings.Join(pending, ", ")))
	default:
		set(teamsv1alpha1.ReadyCondition, true, teamsv1alpha1.ReconciledReason,
			fmt.Sprintf("Read access to %d teams", coach.Status.TeamCount))
	}
}

// recordChanges records an Event on the coach for each team accepted or
// released.
func (r *Reconciler) recordChanges(before, after *teamsv1alpha1.Coach) {
	was, now := sets.New(before.Status.Teams...), sets.New(after.Status.Teams...)
	for _, team := range sets.List(now.Difference(was)) {
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, teamsv1alpha1.TeamAcceptedReason, "Reconcile",
			"Supports team %s, read-only", team)
	}
	for _, team := range sets.List(was.Difference(now)) {
		r.Recorder.Eventf(after, nil, corev1.EventTypeNormal, teamsv1alpha1.TeamReleasedReason, "Reconcile",
			"No longer supports team %s; its access is removed", team)
	}
}
