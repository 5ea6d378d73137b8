package team

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// reconcileNetwork applies the team's NetworkPolicies and removes those the
// blueprint no longer asks for. The policy to a shared database server is
// kept as it is whenever the database phase could not read where the server
// is: a soft failure of buurt's own view never cuts apps off from their
// database.
func (r *Reconciler) reconcileNetwork(ctx context.Context, s *scope) error {
	team := s.team
	keep := sets.New[string]()
	for _, policy := range render.NetworkPolicies(team, s.blueprint, s.databasePort) {
		if err := r.Applier.Apply(ctx, policy, &networkingv1.NetworkPolicy{}); err != nil {
			return fmt.Errorf("failed to apply network policy of team %s: %w", klog.KObj(team), err)
		}
		keep.Insert(*policy.Name)
	}
	class, _ := databaseClass(team, s.blueprint)
	if s.keepDatabaseEgress || (class == teamsv1alpha1.DatabaseClassShared && s.databasePort == 0) {
		keep.Insert(render.DatabaseEgressPolicyName)
	}
	if err := r.prune(ctx, team, &networkingv1.NetworkPolicyList{}, keep); err != nil {
		return err
	}
	s.found(teamsv1alpha1.NetworkReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason,
		fmt.Sprintf("%d NetworkPolicies isolate the namespace", keep.Len()))
	return nil
}
