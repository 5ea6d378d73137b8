// Package blueprint reconciles TeamBlueprints' status: how many teams use
// each, and whether those teams fit it.
package blueprint

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/index"
)

// Reconciler writes each blueprint's status from the cache.
type Reconciler struct {
	Client client.Client
}

// +kubebuilder:rbac:groups=teams.buurt.dev,resources=teamblueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=teamblueprints/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=neighbourhoodteams,verbs=get;list;watch

// SetupWithManager registers the controller; teams map to their blueprint.
// The team index of package index must be set up first.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&teamsv1alpha1.TeamBlueprint{}).
		Watches(&teamsv1alpha1.NeighbourhoodTeam{}, handler.EnqueueRequestsFromMapFunc(
			func(_ context.Context, o client.Object) []reconcile.Request {
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: o.(*teamsv1alpha1.NeighbourhoodTeam).Spec.Blueprint}}}
			})).
		Complete(r)
}

// Reconcile counts the blueprint's teams and says which are over its
// member limit.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	blueprint := &teamsv1alpha1.TeamBlueprint{}
	if err := r.Client.Get(ctx, req.NamespacedName, blueprint); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	teams := &teamsv1alpha1.NeighbourhoodTeamList{}
	if err := r.Client.List(ctx, teams, client.MatchingFields{index.TeamBlueprint: blueprint.Name}); err != nil {
		return reconcile.Result{}, fmt.Errorf("failed to list the teams of blueprint %s: %w", klog.KObj(blueprint), err)
	}
	before := blueprint.DeepCopy()
	var tooBig []string
	for _, team := range teams.Items {
		if !blueprint.AllowsMembers(len(team.Spec.Members)) {
			tooBig = append(tooBig, team.Name)
		}
	}
	// The cache lists in no fixed order; the message must not change with it.
	slices.Sort(tooBig)
	blueprint.Status.TeamCount = int32(len(teams.Items)) //nolint:gosec // a count of objects
	blueprint.Status.ObservedGeneration = blueprint.Generation
	condition := metav1.Condition{Type: teamsv1alpha1.ReadyCondition, Status: metav1.ConditionTrue,
		Reason: teamsv1alpha1.ReconciledReason, Message: "Used by " + count(len(teams.Items)),
		ObservedGeneration: blueprint.Generation}
	if len(tooBig) > 0 {
		condition.Status, condition.Reason = metav1.ConditionFalse, teamsv1alpha1.TooManyMembersReason
		condition.Message = fmt.Sprintf("Used by %s; more members than maxMembers %d: %s",
			count(len(teams.Items)), blueprint.Spec.MaxMembers, strings.Join(tooBig, ", "))
	}
	meta.SetStatusCondition(&blueprint.Status.Conditions, condition)
	if equality.Semantic.DeepEqual(before.Status, blueprint.Status) {
		return reconcile.Result{}, nil
	}
	if err := r.Client.Status().Patch(ctx, blueprint, client.MergeFrom(before)); err != nil {
		return reconcile.Result{}, fmt.Errorf("failed to update status of blueprint %s: %w", klog.KObj(blueprint), err)
	}
	return reconcile.Result{}, nil
}

func count(teams int) string {
	if teams == 1 {
		return "1 team"
	}
	return fmt.Sprintf("%d teams", teams)
}
