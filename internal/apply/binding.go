package apply

import (
	"context"
	"encoding/json"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// dryRunSuffix names the binding buurt asks about in a dry run; it is never
// stored.
const dryRunSuffix = "-dry-run"

// ApplyBinding applies a RoleBinding. A binding's roleRef cannot change, so
// when the binding in place refers to another role (a blueprint now names
// another memberRole or coachRole) it is replaced: buurt first asks the
// apiserver in a dry run whether it may bind the new role, and only then
// deletes the old binding and makes the new one, so that nobody loses the
// access they have for a binding buurt could not make.
func (a *Applier) ApplyBinding(ctx context.Context, desired *rbacv1ac.RoleBindingApplyConfiguration, live *rbacv1.RoleBinding) error {
	current := &rbacv1.RoleBinding{}
	err := a.client.Get(ctx, client.ObjectKey{Namespace: *desired.Namespace, Name: *desired.Name}, current)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("failed to read RoleBinding %s/%s: %w", *desired.Namespace, *desired.Name, err)
	case current.RoleRef.Kind != *desired.RoleRef.Kind || current.RoleRef.Name != *desired.RoleRef.Name:
		probe := &rbacv1.RoleBinding{}
		data, err := json.Marshal(desired)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, probe); err != nil {
			return err
		}
		probe.Name += dryRunSuffix
		if err := a.client.Create(ctx, probe, client.DryRunAll); err != nil {
			return fmt.Errorf("failed to bind %s %s in namespace %s: %w", *desired.RoleRef.Kind, *desired.RoleRef.Name, *desired.Namespace, err)
		}
		if err := a.client.Delete(ctx, current, client.Preconditions{UID: &current.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to replace RoleBinding %s for its new role: %w", klog.KObj(current), err)
		}
	}
	return a.Apply(ctx, desired, live)
}
