package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/index"
	"github.com/buurt-dev/buurt/internal/message"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/teamrole"
)

// BlueprintValidator keeps a blueprint from granting more than its author
// holds and a blueprint that teams use from going, and says which teams a
// tighter blueprint leaves outside its limits.
type BlueprintValidator struct {
	// Client reads teams from the cache, by the blueprint index, and
	// creates SubjectAccessReviews.
	Client client.Client
	// APIReader reads ClusterRoles past the cache, which holds only buurt's.
	APIReader client.Reader
}

var _ admission.Validator[*teamsv1alpha1.TeamBlueprint] = &BlueprintValidator{}

// The webhook is not asked about a new blueprint that is restricted and
// names buurt's own roles: it grants no more than any team gets, so the
// chart's blueprints install before buurt's webhook can answer. Nor about an
// update that leaves the spec as it is, which grants nothing new: so
// installing the chart again over the blueprints it kept on uninstall goes
// through before the webhook answers (docs/upgrading.md).
// +kubebuilder:webhook:path=/validate-teams-buurt-dev-v1alpha1-teamblueprint,mutating=false,failurePolicy=fail,sideEffects=None,groups=teams.buurt.dev,resources=teamblueprints,verbs=create;update;delete,versions=v1alpha1,name=vteamblueprint.teams.buurt.dev,admissionReviewVersions=v1,timeoutSeconds=5,matchPolicy=Equivalent,patch=`{"matchConditions":[{"name":"grants-more-than-restricted-with-buurt-roles","expression":"request.operation != 'CREATE' || object.spec.podSecurity.level != 'restricted' || object.spec.memberRole != 'buurt:team-member' || object.spec.coachRole != 'buurt:coach'"},{"name":"changes-the-spec","expression":"request.operation != 'UPDATE' || object.spec != oldObject.spec"}]}`

// ValidateCreate admits a new blueprint that grants no more than its author
// holds; CEL checks the rest.
func (v *BlueprintValidator) ValidateCreate(ctx context.Context, blueprint *teamsv1alpha1.TeamBlueprint) (admission.Warnings, error) {
	return nil, v.checkGrants(ctx, nil, blueprint)
}

// ValidateUpdate admits a change that grants no more than its author holds,
// and warns of the teams it leaves over the member limit or with apps from
// registries no longer allowed.
func (v *BlueprintValidator) ValidateUpdate(ctx context.Context, old, blueprint *teamsv1alpha1.TeamBlueprint) (admission.Warnings, error) {
	if err := v.checkGrants(ctx, old, blueprint); err != nil {
		return nil, err
	}
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

// checkGrants holds a blueprint's author to what they may grant, as RBAC
// holds the author of a binding: a Pod Security level looser than
// restricted needs the verb escalate on the blueprint, and the memberRole
// and coachRole must be ClusterRoles labelled fit for teams that the author
// may bind. Like checkLimits for teams it ratchets: an update is asked only
// about what it loosens or changes, so an upgrade that re-applies a
// blueprint as it is goes through.
func (v *BlueprintValidator) checkGrants(ctx context.Context, old, blueprint *teamsv1alpha1.TeamBlueprint) error {
	user, err := requester(ctx)
	if err != nil {
		return err
	}
	var errs field.ErrorList
	spec := field.NewPath("spec")
	level := blueprint.Spec.PodSecurity.Level
	if looser(level, teamsv1alpha1.PodSecurityRestricted) && (old == nil || looser(level, old.Spec.PodSecurity.Level)) {
		ok, err := mayEscalate(ctx, v.Client, user, blueprint.Name)
		if err != nil {
			return err
		}
		if !ok {
			errs = append(errs, field.Forbidden(spec.Child("podSecurity", "level"), fmt.Sprintf(
				"Pod Security level %s lets team pods escape restricted (privileged: run as node root); it needs the verb %s "+
					"on teamblueprints %s (cluster-admin has it, buurt:platform-engineer does not): ask someone who has it, or keep restricted",
				level, EscalateVerb, blueprint.Name)))
		}
	}
	roles := []struct {
		field     string
		name, was string
		use       string
	}{
		{"memberRole", blueprint.Spec.MemberRole, "", teamsv1alpha1.TeamRoleMember},
		{"coachRole", blueprint.Spec.CoachRole, "", teamsv1alpha1.TeamRoleCoach},
	}
	if old != nil {
		roles[0].was, roles[1].was = old.Spec.MemberRole, old.Spec.CoachRole
	}
	for _, r := range roles {
		if r.name == r.was {
			continue
		}
		problem, err := v.checkRole(ctx, user, r.name, r.use)
		if err != nil {
			return err
		}
		if problem != "" {
			errs = append(errs, field.Forbidden(spec.Child(r.field), problem))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(teamsv1alpha1.GroupVersion.WithKind("TeamBlueprint").GroupKind(), blueprint.Name, errs)
}

// checkRole says what keeps user from naming the ClusterRole name as use,
// or is empty.
func (v *BlueprintValidator) checkRole(ctx context.Context, user authenticationv1.UserInfo, name, use string) (string, error) {
	unfit, err := teamrole.Check(ctx, v.APIReader, name, use)
	if err != nil {
		return "", apierrors.NewInternalError(err)
	}
	if unfit != "" {
		return unfit, nil
	}
	ok, err := mayBind(ctx, v.Client, user, name)
	if err != nil || ok {
		return "", err
	}
	return fmt.Sprintf("%s may not bind ClusterRole %s, and may not have buurt bind it: ask someone who may, or name another role",
		user.Username, name), nil
}

// teams are the blueprint's teams, by name, so that messages name them in a
// fixed order.
func (v *BlueprintValidator) teams(ctx context.Context, blueprint string) ([]teamsv1alpha1.NeighbourhoodTeam, error) {
	teams := &teamsv1alpha1.NeighbourhoodTeamList{}
	if err := v.Client.List(ctx, teams, client.UnsafeDisableDeepCopy, client.MatchingFields{index.TeamBlueprint: blueprint}); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("failed to list the teams of blueprint %s: %w", blueprint, err))
	}
	slices.SortFunc(teams.Items, func(a, b teamsv1alpha1.NeighbourhoodTeam) int { return strings.Compare(a.Name, b.Name) })
	return teams.Items, nil
}
