package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/index"
	"github.com/buurt-dev/buurt/internal/message"
	"github.com/buurt-dev/buurt/internal/render"
)

// BlueprintValidator keeps a blueprint that teams use from going, and says
// which teams a tighter blueprint leaves outside its limits.
type BlueprintValidator struct {
	// Client reads teams from the cache, by the blueprint index.
	Client client.Client
}

var _ admission.Validator[*teamsv1alpha1.TeamBlueprint] = &BlueprintValidator{}

// +kubebuilder:webhook:path=/validate-teams-buurt-dev-v1alpha1-teamblueprint,mutating=false,failurePolicy=fail,sideEffects=None,groups=teams.buurt.dev,resources=teamblueprints,verbs=update;delete,versions=v1alpha1,name=vteamblueprint.teams.buurt.dev,admissionReviewVersions=v1,timeoutSeconds=5,matchPolicy=Equivalent

// ValidateCreate admits every new blueprint; CEL checks it.
func (v *BlueprintValidator) ValidateCreate(context.Context, *teamsv1alpha1.TeamBlueprint) (admission.Warnings, error) {
	return nil, nil
}

// ValidateUpdate admits the change and warns of the teams it leaves over
// the member limit or with apps from registries no longer allowed.
func (v *BlueprintValidator) ValidateUpdate(ctx context.Context, _, blueprint *teamsv1alpha1.TeamBlueprint) (admission.Warnings, error) {
	teams, err := v.teams(ctx, blueprint.Name)
	if err != nil {
		return nil, err
	}
	var tooBig, disallowed []string
	for _, team := range teams {
		if !blueprint.AllowsMembers(len(team.Spec.Members)) {
			tooBig = append(tooBig, fmt.Sprintf("%s (%d)", team.Name, len(team.Spec.Members)))
		}
		for _, app := range team.Spec.Apps {
			if !render.ImageAllowed(blueprint, app.Image) {
				disallowed = append(disallowed, team.Name+"/"+app.Name)
			}
		}
	}
	var warnings admission.Warnings
	if len(tooBig) > 0 {
		warnings = append(warnings, fmt.Sprintf("these teams now have more than %d members and report SizeWithinLimit=False: %s",
			blueprint.Spec.MaxMembers, message.List(tooBig)))
	}
	if len(disallowed) > 0 {
		warnings = append(warnings, fmt.Sprintf("these apps' images are no longer allowed, so they stop: %s", message.List(disallowed)))
	}
	return warnings, nil
}

// ValidateDelete refuses to delete a blueprint that teams still use.
func (v *BlueprintValidator) ValidateDelete(ctx context.Context, blueprint *teamsv1alpha1.TeamBlueprint) (admission.Warnings, error) {
	teams, err := v.teams(ctx, blueprint.Name)
	if err != nil {
		return nil, err
	}
	if len(teams) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(teams))
	for _, team := range teams {
		names = append(names, team.Name)
	}
	return nil, apierrors.NewForbidden(teamsv1alpha1.GroupVersion.WithResource("teamblueprints").GroupResource(), blueprint.Name,
		fmt.Errorf("%d teams use it: %s; move them to another blueprint or delete them first", len(names), message.List(names)))
}

// teams are the blueprint's teams, by name, so that messages name them in a
// fixed order.
func (v *BlueprintValidator) teams(ctx context.Context, blueprint string) ([]teamsv1alpha1.NeighbourhoodTeam, error) {
	teams := &teamsv1alpha1.NeighbourhoodTeamList{}
	if err := v.Client.List(ctx, teams, client.MatchingFields{index.TeamBlueprint: blueprint}); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("failed to list the teams of blueprint %s: %w", blueprint, err))
	}
	slices.SortFunc(teams.Items, func(a, b teamsv1alpha1.NeighbourhoodTeam) int { return strings.Compare(a.Name, b.Name) })
	return teams.Items, nil
}
