// Package teamrole decides which ClusterRoles buurt binds for a team's
// members and coach: only those labelled fit for it
// (teamsv1alpha1.TeamRoleLabel). It is an allow-list, so that no role the
// operator holds for itself (buurt-manager, say) can be handed to a team by
// naming it in a blueprint. Admission checks it when a blueprint is written,
// the controllers again before they bind.
package teamrole

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// NewReader is a cache of the metadata of the ClusterRoles that carry
// teamsv1alpha1.TeamRoleLabel, started with mgr: a controller checks a role
// on every pass without a request, and watches only the few roles fit for
// teams (the manager's own cache holds only what buurt makes).
func NewReader(mgr ctrl.Manager) (client.Reader, error) {
	fit, err := labels.NewRequirement(teamsv1alpha1.TeamRoleLabel, selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		ByObject: map[client.Object]cache.ByObject{&rbacv1.ClusterRole{}: {Label: labels.NewSelector().Add(*fit)}},
	})
	if err != nil {
		return nil, fmt.Errorf("failed to make the cache of team roles: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, fmt.Errorf("failed to start the cache of team roles: %w", err)
	}
	return c, nil
}

// Check reads the ClusterRole name with r and says why it may not be bound
// as use (teamsv1alpha1.TeamRoleMember or TeamRoleCoach), with what to do;
// it is empty when the role may be. err is a failure to read it, which
// says nothing of the role: callers keep what is in place. r is a
// NewReader or one that sees every ClusterRole; to the former a role
// without the label does not exist, so the message covers both.
func Check(ctx context.Context, r client.Reader, name, use string) (string, error) {
	role := &metav1.PartialObjectMetadata{}
	role.SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind("ClusterRole"))
	err := r.Get(ctx, client.ObjectKey{Name: name}, role)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		return "", fmt.Errorf("failed to read ClusterRole %s: %w", name, err)
	case err != nil || role.Labels[teamsv1alpha1.TeamRoleLabel] != use:
		return fmt.Sprintf("ClusterRole %s is not labelled %s=%s (or does not exist), which marks a role fit for teams: "+
			"label the ClusterRole so, or name one that is", name, teamsv1alpha1.TeamRoleLabel, use), nil
	}
	return "", nil
}
