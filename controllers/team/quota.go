package team

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// reconcileQuota applies the team's ResourceQuota and LimitRange, and removes
// them when the blueprint no longer sets them.
func (r *Reconciler) reconcileQuota(ctx context.Context, s *scope) error {
	team := s.team
	keepQuota := sets.New[string]()
	var live *corev1.ResourceQuota
	if quota := render.ResourceQuota(team, s.blueprint); quota != nil {
		live = &corev1.ResourceQuota{}
		if err := r.Applier.Apply(ctx, quota, live); err != nil {
			return fmt.Errorf("failed to apply quota of team %s: %w", klog.KObj(team), err)
		}
		keepQuota.Insert(render.ResourceQuotaName)
	}
	s.quota = &live
	if err := r.prune(ctx, team, &corev1.ResourceQuotaList{}, keepQuota); err != nil {
		return err
	}

	keepLimits := sets.New[string]()
	if limits := render.LimitRange(team, s.blueprint); limits != nil {
		if err := r.Applier.Apply(ctx, limits, &corev1.LimitRange{}); err != nil {
			return fmt.Errorf("failed to apply limits of team %s: %w", klog.KObj(team), err)
		}
		keepLimits.Insert(render.LimitRangeName)
	}
	if err := r.prune(ctx, team, &corev1.LimitRangeList{}, keepLimits); err != nil {
		return err
	}
	message := "The blueprint's quota and limits are in place"
	if keepQuota.Len()+keepLimits.Len() == 0 {
		message = "The team's blueprint sets no quota and no limits"
	}
	s.found(teamsv1alpha1.QuotaReadyCondition, metav1.ConditionTrue, teamsv1alpha1.ReconciledReason, message)
	return nil
}
