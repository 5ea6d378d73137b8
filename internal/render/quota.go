package render

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// ResourceQuotaName and LimitRangeName name the team's quota and limits.
const (
	ResourceQuotaName = "buurt-quota"
	LimitRangeName    = "buurt-limits"
)

// ResourceQuota is the blueprint's base quota plus its per-member share for
// the member entries QuotaMembers counts, with no pods for an Archived team,
// or nil when there is nothing to limit.
func ResourceQuota(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) *corev1ac.ResourceQuotaApplyConfiguration {
	quota := blueprint.Spec.Quota
	hard := corev1.ResourceList{}
	if quota != nil {
		hard = QuotaHard(quota, QuotaMembers(team))
	}
	if team.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived {
		// Nothing new starts in an archived team; what it has is kept.
		hard[corev1.ResourcePods] = resource.MustParse("0")
	}
	if len(hard) == 0 {
		return nil
	}
	return corev1ac.ResourceQuota(ResourceQuotaName, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithSpec(corev1ac.ResourceQuotaSpec().WithHard(hard))
}

// QuotaMembers is how many member entries the per-member quota counts: as
// many as the team has, but no more than its
// teamsv1alpha1.QuotaMembersAnnotation says, which follows only the changes
// of platform engineers (config/policies/team-quota.yaml). Members may add
// colleagues; names they add do not buy quota until a platform engineer
// changes the members. A team without the annotation (or with one that is
// no count) counts every entry, as before the annotation existed.
func QuotaMembers(team *teamsv1alpha1.NeighbourhoodTeam) int {
	members := len(team.Spec.Members)
	counted, err := strconv.Atoi(team.Annotations[teamsv1alpha1.QuotaMembersAnnotation])
	if err != nil || counted < 0 {
		return members
	}
	return min(members, counted)
}

// QuotaHard is base + members × perMember, resource by resource.
func QuotaHard(quota *teamsv1alpha1.Quota, members int) corev1.ResourceList {
	hard := corev1.ResourceList{}
	for name, q := range quota.Base {
		hard[name] = q.DeepCopy()
	}
	for name, share := range quota.PerMember {
		total := hard[name]
		total.Add(scaled(share, members))
		hard[name] = total
	}
	return hard
}

// scaled is q × n, exact (in milli-units when q has a fraction).
func scaled(q resource.Quantity, n int) resource.Quantity {
	if q.MilliValue()%1000 == 0 {
		return *resource.NewQuantity(q.Value()*int64(n), q.Format)
	}
	return *resource.NewMilliQuantity(q.MilliValue()*int64(n), q.Format)
}

// LimitRange sets the blueprint's container defaults, or is nil when the
// blueprint sets none.
func LimitRange(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint) *corev1ac.LimitRangeApplyConfiguration {
	limits := blueprint.Spec.Limits
	if limits == nil || (len(limits.Default) == 0 && len(limits.DefaultRequest) == 0 && len(limits.Max) == 0) {
		return nil
	}
	item := corev1ac.LimitRangeItem().WithType(corev1.LimitTypeContainer)
	if len(limits.Default) > 0 {
		item.WithDefault(limits.Default)
	}
	if len(limits.DefaultRequest) > 0 {
		item.WithDefaultRequest(limits.DefaultRequest)
	}
	if len(limits.Max) > 0 {
		item.WithMax(limits.Max)
	}
	return corev1ac.LimitRange(LimitRangeName, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithSpec(corev1ac.LimitRangeSpec().WithLimits(item))
}
