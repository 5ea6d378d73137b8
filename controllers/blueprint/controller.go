// Package blueprint reconciles TeamBlueprints' status: how many teams use
// each, and whether those teams fit it.
package blueprint

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/index"
	"github.com/buurt-dev/buurt/internal/patch"
)

// policyRecheck is how long a blueprint waits to look again for admission
// policies that were missing: an installation is fixed in minutes. A look
// is also kept that long, since a blueprint is reconciled on every change
// of one of its teams.
const policyRecheck = 5 * time.Minute

// Reconciler writes each blueprint's status from the cache, from a look at
// buurt's admission policies, and from a look at its shared database server.
type Reconciler struct {
	// Client reads through the manager's cache.
	Client client.Client
	// APIReader reads past the cache: admin Secrets and buurt's admission
	// policies are not in it.
	APIReader client.Reader
	// Recorder records Events on blueprints.
	Recorder recorder.EventRecorder
	// Namespace is the operator's own namespace, the only one it reads
	// shared database admin Secrets from.
	Namespace string
	// Databases holds the connection pools to shared database servers,
	// shared with the team controller.
	Databases *database.Pools
	// HardeningInterval is how often a shared server is asked whether
	// PUBLIC may connect to its maintenance databases.
	HardeningInterval time.Duration

	// checks are the last answers of shared servers, by admin Secret.
	checks recent[string, hardening]
	// policies is the last look for buurt's admission policies.
	policies recent[struct{}, []string]
}

// NewReconciler wires a Reconciler to the manager, the operator's namespace
// and the team controller's database pools.
func NewReconciler(mgr ctrl.Manager, namespace string, databases *database.Pools) *Reconciler {
	return &Reconciler{
		Client:            mgr.GetClient(),
		APIReader:         mgr.GetAPIReader(),
		Recorder:          mgr.GetEventRecorder("buurt"),
		Namespace:         namespace,
		Databases:         databases,
		HardeningInterval: 5 * time.Minute,
	}
}

// +kubebuilder:rbac:groups=teams.buurt.dev,resources=teamblueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=teamblueprints/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=neighbourhoodteams,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=buurt-system,resources=secrets,verbs=get

// SetupWithManager registers the controller; teams map to their blueprint
// (teamsOfBlueprint). The team index of package index must be set up first.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&teamsv1alpha1.TeamBlueprint{}).
		Watches(&teamsv1alpha1.NeighbourhoodTeam{}, teamsOfBlueprint).
		Complete(r)
}

// teamsSettle is how long a blueprint waits after a change of one of its
// teams before it looks at them again, so that a burst of new teams is
// counted in a few status writes rather than one per team.
const teamsSettle = 2 * time.Second

// teamsOfBlueprint wakes a team's blueprint, teamsSettle later, when the
// team comes or goes or changes what the blueprint's status reports
// (seenByBlueprint); a team moved to another blueprint wakes both.
var teamsOfBlueprint = handler.Funcs{
	CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		wakeBlueprint(q, e.Object)
	},
	UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if seenByBlueprint(e.ObjectOld) != seenByBlueprint(e.ObjectNew) {
			wakeBlueprint(q, e.ObjectOld)
			wakeBlueprint(q, e.ObjectNew)
		}
	},
	DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		wakeBlueprint(q, e.Object)
	},
	GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		wakeBlueprint(q, e.Object)
	},
}

// wakeBlueprint asks to reconcile the blueprint of team after teamsSettle;
// asked again meanwhile, it still runs once.
func wakeBlueprint(q workqueue.TypedRateLimitingInterface[reconcile.Request], team client.Object) {
	if t, ok := team.(*teamsv1alpha1.NeighbourhoodTeam); ok {
		q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: t.Spec.Blueprint}}, teamsSettle)
	}
}

// teamSeen is what a blueprint's status reports of one of its teams
// (setStatus).
type teamSeen struct {
	blueprint    string
	members      int
	quotaRefusal string
}

// seenByBlueprint is what the status of team's blueprint reports of it.
func seenByBlueprint(o client.Object) teamSeen {
	team, ok := o.(*teamsv1alpha1.NeighbourhoodTeam)
	if !ok {
		return teamSeen{}
	}
	seen := teamSeen{blueprint: team.Spec.Blueprint, members: len(team.Spec.Members)}
	seen.quotaRefusal, _ = quotaRefusal(team)
	return seen
}

// Reconcile counts the blueprint's teams and says which are over its member
// limit and which the apiserver refused the quota or limits made from it,
// whether the cluster has buurt's admission policies, and, for a blueprint
// with a shared database server, whether the server keeps teams out of its
// maintenance databases, looked at again after HardeningInterval.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	blueprint := &teamsv1alpha1.TeamBlueprint{}
	if err := r.Client.Get(ctx, req.NamespacedName, blueprint); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	// Read only, as every list of many teams here is: the cache's own
	// objects, not a copy of each (thousands of teams for one blueprint).
	teams := &teamsv1alpha1.NeighbourhoodTeamList{}
	if err := r.Client.List(ctx, teams, client.UnsafeDisableDeepCopy, client.MatchingFields{index.TeamBlueprint: blueprint.Name}); err != nil {
		return reconcile.Result{}, fmt.Errorf("failed to list the teams of blueprint %s: %w", klog.KObj(blueprint), err)
	}
	missing, checkErr := r.lookForPolicies(ctx, blueprint)
	before := blueprint.DeepCopy()
	setStatus(blueprint, teams.Items)
	found := r.hardening(ctx, blueprint)
	setHardening(blueprint, found)
	setTenantRules(blueprint, missing, checkErr)
	if err := patch.Status(ctx, r.Client, before, blueprint); err != nil {
		return reconcile.Result{}, errors.Join(err, checkErr)
	}
	r.recordTransitions(before, blueprint)
	if checkErr != nil {
		return reconcile.Result{}, checkErr
	}
	var after time.Duration
	if len(missing) > 0 {
		// Nothing buurt watches changes when the policies are installed.
		after = policyRecheck
	}
	if found != nil && (after == 0 || r.HardeningInterval < after) {
		// The server is outside the cluster: nothing wakes the blueprint
		// when its admin changes it.
		after = r.HardeningInterval
	}
	return reconcile.Result{RequeueAfter: after}, nil
}
