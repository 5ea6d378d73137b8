package team

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// reconcileVolumes makes the PersistentVolumes behind a Dedicated database's
// claims follow the team's reclaim policy, from the moment they are bound:
// deleting a team deletes its namespace and so its claims, and a volume
// whose own policy is Delete (what dynamic provisioning makes) would take
// the data with it. Retain switches such a volume to Retain and notes what
// it was; Delete puts back what buurt switched. It returns the names of the
// team's volumes.
func (r *Reconciler) reconcileVolumes(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, policy teamsv1alpha1.ReclaimPolicy) ([]string, error) {
	claims := &corev1.PersistentVolumeClaimList{}
	if err := r.Client.List(ctx, claims, client.InNamespace(team.NamespaceName()), client.MatchingLabels{
		teamsv1alpha1.TeamLabel: team.Name, teamsv1alpha1.ComponentLabel: teamsv1alpha1.ComponentDatabase,
	}); err != nil {
		return nil, fmt.Errorf("failed to list the database claims of team %s: %w", klog.KObj(team), err)
	}
	var volumes []string
	for i := range claims.Items {
		claim := &claims.Items[i]
		if claim.Spec.VolumeName == "" {
			continue
		}
		// Volumes are not cached: buurt reads the few it needs.
		pv := &corev1.PersistentVolume{}
		if err := r.APIReader.Get(ctx, client.ObjectKey{Name: claim.Spec.VolumeName}, pv); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("failed to read volume %s of team %s: %w", claim.Spec.VolumeName, klog.KObj(team), err)
		}
		// Only the volume bound to this very claim is the team's.
		if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != claim.UID {
			continue
		}
		volumes = append(volumes, pv.Name)
		if err := r.setVolumeReclaimPolicy(ctx, team, pv, policy); err != nil {
			return nil, err
		}
	}
	return volumes, nil
}

func (r *Reconciler) setVolumeReclaimPolicy(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, pv *corev1.PersistentVolume, policy teamsv1alpha1.ReclaimPolicy) error {
	patch := client.MergeFromWithOptions(pv.DeepCopy(), client.MergeFromWithOptimisticLock{})
	original, switched := pv.Annotations[teamsv1alpha1.OriginalReclaimPolicyAnnotation]
	switch {
	case policy == teamsv1alpha1.ReclaimPolicyRetain && pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain:
		metav1.SetMetaDataAnnotation(&pv.ObjectMeta, teamsv1alpha1.OriginalReclaimPolicyAnnotation, string(pv.Spec.PersistentVolumeReclaimPolicy))
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	case policy == teamsv1alpha1.ReclaimPolicyDelete && switched:
		delete(pv.Annotations, teamsv1alpha1.OriginalReclaimPolicyAnnotation)
		// Only what buurt itself replaced is put back.
		if original == string(corev1.PersistentVolumeReclaimDelete) || original == string(corev1.PersistentVolumeReclaimRecycle) {
			pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimPolicy(original)
		}
	default:
		return nil
	}
	if err := r.Client.Patch(ctx, pv, patch); err != nil {
		return fmt.Errorf("failed to set reclaim policy %s on volume %s of team %s: %w",
			pv.Spec.PersistentVolumeReclaimPolicy, pv.Name, klog.KObj(team), err)
	}
	ctrl.LoggerFrom(ctx).Info("Set the reclaim policy of a database volume", "volume", pv.Name,
		"reclaimPolicy", pv.Spec.PersistentVolumeReclaimPolicy)
	return nil
}

// teamOfClaim maps a Dedicated database's claim to its team by label (the
// StatefulSet, not the team, owns it), if it is in that team's namespace.
func teamOfClaim(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[teamsv1alpha1.TeamLabel]
	if name == "" || o.GetNamespace() != teamsv1alpha1.NamespacePrefix+name {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
}
