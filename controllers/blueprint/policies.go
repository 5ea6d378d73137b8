package blueprint

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/conditions"
	"github.com/buurt-dev/buurt/internal/message"
	"github.com/buurt-dev/buurt/internal/policies"
)

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings;mutatingadmissionpolicies;mutatingadmissionpolicybindings,verbs=get

// lookForPolicies answers which admission policies are missing, from a
// look at most policyRecheck old: the answer is the cluster's, the same for
// every blueprint. A blueprint's own change (one its condition has not
// seen) always looks again.
func (r *Reconciler) lookForPolicies(ctx context.Context, blueprint *teamsv1alpha1.TeamBlueprint) ([]string, error) {
	maxAge := policyRecheck
	if seen := meta.FindStatusCondition(blueprint.Status.Conditions, teamsv1alpha1.TenantRulesEnforcedCondition); seen == nil ||
		seen.ObservedGeneration != blueprint.Generation {
		maxAge = 0
	}
	return r.policies.get(struct{}{}, maxAge, func() ([]string, error) { return missingPolicies(ctx, r.APIReader) })
}

// missingPolicies names the admission policies and bindings buurt ships
// that the cluster does not have, read past the cache (buurt caches only
// what it labels as its own). A cluster that does not serve a kind of
// policy at all misses every one of that kind.
func missingPolicies(ctx context.Context, reader client.Reader) ([]string, error) {
	type object struct {
		kind, name string
		obj        client.Object
	}
	var objects []object
	validating := func(name string) {
		objects = append(objects,
			object{"ValidatingAdmissionPolicy", name, &admissionregistrationv1.ValidatingAdmissionPolicy{}},
			object{"ValidatingAdmissionPolicyBinding", name, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}})
	}
	for _, name := range policies.Names() {
		validating(name)
	}
	validating(policies.OperatorBounds)
	objects = append(objects,
		object{"MutatingAdmissionPolicy", policies.QuotaMembers, &admissionregistrationv1.MutatingAdmissionPolicy{}},
		object{"MutatingAdmissionPolicyBinding", policies.QuotaMembers, &admissionregistrationv1.MutatingAdmissionPolicyBinding{}})

	var missing []string
	for _, o := range objects {
		err := reader.Get(ctx, client.ObjectKey{Name: o.name}, o.obj)
		switch {
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			missing = append(missing, o.kind+" "+o.name)
		case err != nil:
			return nil, fmt.Errorf("failed to check the admission policy %s: %w", o.name, err)
		}
	}
	return missing, nil
}

// setTenantRules reports whether the apiserver holds the blueprint's teams
// to its tenant rules: True when every policy and binding is installed,
// False naming the missing ones, Unknown when buurt could not look. It is
// not part of Ready: Ready says whether teams fit the blueprint, and a
// cluster without the policies is an installation to fix, which this
// condition says on every blueprint.
func setTenantRules(blueprint *teamsv1alpha1.TeamBlueprint, missing []string, err error) {
	status, reason := metav1.ConditionTrue, teamsv1alpha1.ReconciledReason
	msg := fmt.Sprintf("The apiserver enforces buurt's rules: its %d admission policies and their bindings are installed",
		len(policies.Names())+2)
	switch {
	case err != nil:
		status, reason = metav1.ConditionUnknown, teamsv1alpha1.ReconcileErrorReason
		msg = "buurt could not check its admission policies; it tries again"
		if apierrors.IsForbidden(err) {
			msg = "buurt may not read its admission policies: grant the operator get on validatingadmissionpolicies, " +
				"mutatingadmissionpolicies and their bindings"
		}
	case len(missing) > 0:
		status, reason = metav1.ConditionFalse, teamsv1alpha1.PoliciesMissingReason
		msg = "The apiserver does not hold team namespaces, members' quota and the operator to all of buurt's rules (tenant rules, " +
			"quota members, operator bounds): missing " + message.List(missing) + "; install config/policies or the Helm chart's policies, " +
			"on Kubernetes 1.36 or later (admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and MutatingAdmissionPolicy)"
	}
	conditions.Set(&blueprint.Status.Conditions, blueprint.Generation, teamsv1alpha1.TenantRulesEnforcedCondition, status, reason, msg)
}
