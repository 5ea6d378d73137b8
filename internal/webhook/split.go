package webhook

import (
	"context"
	"fmt"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/split"
)

// +kubebuilder:webhook:path=/validate-teams-buurt-dev-v1alpha1-teamsplit,mutating=false,failurePolicy=fail,sideEffects=None,groups=teams.buurt.dev,resources=teamsplits,verbs=create;update,versions=v1alpha1,name=vteamsplit.teams.buurt.dev,admissionReviewVersions=v1,timeoutSeconds=5,matchPolicy=Equivalent,patch=`{"matchConditions":[{"name":"changes-the-spec","expression":"request.operation != 'UPDATE' || object.spec != oldObject.spec"}]}`

// SplitValidator admits a TeamSplit only from the team itself (a member of
// the source) or a platform engineer, and only one whose plan holds: every
// moving member is the source's, the source keeps a member, the new name
// is free (team and namespace), the new team is within the blueprint's
// limits. The plan's problems are the refusal's message.
type SplitValidator struct {
	// Client reads the teams and blueprints and asks SubjectAccessReviews.
	Client client.Client
	// APIReader reads what the cache does not hold: every namespace.
	APIReader client.Reader
}

var _ admission.Validator[*teamsv1alpha1.TeamSplit] = &SplitValidator{}

// ValidateCreate admits a split the requester may make whose plan holds.
func (v *SplitValidator) ValidateCreate(ctx context.Context, s *teamsv1alpha1.TeamSplit) (admission.Warnings, error) {
	return nil, v.validate(ctx, s)
}

// ValidateUpdate admits a change of the spec on the same terms (the CRD
// keeps an approved split as it is).
func (v *SplitValidator) ValidateUpdate(ctx context.Context, _, s *teamsv1alpha1.TeamSplit) (admission.Warnings, error) {
	return nil, v.validate(ctx, s)
}

// ValidateDelete admits every deletion: deleting a split changes no team.
func (v *SplitValidator) ValidateDelete(context.Context, *teamsv1alpha1.TeamSplit) (admission.Warnings, error) {
	return nil, nil
}

func (v *SplitValidator) validate(ctx context.Context, s *teamsv1alpha1.TeamSplit) error {
	user, err := requester(ctx)
	if err != nil {
		return err
	}
	world, err := split.Read(ctx, v.Client, v.APIReader, s)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	// A member of the source, or a platform engineer; anyone else is told
	// the same whether the team exists or not.
	if world.Source == nil || !isMember(world.Source, user) {
		ok, err := v.mayManage(ctx, user, s.Spec.Source)
		if err != nil {
			return err
		}
		if !ok {
			return apierrors.NewForbidden(teamsv1alpha1.GroupVersion.WithResource("teamsplits").GroupResource(), s.Name, fmt.Errorf(
				"only team %s's members and platform engineers (verb %q on neighbourhoodteams) may split it", s.Spec.Source, ManageVerb))
		}
	}
	var errs field.ErrorList
	if plan := split.Plan(s, world); len(plan.Problems) > 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec"), s.Spec.Source, strings.Join(plan.Problems, "; ")))
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(teamsv1alpha1.GroupVersion.WithKind("TeamSplit").GroupKind(), s.Name, errs)
}

// mayManage asks the apiserver whether the requester has the manage verb on
// the team: a platform engineer's.
func (v *SplitValidator) mayManage(ctx context.Context, user authenticationv1.UserInfo, team string) (bool, error) {
	return allowed(ctx, v.Client, user, authorizationv1.ResourceAttributes{
		Group: teamsv1alpha1.GroupVersion.Group, Resource: "neighbourhoodteams", Name: team, Verb: ManageVerb,
	})
}
