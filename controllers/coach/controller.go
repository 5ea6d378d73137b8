// Package coach reconciles Coaches: a coach supports, read-only, the teams
// that chose them, oldest first, up to maxTeams.
package coach

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
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
	"github.com/buurt-dev/buurt/internal/patch"
	"github.com/buurt-dev/buurt/internal/teamrole"
)

// AccessFinalizer holds a coach until every access buurt gave them is gone:
// access is revoked before the coach disappears, not whenever the garbage
// collector gets to it.
const AccessFinalizer = "teams.buurt.dev/coach-access"

// Reconciler gives each coach read access to the teams they support.
type Reconciler struct {
	// Client reads through the manager's cache.
	Client client.Client
	// Roles reads the ClusterRoles fit for teams (teamrole.NewReader); set
	// by SetupWithManager.
	Roles client.Reader
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
	roles, err := teamrole.NewReader(mgr)
	if err != nil {
		return err
	}
	r.Roles = roles
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

// scope is what one reconcile of a coach observed and decided; the status is
// computed from it, also when a phase failed.
type scope struct {
	coach *teamsv1alpha1.Coach
	// teamsRead is true once the teams that chose the coach were read. Until
	// then nothing is known of them, and the status keeps the teams it had.
	teamsRead bool
	// accepted are the teams the coach supports, oldest first; waiting are
	// those in line.
	accepted, waiting []*teamsv1alpha1.NeighbourhoodTeam
	// pending are accepted teams whose namespace is not (yet) buurt's or
	// whose blueprint is missing: the coach is given no access there.
	pending []string
	// forbidden are accepted teams whose coachRole buurt may not bind.
	forbidden []string
	// unfit are accepted teams whose coachRole buurt does not bind (not
	// labelled fit for coaches, or gone), by why.
	unfit map[string][]string
}

// supported are the names of the accepted teams, sorted.
func (s *scope) supported() []string {
	out := names(s.accepted)
	slices.Sort(out)
	return out
}

// Reconcile accepts the oldest teams that chose the coach, up to maxTeams,
// gives the coach read access to each, takes it away from every other team,
// and reports it. The status is computed from what the phases observed and
// written once, at the end, also when a phase failed.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	coach := &teamsv1alpha1.Coach{}
	if err := r.Client.Get(ctx, req.NamespacedName, coach); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !coach.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.reconcileDelete(ctx, coach)
	}
	if err := patch.AddFinalizer(ctx, r.Client, coach, AccessFinalizer); err != nil {
		return reconcile.Result{}, err
	}
	before := coach.DeepCopy()
	s := &scope{coach: coach}
	defer func() {
		setStatus(s, reterr)
		// The teams accepted and released are announced once the status
		// that records them is written over the status they were decided
		// from: a read older than the last write would announce them again.
		if err := patch.StatusIfCurrent(ctx, r.Client, before, coach); err != nil {
			reterr = errors.Join(reterr, err)
			return
		}
		r.recordChanges(before, coach)
	}()
	return reconcile.Result{}, r.reconcileNormal(ctx, s)
}

// reconcileNormal decides which teams the coach supports and gives and takes
// access accordingly. Nothing is decided without the teams; after that, the
// RoleBindings and the role to read the teams are independent, and a failure
// of one does not hold up the other.
func (r *Reconciler) reconcileNormal(ctx context.Context, s *scope) error {
	if err := r.reconcileTeams(ctx, s); err != nil {
		return err
	}
	return errors.Join(r.reconcileBindings(ctx, s), r.reconcileTeamAccess(ctx, s.coach, s.supported()))
}

// reconcileTeams reads the teams that chose the coach and splits them into
// the accepted and the waiting.
func (r *Reconciler) reconcileTeams(ctx context.Context, s *scope) error {
	teams := &teamsv1alpha1.NeighbourhoodTeamList{}
	if err := r.Client.List(ctx, teams, client.MatchingFields{index.TeamCoach: s.coach.Name}); err != nil {
		return fmt.Errorf("failed to list the teams of coach %s: %w", klog.KObj(s.coach), err)
	}
	s.accepted, s.waiting = Accept(teams.Items, int(s.coach.Spec.MaxTeams), s.coach.Status.Teams)
	s.teamsRead = true
	return nil
}

// reconcileDelete takes every access away from a coach being deleted, then
// lets it go. Its teams report CoachNotFound.
func (r *Reconciler) reconcileDelete(ctx context.Context, coach *teamsv1alpha1.Coach) error {
	if !controllerutil.ContainsFinalizer(coach, AccessFinalizer) {
		return nil
	}
	if err := errors.Join(r.pruneBindings(ctx, coach, nil), r.removeTeamAccess(ctx, coach)); err != nil {
		return err
	}
	return patch.RemoveFinalizer(ctx, r.Client, coach, AccessFinalizer)
}

// Accept splits the teams that chose a coach into those the coach supports
// and those that wait, in line. Teams the coach already supports (current)
// keep their place, so a team never loses its coach to one that merely
// showed up later; free places go to the oldest waiting teams (by creation
// time, then name). With fewer places than supported teams, the newest lose
// theirs. Teams being deleted, and Archived teams (released: they come back
// in line when un-archived), are neither.
func Accept(teams []teamsv1alpha1.NeighbourhoodTeam, maxTeams int, current []string) (accepted, waiting []*teamsv1alpha1.NeighbourhoodTeam) {
	supported := sets.New(current...)
	var incumbents, others []*teamsv1alpha1.NeighbourhoodTeam
	for i := range teams {
		switch t := &teams[i]; {
		case !t.DeletionTimestamp.IsZero(), t.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived:
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
