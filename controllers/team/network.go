package team

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"

	"github.com/buurt-dev/buurt/internal/render"
)

// reconcileNetwork applies the team's NetworkPolicies and removes those the
// blueprint no longer asks for.
func (r *Reconciler) reconcileNetwork(ctx context.Context, s *scope) error {
	team := s.team
	keep := sets.New[string]()
	policies := render.NetworkPolicies(team, s.blueprint)
	if s.databaseEgress != nil {
		policies = append(policies, s.databaseEgress)
	}
	for _, policy := range policies {
		if err := r.Applier.Apply(ctx, policy, &networkingv1.NetworkPolicy{}); err != nil {
			return fmt.Errorf("failed to apply network policy of team %s: %w", klog.KObj(team), err)
		}
		keep.Insert(*policy.Name)
	}
	if s.keepDatabaseEgress {
		keep.Insert(render.DatabaseEgressPolicyName)
	}
	return r.prune(ctx, team, &networkingv1.NetworkPolicyList{}, keep)
}
