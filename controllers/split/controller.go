// Package split reconciles TeamSplits: it plans each split from the teams
// as they are (status.plan) and says in its phase and Ready condition
// whether it can be carried out.
package split

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/apply"
	"github.com/buurt-dev/buurt/internal/conditions"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/index"
	"github.com/buurt-dev/buurt/internal/metrics"
	"github.com/buurt-dev/buurt/internal/patch"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/split"
)

// Reasons of a split's Ready condition and Events.
const (
	// AwaitingApprovalReason: the plan holds; spec.approved carries it out.
	AwaitingApprovalReason = "AwaitingApproval"
	// PlanRefusedReason: the result would break a rule (the message lists
	// them).
	PlanRefusedReason = "PlanRefused"
)

// event is an Event to record once the status that it announces is
// written, and the result it counts (buurt_team_splits_total), if any.
type event struct{ eventType, reason, note, result string }

// Reconciler plans TeamSplits and carries out the approved ones.
type Reconciler struct {
	// Client reads through the manager's cache.
	Client client.Client
	// APIReader reads past the cache: whether the new team's namespace
	// exists, which the cache (buurt's namespaces only) cannot say.
	APIReader client.Reader
	// Recorder records Events on splits.
	Recorder recorder.EventRecorder
	// Applier applies the split's access with server-side apply.
	Applier *apply.Applier
	// Namespace is the operator's own, where the shared servers' admin
	// Secrets are.
	Namespace string
	// Databases are the shared servers' pools, shared with the team
	// controller.
	Databases *database.Pools
}

// NewReconciler wires a Reconciler to the manager; namespace is the
// operator's, databases the team controller's pools.
func NewReconciler(mgr ctrl.Manager, namespace string, databases *database.Pools) *Reconciler {
	return &Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder("buurt"),
		Applier: apply.New(mgr.GetClient()), Namespace: namespace, Databases: databases}
}

// +kubebuilder:rbac:groups=teams.buurt.dev,resources=teamsplits,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=teamsplits/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=neighbourhoodteams,verbs=get;list;watch;create;update

// SetupWithManager registers the controller: a split is planned again when
// its source team, or a team of its new team's name, changes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := metrics.Register(splitsTotal); err != nil {
		return fmt.Errorf("failed to register split metrics: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&teamsv1alpha1.TeamSplit{}).
		Owns(&rbacv1.ClusterRole{}).
		Owns(&rbacv1.ClusterRoleBinding{}).
		Watches(&teamsv1alpha1.NeighbourhoodTeam{}, handler.EnqueueRequestsFromMapFunc(r.splitsOf)).
		Complete(r)
}

// splitsOf are the splits that name the team, as source or new team.
func (r *Reconciler) splitsOf(ctx context.Context, team client.Object) []reconcile.Request {
	splits := &teamsv1alpha1.TeamSplitList{}
	if err := r.Client.List(ctx, splits, client.MatchingFields{index.SplitTeams: team.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list TeamSplits for a team", "team", team.GetName())
		return nil
	}
	out := make([]reconcile.Request, 0, len(splits.Items))
	for _, s := range splits.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&s)})
	}
	return out
}

// Reconcile plans the split and writes the plan, its phase and Ready, and
// carries out an approved one.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	s := &teamsv1alpha1.TeamSplit{}
	if err := r.Client.Get(ctx, req.NamespacedName, s); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	world, err := split.Read(ctx, r.Client, r.APIReader, s)
	if err != nil {
		// Not seen is not absent: the plan stays as it was.
		return ctrl.Result{}, err
	}
	// The source's members read and approve their split: RBAC cannot hand
	// a cluster-scoped object to a team by itself. Once it runs, those who
	// moved keep reading it.
	var members []teamsv1alpha1.Subject
	if world.Source != nil {
		members = slices.Clone(world.Source.Spec.Members)
	}
	if p := s.Status.Plan; p != nil && p.NewTeam != nil && s.Status.Phase != teamsv1alpha1.TeamSplitPhasePlanned &&
		s.Status.Phase != teamsv1alpha1.TeamSplitPhaseRefused {
		for _, m := range p.NewTeam.Members {
			if !slices.Contains(members, m) {
				members = append(members, m)
			}
		}
	}
	if err := r.Applier.Apply(ctx, render.SplitAccessClusterRole(s), &rbacv1.ClusterRole{}); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to let team %s's members read split %s: %w", s.Spec.Source, s.Name, err)
	}
	if err := r.Applier.Apply(ctx, render.SplitAccessClusterRoleBinding(s, members), &rbacv1.ClusterRoleBinding{}); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to let team %s's members read split %s: %w", s.Spec.Source, s.Name, err)
	}
	before := s.DeepCopy()
	s.Status.ObservedGeneration = s.Generation
	var events []event
	var requeue time.Duration
	switch s.Status.Phase {
	case teamsv1alpha1.TeamSplitPhaseSucceeded, teamsv1alpha1.TeamSplitPhaseFailed:
		// A record: the plan stays as it was carried out.
	case teamsv1alpha1.TeamSplitPhaseRunning:
		if events, requeue, err = r.run(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
	default:
		if s.Spec.Database == teamsv1alpha1.SplitDatabaseCopy && world.Source != nil {
			world.DatabaseSize = r.databaseSize(ctx, world.Source)
		}
		plan := split.Plan(s, world)
		s.Status.Plan = &plan
		switch {
		case len(plan.Problems) > 0:
			s.Status.Phase = teamsv1alpha1.TeamSplitPhaseRefused
			conditions.Set(&s.Status.Conditions, s.Generation, teamsv1alpha1.ReadyCondition, metav1.ConditionFalse, PlanRefusedReason,
				"The split would break a rule: "+strings.Join(plan.Problems, "; ")+". Change the split; nothing is done until then")
		case s.Spec.Approved != nil && *s.Spec.Approved:
			// The plan as approved is the one carried out.
			if events, requeue, err = r.run(ctx, s); err != nil {
				return ctrl.Result{}, err
			}
		default:
			s.Status.Phase = teamsv1alpha1.TeamSplitPhasePlanned
			conditions.Set(&s.Status.Conditions, s.Generation, teamsv1alpha1.ReadyCondition, metav1.ConditionFalse, AwaitingApprovalReason,
				"Planned: "+plan.Summary+". status.plan says what changes; nothing does until spec.approved is true")
		}
		if before.Status.Phase != s.Status.Phase || before.Status.Plan == nil || before.Status.Plan.Summary != plan.Summary {
			switch s.Status.Phase {
			case teamsv1alpha1.TeamSplitPhaseRefused:
				events = append(events, event{corev1.EventTypeWarning, PlanRefusedReason, plan.Summary, ""})
			case teamsv1alpha1.TeamSplitPhasePlanned:
				events = append(events, event{corev1.EventTypeNormal, "Planned", plan.Summary, ""})
			}
		}
	}
	if err := patch.StatusIfCurrent(ctx, r.Client, before, s); err != nil {
		return ctrl.Result{}, err
	}
	// Announced once written: a stale read, refused above, announces nothing.
	for _, e := range events {
		r.Recorder.Eventf(s, nil, e.eventType, e.reason, "Split", "%s", e.note)
		if e.result != "" {
			splitsTotal.WithLabelValues(e.result).Inc()
		}
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}
