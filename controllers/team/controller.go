// Package team reconciles NeighbourhoodTeams into their workspaces: a
// namespace, access for the members, quota and limits, and network isolation.
package team

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/apply"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/index"
	"github.com/buurt-dev/buurt/internal/metrics"
)

// maxConcurrentReconciles is how many teams are reconciled at once.
const maxConcurrentReconciles = 4

// Reconciler makes each NeighbourhoodTeam's workspace match its spec and
// blueprint.
type Reconciler struct {
	// Client reads through the manager's cache, which holds only objects
	// labelled app.kubernetes.io/managed-by=buurt (and buurt's own kinds).
	Client client.Client
	// APIReader reads past the cache: to see a namespace buurt did not make.
	APIReader client.Reader
	// Recorder records Events on teams.
	Recorder recorder.EventRecorder
	// Applier applies children with server-side apply.
	Applier *apply.Applier
	// Namespace is the operator's own namespace, the only one it reads
	// shared database admin Secrets from.
	Namespace string
	// Databases holds the connection pools to shared database servers.
	Databases *database.Pools
	// ServerRetry is how long to wait before asking an unreachable or
	// misconfigured shared server again; neither the server nor its admin
	// Secret is watched.
	ServerRetry time.Duration
}

// NewReconciler wires a Reconciler to the manager's cached client, live
// reader and event recorder.
func NewReconciler(mgr ctrl.Manager, namespace string) *Reconciler {
	return &Reconciler{
		Client:      mgr.GetClient(),
		APIReader:   mgr.GetAPIReader(),
		Recorder:    mgr.GetEventRecorder("buurt"),
		Applier:     apply.New(mgr.GetClient()),
		Namespace:   namespace,
		Databases:   database.NewPools(),
		ServerRetry: 30 * time.Second,
	}
}

// +kubebuilder:rbac:groups=teams.buurt.dev,resources=neighbourhoodteams,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=neighbourhoodteams/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=teamblueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=resourcequotas;limitranges,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets;serviceaccounts,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings;clusterroles;clusterrolebindings,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=buurt:team-member;buurt:coach
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller: it watches teams, the children
// buurt made for them, and blueprints and coaches (mapped to their teams by
// the indexes of package index, which must be set up first).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := metrics.Register(collector{reader: r.Client}); err != nil {
		return fmt.Errorf("failed to register team metrics: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&teamsv1alpha1.NeighbourhoodTeam{}).
		// A few teams at once: one waiting on a slow database server does
		// not hold up the others.
		WithOptions(controller.Options{MaxConcurrentReconciles: maxConcurrentReconciles}).
		Owns(&corev1.Namespace{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&rbacv1.ClusterRole{}).
		Owns(&rbacv1.ClusterRoleBinding{}).
		Owns(&corev1.ResourceQuota{}).
		Owns(&corev1.LimitRange{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&appsv1.Deployment{}).
		Owns(&networkingv1.Ingress{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(teamOfClaim)).
		Watches(&teamsv1alpha1.TeamBlueprint{}, handler.EnqueueRequestsFromMapFunc(r.teamsOf(index.TeamBlueprint)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A coach's status says which teams it accepted.
		Watches(&teamsv1alpha1.Coach{}, handler.EnqueueRequestsFromMapFunc(r.teamsOf(index.TeamCoach))).
		Complete(r)
}

// teamsOf maps a blueprint or coach to its teams, from the cache's index.
func (r *Reconciler) teamsOf(field string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		teams := &teamsv1alpha1.NeighbourhoodTeamList{}
		if err := r.Client.List(ctx, teams, client.MatchingFields{field: o.GetName()}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Failed to list teams by index", "index", field, "object", klog.KObj(o))
			return nil
		}
		requests := make([]reconcile.Request, 0, len(teams.Items))
		for i := range teams.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&teams.Items[i])})
		}
		return requests
	}
}

// scope is what one reconcile of a team knows and decides.
type scope struct {
	team      *teamsv1alpha1.NeighbourhoodTeam
	blueprint *teamsv1alpha1.TeamBlueprint
	// namespaceOwned is true once the team's namespace is known to be buurt's
	// for this team; nothing is made inside a namespace that is not.
	namespaceOwned bool
	// databaseEgress is the policy that lets the team reach its shared
	// database server, when there is one.
	databaseEgress *networkingv1ac.NetworkPolicyApplyConfiguration
	// keepDatabaseEgress keeps the policy to the shared server as it is, for
	// a database that buurt leaves alone.
	keepDatabaseEgress bool
	// requeueAfter asks to look again later, for what is not watched (a
	// database server, its admin Secret).
	requeueAfter time.Duration
}

// Reconcile makes one team's workspace match its spec. Status is computed
// from what the phases found and written once, at the end.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	if err := r.Client.Get(ctx, req.NamespacedName, team); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	before := team.DeepCopy()
	s := &scope{team: team}
	defer func() {
		r.recordTransitions(before, team)
		if err := r.patchStatus(ctx, before, team); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()

	blueprint := &teamsv1alpha1.TeamBlueprint{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: team.Spec.Blueprint}, blueprint); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("failed to get blueprint %s of team %s: %w", team.Spec.Blueprint, klog.KObj(team), err)
		}
		blueprint = nil
	}
	s.blueprint = blueprint

	if !team.DeletionTimestamp.IsZero() {
		// Every child has the team as its controller owner: garbage
		// collection removes them. Only the database needs buurt.
		err := r.reconcileDelete(ctx, s)
		return reconcile.Result{RequeueAfter: s.requeueAfter}, err
	}
	if blueprint == nil {
		// The blueprint watch brings the team back when it appears.
		setBlueprintNotFound(team)
		return reconcile.Result{}, nil
	}

	if err := r.reconcileNamespace(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	if s.namespaceOwned {
		for _, phase := range []func(context.Context, *scope) error{
			r.reconcileAccess,
			r.reconcileQuota,
			r.reconcileDatabase,
			r.reconcileNetwork,
			r.reconcileApps,
		} {
			if err := phase(ctx, s); err != nil {
				return reconcile.Result{}, err
			}
		}
	} else {
		setCondition(team, teamsv1alpha1.AccessReadyCondition, false, teamsv1alpha1.WaitingForNamespaceReason,
			"Access is granted once the team's namespace is ready")
	}
	if err := r.reconcileCoach(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	setSize(team, blueprint)
	setReady(team)
	return reconcile.Result{RequeueAfter: s.requeueAfter}, nil
}
