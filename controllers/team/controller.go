// Package team reconciles NeighbourhoodTeams into their workspaces: a
// namespace, access for the members, quota and limits, and network isolation.
package team

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/apply"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/index"
	"github.com/buurt-dev/buurt/internal/kinds"
	"github.com/buurt-dev/buurt/internal/metrics"
	"github.com/buurt-dev/buurt/internal/patch"
	"github.com/buurt-dev/buurt/internal/teamevents"
	"github.com/buurt-dev/buurt/internal/teamrole"
)

// Reconciler makes each NeighbourhoodTeam's workspace match its spec and
// blueprint.
type Reconciler struct {
	// Client reads through the manager's cache, which holds only objects
	// labelled app.kubernetes.io/managed-by=buurt (and buurt's own kinds).
	Client client.Client
	// APIReader reads past the cache: to see a namespace buurt did not make.
	APIReader client.Reader
	// Roles reads the ClusterRoles fit for teams (teamrole.NewReader); set
	// by SetupWithManager.
	Roles client.Reader
	// Recorder records Events on teams, where their members can read them
	// too.
	Recorder *teamevents.Recorder
	// Applier applies children with server-side apply.
	Applier *apply.Applier
	// Namespace is the operator's own namespace, the only one it reads
	// shared database admin Secrets from.
	Namespace string
	// Databases holds the connection pools to shared database servers.
	Databases *database.Pools
	// ServerRetry is how long a team waits before looking again at a shared
	// server it could not reach or an admin Secret that was missing or
	// invalid. It is the fallback: the server watch (servers.go) wakes the
	// teams of a server within seconds of a change it sees.
	ServerRetry time.Duration
	// ServerWatchInterval is how often the server watch looks at each
	// shared server and its admin Secret.
	ServerWatchInterval time.Duration
	// DatabaseSizeInterval is how often the server watch reads the sizes of
	// the team databases on each shared server, with one query per server.
	DatabaseSizeInterval time.Duration
	// Concurrency is how many teams are reconciled at once (at least 1):
	// a few, so that one waiting on a slow database server does not hold
	// up the others.
	Concurrency int

	// Clock tells the time of scheduled password rotations; the real clock
	// when nil.
	Clock clock.PassiveClock

	// secrets watches the Secrets buurt made in each team namespace; nil
	// until SetupWithManager.
	secrets *secretWatch
	// identity is who the operator runs as, for its RoleBinding in each
	// team namespace.
	identity identity
	// servers is the shared server watch; nil until SetupWithManager.
	servers *serverWatch
	// shared is what was last found in place of each team's shared
	// database.
	shared *sharedRecords
	// rotations remembers each team's last password rotation until the
	// cache has its status.
	rotations rotationMemo
}

// NewReconciler wires a Reconciler to the manager's cached client, live
// reader and event recorder.
func NewReconciler(mgr ctrl.Manager, namespace string) *Reconciler {
	return &Reconciler{
		Client:               mgr.GetClient(),
		APIReader:            mgr.GetAPIReader(),
		Recorder:             teamevents.New(mgr.GetEventRecorder("buurt"), mgr.GetClient(), mgr.GetAPIReader()),
		Applier:              apply.New(mgr.GetClient()),
		Namespace:            namespace,
		Databases:            database.NewPools(),
		ServerRetry:          30 * time.Second,
		ServerWatchInterval:  5 * time.Second,
		DatabaseSizeInterval: 10 * time.Minute,
		Concurrency:          4,
		shared:               newSharedRecords(),
	}
}

// +kubebuilder:rbac:groups=teams.buurt.dev,resources=neighbourhoodteams,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=neighbourhoodteams/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=teamblueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=resourcequotas;limitranges,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",namespace=buurt-system,resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings;clusterroles;clusterrolebindings,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=buurt:team-member;buurt:coach;buurt:operator-in-team
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller: it watches teams, the children
// buurt made for them, and blueprints and coaches (mapped to their teams by
// the indexes of package index, which must be set up first).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := metrics.Register(rotationsTotal); err != nil {
		return err
	}
	if err := metrics.Register(collector{reader: r.Client, now: r.now}); err != nil {
		return fmt.Errorf("failed to register team metrics: %w", err)
	}
	roles, err := teamrole.NewReader(mgr)
	if err != nil {
		return err
	}
	r.Roles = roles
	watch := newServerWatch(r)
	if err := mgr.Add(watch); err != nil {
		return fmt.Errorf("failed to add the shared server watch: %w", err)
	}
	r.servers = watch
	metadataClient, err := metadata.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("failed to make a metadata client: %w", err)
	}
	r.secrets = newSecretWatch(metadataClient)
	if err := mgr.Add(r.secrets); err != nil {
		return fmt.Errorf("failed to add the team Secret watch: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&teamsv1alpha1.NeighbourhoodTeam{}, builder.WithPredicates(teamChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Concurrency, 1)})
	for _, kind := range kinds.TeamChildren() {
		if _, quota := kind.(*corev1.ResourceQuota); !quota {
			b = b.Owns(kind, builder.WithPredicates(childChanged))
		}
	}
	owner := handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &teamsv1alpha1.NeighbourhoodTeam{}, handler.OnlyControllerOwner())
	return b.
		Watches(&corev1.ResourceQuota{}, quotaChanged(owner)).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(teamOfClaim)).
		Watches(&teamsv1alpha1.TeamBlueprint{}, handler.EnqueueRequestsFromMapFunc(r.teamsOf(index.TeamBlueprint)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A coach's status says which teams it accepted.
		Watches(&teamsv1alpha1.Coach{}, handler.EnqueueRequestsFromMapFunc(r.teamsOf(index.TeamCoach))).
		// A split copying a database stops its source and holds its new team.
		Watches(&teamsv1alpha1.TeamSplit{}, handler.EnqueueRequestsFromMapFunc(teamsOfSplit)).
		WatchesRawSource(source.Channel(watch.events, &handler.TypedEnqueueRequestForObject[*teamsv1alpha1.NeighbourhoodTeam]{})).
		WatchesRawSource(source.Channel(r.secrets.events, &handler.TypedEnqueueRequestForObject[*teamsv1alpha1.NeighbourhoodTeam]{})).
		Complete(r)
}

// teamsOf maps a blueprint or coach to its teams, from the cache's index.
func (r *Reconciler) teamsOf(field string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		teams := &teamsv1alpha1.NeighbourhoodTeamList{}
		if err := r.Client.List(ctx, teams, client.UnsafeDisableDeepCopy, client.MatchingFields{field: o.GetName()}); err != nil {
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

// scope is what one reconcile of a team found: its inputs, and what each
// phase observed. Phases only record; status.go turns the scope into the
// team's status after every pass, whether or not a phase failed.
type scope struct {
	team      *teamsv1alpha1.NeighbourhoodTeam
	blueprint *teamsv1alpha1.TeamBlueprint
	// generation is the team's generation this pass saw: its conditions
	// describe it.
	generation int64
	// namespaceOwned is true once the team's namespace is known to be buurt's
	// for this team; nothing is made inside a namespace that is not.
	namespaceOwned bool
	// namespaceMade is true when this pass made the team's namespace: it
	// holds nothing yet, so nothing in it is looked up.
	namespaceMade bool
	// accessGranted is when this pass bound the operator to its role in the
	// team's namespace; zero for a binding made before. The apiserver's
	// authorizer takes a moment to see a new binding.
	accessGranted time.Time
	// findings holds, by condition type, what each phase that completed
	// found.
	findings map[string]finding
	// failed holds, by condition type, the error of each phase that did not.
	failed map[string]error
	// namespace, database and apps are the status fields the phases
	// observed; nil when the phase did not get that far, which keeps what
	// the status said before.
	namespace *string
	database  **teamsv1alpha1.TeamDatabaseStatus
	apps      *[]teamsv1alpha1.AppStatus
	// databaseSecretHash is what the apps' pod templates carry of the
	// team's database Secret, as the database phase applied it this pass
	// (render.SecretHash); nil when it did not get that far.
	databaseSecretHash *string
	// databasePort is the shared server's port, known once its admin Secret
	// has been read this pass; 0 when it could not be, which keeps the
	// policy that lets the team reach its server as it is.
	databasePort int32
	// keepDatabaseEgress keeps that policy as it is, for a database buurt
	// leaves alone.
	keepDatabaseEgress bool
	// memberAccess is what this pass did to the members' access.
	memberAccess memberAccess
	// rotationDue is why this pass is to make the database password anew,
	// or "" (credentials.go).
	rotationDue teamsv1alpha1.RotationReason
	// statusBehind is true when the team as read is older than the status
	// that recorded this operator's last rotation of its password: no
	// reason to rotate is taken from it.
	statusBehind bool
	// credentials is what status.credentials is to say after this pass;
	// nil keeps what it says.
	credentials *teamsv1alpha1.CredentialsStatus
	// dormant is true when the team sleeps this pass: lifecycle Dormant, or
	// its schedule (sleep.go); archived when its lifecycle is Archived.
	// Either stops its workloads (workloads.go).
	dormant, archived bool
	// pausedFor names the TeamSplit whose database copy stops the team's
	// workloads this pass (split.go); "" when it does not, or when the team
	// is stopped anyway.
	pausedFor string
	// awaitingCopy is the TeamSplit whose copy is to be the team's
	// database; nil when there is none.
	awaitingCopy *teamsv1alpha1.TeamSplit
	// reconcileRequest is the ReconcileRequestAnnotation this pass handles;
	// nil when it handled that value before.
	reconcileRequest *string
	// sleepMark is the namespace's SleepAnnotation as this pass read it.
	sleepMark string
	// sleep is what status.sleep is to say; nil keeps what it says.
	sleep **teamsv1alpha1.SleepStatus
	// quota is the team's ResourceQuota as applied this pass (nil inside
	// when its blueprint sets none), from which status.usage is written;
	// nil when it was not applied, which keeps what status.usage says.
	quota **corev1.ResourceQuota
	// databaseSize is the size of the team's Shared database as last read,
	// as status.usage is to say it; nil keeps what it says.
	databaseSize *resource.Quantity
	// deleting is true for a team being deleted.
	deleting bool
	// requeueAfter asks to look again later, for what is not watched (a
	// database server, its admin Secret).
	requeueAfter time.Duration
}

// stopped is true when the team's workloads are not to run this pass.
func (s *scope) stopped() bool { return s.dormant || s.archived }

// finding is what a phase found of the part of the workspace its condition
// covers.
type finding struct {
	status          metav1.ConditionStatus
	reason, message string
}

// found records what the phase behind a condition found.
func (s *scope) found(conditionType string, status metav1.ConditionStatus, reason, message string) {
	s.findings[conditionType] = finding{status: status, reason: reason, message: message}
}

// requeue asks to look again after d, unless sooner was asked already.
func (s *scope) requeue(d time.Duration) {
	if d > 0 && (s.requeueAfter == 0 || d < s.requeueAfter) {
		s.requeueAfter = d
	}
}

// phase is one step of a reconcile and the condition that reports it.
type phase struct {
	condition string
	run       func(context.Context, *scope) error
}

// Reconcile makes one team's workspace match its spec. The phases observe
// and record; a deferred step computes every condition, Ready and the phase
// from what they found and writes the status once, also after a failure.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (_ reconcile.Result, reterr error) {
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	if err := r.Client.Get(ctx, req.NamespacedName, team); err != nil {
		if apierrors.IsNotFound(err) {
			team.Name = req.Name
			r.secrets.forget(team.NamespaceName())
			r.shared.forget(team.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	before := team.DeepCopy()
	s := &scope{team: team, generation: team.Generation, findings: map[string]finding{}, failed: map[string]error{},
		statusBehind: r.rotations.behind(team)}
	defer func() {
		setStatus(s)
		r.recordTransitions(ctx, before, team)
		r.recordArchive(ctx, s, before, team)
		if !s.statusBehind {
			// A read older than this operator's last write would announce
			// its changes a second time.
			r.recordMembers(ctx, before, team, s.credentials)
		}
		if err := patch.Status(ctx, r.Client, before, team); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()

	blueprint := &teamsv1alpha1.TeamBlueprint{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: team.Spec.Blueprint}, blueprint); err != nil {
		if !apierrors.IsNotFound(err) {
			err = fmt.Errorf("failed to get blueprint %s of team %s: %w", team.Spec.Blueprint, klog.KObj(team), err)
			s.failed[teamsv1alpha1.ReadyCondition] = err
			return reconcile.Result{}, err
		}
		blueprint = nil
	}
	s.blueprint = blueprint

	if !team.DeletionTimestamp.IsZero() {
		// Every child has the team as its controller owner: garbage
		// collection removes them. Only the database needs buurt.
		s.deleting = true
		// Its namespace and the operator's access there are going.
		r.secrets.forget(team.NamespaceName())
		r.shared.forget(team.Name)
		r.rotations.forget(team.UID)
		err := r.reconcileDelete(ctx, s)
		return reconcile.Result{RequeueAfter: s.requeueAfter}, err
	}
	if blueprint == nil {
		// The blueprint watch brings the team back when it appears.
		return reconcile.Result{}, nil
	}

	if requested := team.Annotations[teamsv1alpha1.ReconcileRequestAnnotation]; requested != team.Status.LastHandledReconcileAt {
		// Asked to look again: nothing found before is trusted.
		r.shared.forget(team.Name)
		s.reconcileRequest = &requested
	}
	if err := r.readSplits(ctx, s); err != nil {
		return reconcile.Result{}, err
	}
	r.readSleep(ctx, s)
	if s.pausedFor != "" {
		if s.stopped() {
			s.pausedFor = ""
		} else {
			s.dormant = true
		}
	}
	// Each phase runs even when one before it failed: what one part of the
	// workspace cannot do must not stop the others from being kept.
	var errs []error
	run := func(p phase) {
		if err := p.run(ctx, s); err != nil {
			s.failed[p.condition] = err
			errs = append(errs, err)
		}
	}
	run(phase{teamsv1alpha1.NamespaceReadyCondition, r.reconcileNamespace})
	// Nothing is made inside a namespace that is not buurt's for this team.
	if s.namespaceOwned {
		for _, p := range []phase{
			{teamsv1alpha1.AccessReadyCondition, r.reconcileAccess},
			{teamsv1alpha1.QuotaReadyCondition, r.reconcileQuota},
			{teamsv1alpha1.DatabaseReadyCondition, r.reconcileDatabase},
			{teamsv1alpha1.NetworkReadyCondition, r.reconcileNetwork},
			{teamsv1alpha1.AppsReadyCondition, r.reconcileApps},
		} {
			run(p)
		}
	}
	run(phase{teamsv1alpha1.CoachAssignedCondition, r.reconcileCoach})
	if s.namespaceOwned {
		if class, _ := databaseClass(team, blueprint); class != teamsv1alpha1.DatabaseClassNone {
			// Started after the phases: by then the apiserver lets the
			// operator list the Secrets of a namespace it was just given.
			r.secrets.watch(team)
		}
	}
	return reconcile.Result{RequeueAfter: s.requeueAfter}, errors.Join(errs...)
}
