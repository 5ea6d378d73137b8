// Package webhook holds buurt's admission webhooks: what CEL on one object
// cannot say, because it needs another object (the blueprint, the coach, the
// namespace) or depends on who asks. They cover buurt's own kinds only.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/sleep"
	"github.com/buurt-dev/buurt/internal/teamevents"
)

// ManageVerb is the verb on neighbourhoodteams that makes a requester a
// platform engineer: free to change anything of a team. Members edit their
// own team through the per-team self-service role, which grants update and
// patch but never manage; the ClusterRole buurt:platform-engineer grants it.
const ManageVerb = "manage"

// TeamValidator admits NeighbourhoodTeams: within their blueprint's limits,
// and, for a member's own edit, only the fields members may change.
type TeamValidator struct {
	// Client reads blueprints, coaches and teams from the cache and creates
	// SubjectAccessReviews.
	Client client.Client
	// APIReader reads namespaces past the cache, which holds only buurt's.
	APIReader client.Reader
	// Recorder records the audit Event of a member's change, where the
	// team's members read it too.
	Recorder *teamevents.Recorder
}

var _ admission.Validator[*teamsv1alpha1.NeighbourhoodTeam] = &TeamValidator{}

// The webhook is not asked about an update that only adds buurt's database
// finalizer (what the operator does to each team with a database): adding
// it takes nothing from anyone, and it spares every new team a call and a
// SubjectAccessReview.
//
// +kubebuilder:webhook:path=/validate-teams-buurt-dev-v1alpha1-neighbourhoodteam,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups=teams.buurt.dev,resources=neighbourhoodteams,verbs=create;update,versions=v1alpha1,name=vneighbourhoodteam.teams.buurt.dev,admissionReviewVersions=v1,timeoutSeconds=5,matchPolicy=Equivalent,patch=`{"matchConditions":[{"name":"not-only-adding-buurts-finalizer","expression":"request.operation != 'UPDATE' || object.spec != oldObject.spec || object.metadata.?labels != oldObject.metadata.?labels || object.metadata.?annotations != oldObject.metadata.?annotations || object.metadata.?ownerReferences != oldObject.metadata.?ownerReferences || object.metadata.?finalizers.orValue([]) != oldObject.metadata.?finalizers.orValue([]) + ['teams.buurt.dev/database']"}]}`

// ValidateCreate checks a new team against its blueprint, refuses a name
// whose namespace is already taken, and a blueprint looser than restricted
// to a requester who may not escalate it.
func (v *TeamValidator) ValidateCreate(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) (admission.Warnings, error) {
	user, err := requester(ctx)
	if err != nil {
		return nil, err
	}
	errs, err := v.checkPlacement(ctx, user, nil, team)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{}
	switch err := v.APIReader.Get(ctx, client.ObjectKey{Name: team.NamespaceName()}, ns); {
	case err == nil:
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), team.Name, fmt.Sprintf(
			"namespace %s already exists and buurt does not manage it for this team; choose another name or remove the namespace",
			team.NamespaceName())))
	case !apierrors.IsNotFound(err):
		return nil, apierrors.NewInternalError(fmt.Errorf("failed to look up namespace %s: %w", team.NamespaceName(), err))
	}
	warnings, limitErrs, err := v.checkLimits(ctx, nil, team)
	if err != nil {
		return nil, err
	}
	return warnings, invalid(team, slices.Concat(errs, limitErrs, checkSleep(team)))
}

// checkSleep refuses a sleep schedule whose time zone buurt does not know,
// which the CRD's rules cannot tell.
func checkSleep(team *teamsv1alpha1.NeighbourhoodTeam) field.ErrorList {
	if team.Spec.Sleep == nil {
		return nil
	}
	_, err := sleep.FromSpec(team.Spec.Sleep)
	if bad := (*sleep.FieldError)(nil); errors.As(err, &bad) {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "sleep", bad.Field), bad.Value, bad.Detail)}
	}
	return nil
}

// ValidateUpdate lets platform engineers change anything and a team's
// members only their self-service fields; both stay within the blueprint.
func (v *TeamValidator) ValidateUpdate(ctx context.Context, old, team *teamsv1alpha1.NeighbourhoodTeam) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	manager, err := v.mayManage(ctx, req.UserInfo, team.Name)
	if err != nil {
		return nil, err
	}
	var changed []string
	if !manager {
		if !isMember(old, req.UserInfo) {
			return nil, apierrors.NewForbidden(teamsv1alpha1.GroupVersion.WithResource("neighbourhoodteams").GroupResource(), team.Name,
				fmt.Errorf("only the team's members and platform engineers (verb %q on neighbourhoodteams) may change it", ManageVerb))
		}
		errs := archiveChange(old, team)
		if len(errs) > 0 {
			return nil, invalid(team, errs)
		}
		changed, errs = selfServiceChange(old, team)
		if len(errs) > 0 {
			return nil, invalid(team, errs)
		}
	}
	errs, err := v.checkPlacement(ctx, req.UserInfo, old, team)
	if err != nil {
		return nil, err
	}
	warnings, limitErrs, err := v.checkLimits(ctx, old, team)
	if err != nil {
		return nil, err
	}
	if err := invalid(team, slices.Concat(errs, limitErrs, checkSleep(team))); err != nil {
		return warnings, err
	}
	if len(changed) > 0 && (req.DryRun == nil || !*req.DryRun) {
		v.Recorder.Eventf(ctx, team, nil, corev1.EventTypeNormal, teamsv1alpha1.SelfServiceChangeReason, "Update",
			"%s changed %s", req.UserInfo.Username, strings.Join(changed, ", "))
	}
	return warnings, nil
}

// ValidateDelete admits every deletion RBAC allows.
func (v *TeamValidator) ValidateDelete(context.Context, *teamsv1alpha1.NeighbourhoodTeam) (admission.Warnings, error) {
	return nil, nil
}

// mayManage asks the apiserver whether the requester has the manage verb on
// this team.
func (v *TeamValidator) mayManage(ctx context.Context, user authenticationv1.UserInfo, team string) (bool, error) {
	return allowed(ctx, v.Client, user, authorizationv1.ResourceAttributes{
		Group: teamsv1alpha1.GroupVersion.Group, Resource: "neighbourhoodteams", Name: team, Verb: ManageVerb,
	})
}

// checkPlacement refuses to put people on a blueprint looser than
// restricted for a requester who may not escalate that blueprint: a team
// created there or moved there (spec.blueprint), or new member entries of a
// team that is there. Otherwise anyone who may write teams (or a member of
// such a team) could use a privileged blueprint someone else wrote to run
// pods as node root. What an update does not add is not asked again (the
// blueprint's author chose its level for all its teams, and a member may
// leave). A missing blueprint is checkLimits' warning.
func (v *TeamValidator) checkPlacement(ctx context.Context, user authenticationv1.UserInfo, old, team *teamsv1alpha1.NeighbourhoodTeam) (field.ErrorList, error) {
	path, doing := field.NewPath("spec", "blueprint"), "putting a team on it"
	if old != nil && old.Spec.Blueprint == team.Spec.Blueprint {
		if !slices.ContainsFunc(team.Spec.Members, func(m teamsv1alpha1.Subject) bool { return !slices.Contains(old.Spec.Members, m) }) {
			return nil, nil
		}
		path, doing = field.NewPath("spec", "members"), "adding members to a team on it"
	}
	blueprint := &teamsv1alpha1.TeamBlueprint{}
	if err := v.Client.Get(ctx, client.ObjectKey{Name: team.Spec.Blueprint}, blueprint); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, apierrors.NewInternalError(err)
	}
	level := blueprint.Spec.PodSecurity.Level
	if !looser(level, teamsv1alpha1.PodSecurityRestricted) {
		return nil, nil
	}
	if old == nil {
		if split, err := v.splitAddsNoOne(ctx, team); err != nil || split {
			return nil, err
		}
	}
	ok, err := mayEscalate(ctx, v.Client, user, blueprint.Name)
	if err != nil || ok {
		return nil, err
	}
	return field.ErrorList{field.Forbidden(path, fmt.Sprintf(
		"blueprint %s lets pods run at Pod Security level %s; %s needs the verb %s on teamblueprints %s "+
			"(cluster-admin has it, buurt:platform-engineer does not): ask someone who has it, or choose a restricted blueprint",
		blueprint.Name, level, doing, EscalateVerb, blueprint.Name))}, nil
}

// splitAddsNoOne is true for a team that an approved split makes (the
// operator, which may not escalate) of a source on the same blueprint,
// with none but the source's members: it puts nobody on the blueprint who
// is not there already.
func (v *TeamValidator) splitAddsNoOne(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) (bool, error) {
	name := team.Labels[teamsv1alpha1.SplitLabel]
	if name == "" {
		return false, nil
	}
	split := &teamsv1alpha1.TeamSplit{}
	if err := v.Client.Get(ctx, client.ObjectKey{Name: name}, split); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if split.Spec.NewTeam.Name != team.Name || split.Spec.Approved == nil || !*split.Spec.Approved {
		return false, nil
	}
	source := &teamsv1alpha1.NeighbourhoodTeam{}
	if err := v.Client.Get(ctx, client.ObjectKey{Name: split.Spec.Source}, source); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return source.Spec.Blueprint == team.Spec.Blueprint && !slices.ContainsFunc(team.Spec.Members, func(m teamsv1alpha1.Subject) bool {
		return !slices.Contains(source.Spec.Members, m)
	}), nil
}

// isMember matches the requester by user name or group against the team's
// members as they were before the change.
func isMember(team *teamsv1alpha1.NeighbourhoodTeam, user authenticationv1.UserInfo) bool {
	for _, m := range team.Spec.Members {
		switch m.Kind {
		case teamsv1alpha1.SubjectKindUser:
			if m.Name == user.Username {
				return true
			}
		case teamsv1alpha1.SubjectKindGroup:
			if slices.Contains(user.Groups, m.Name) {
				return true
			}
		}
	}
	return false
}

// archiveChange refuses a member's change to an archived team, and a
// member's archiving: both are a platform engineer's. Members may sleep and
// wake their own team (Active, Dormant).
func archiveChange(old, team *teamsv1alpha1.NeighbourhoodTeam) field.ErrorList {
	switch {
	case old.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived && !equality.Semantic.DeepEqual(old.Spec, team.Spec):
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), fmt.Sprintf(
			"the team is archived: only platform engineers (verb %q on neighbourhoodteams) change it or bring it back; ask one", ManageVerb))}
	case team.Spec.Lifecycle == teamsv1alpha1.LifecycleArchived && old.Spec.Lifecycle != teamsv1alpha1.LifecycleArchived:
		return field.ErrorList{field.Forbidden(field.NewPath("spec", "lifecycle"), fmt.Sprintf(
			"only platform engineers (verb %q on neighbourhoodteams) archive a team; members may set Active or Dormant", ManageVerb))}
	}
	return nil
}

// selfServiceChange returns which self-service fields a member changed, or
// an error for each other field they touched.
func selfServiceChange(old, team *teamsv1alpha1.NeighbourhoodTeam) ([]string, field.ErrorList) {
	fields := []struct {
		name        string
		old, team   any
		selfService bool
	}{
		{"blueprint", old.Spec.Blueprint, team.Spec.Blueprint, false},
		{"neighbourhood", old.Spec.Neighbourhood, team.Spec.Neighbourhood, false},
		{"database", old.Spec.Database, team.Spec.Database, false},
		{"members", old.Spec.Members, team.Spec.Members, true},
		{"apps", old.Spec.Apps, team.Spec.Apps, true},
		{"coach", old.Spec.Coach, team.Spec.Coach, true},
		{"lifecycle", old.Spec.Lifecycle, team.Spec.Lifecycle, true},
		{"credentials", old.Spec.Credentials, team.Spec.Credentials, true},
		{"sleep", old.Spec.Sleep, team.Spec.Sleep, true},
	}
	var allowed []string
	for _, f := range fields {
		if f.selfService {
			allowed = append(allowed, f.name)
		}
	}
	rule := "members of the team may change only " + strings.Join(allowed, ", ") + "; ask a platform engineer"
	var changed []string
	var errs field.ErrorList
	for _, f := range fields {
		switch {
		case equality.Semantic.DeepEqual(f.old, f.team):
		case f.selfService:
			changed = append(changed, f.name)
		default:
			errs = append(errs, field.Forbidden(field.NewPath("spec", f.name), rule))
		}
	}
	meta := field.NewPath("metadata")
	if !equality.Semantic.DeepEqual(old.Finalizers, team.Finalizers) {
		errs = append(errs, field.Forbidden(meta.Child("finalizers"), "members of the team may not change finalizers: they guard the team's data"))
	}
	if !equality.Semantic.DeepEqual(old.OwnerReferences, team.OwnerReferences) {
		errs = append(errs, field.Forbidden(meta.Child("ownerReferences"), "members of the team may not change owner references"))
	}
	labelRule := "members of the team may not change its labels: other controllers (a GitOps controller's reconciliation, " +
		"for one) act on them; ask a platform engineer"
	for _, key := range changedKeys(old.Labels, team.Labels) {
		errs = append(errs, field.Forbidden(meta.Child("labels").Key(key), labelRule))
	}
	annotationRule := "members of the team may not change its annotations, but for " + lastApplied + " and " +
		teamsv1alpha1.ReconcileRequestAnnotation +
		": other controllers (a GitOps controller's reconciliation, for one) act on them; ask a platform engineer"
	for _, key := range changedKeys(memberAnnotations(old, old), memberAnnotations(old, team)) {
		errs = append(errs, field.Forbidden(meta.Child("annotations").Key(key), annotationRule))
	}
	return changed, errs
}

// lastApplied is the annotation `kubectl apply` keeps; members may change it,
// so that they can edit their team with kubectl apply.
const lastApplied = corev1.LastAppliedConfigAnnotation

// memberAnnotations are the annotations of team (old, or old as changed)
// that a member must leave alone. Not among them: the last-applied
// configuration, the request to reconcile now, and the quota-members annotation where buurt's
// MutatingAdmissionPolicy pins it on a member's edit of a team that had
// none, to the member entries the team had before (what the platform
// engineer who wrote them last set).
func memberAnnotations(old, team *teamsv1alpha1.NeighbourhoodTeam) map[string]string {
	out := maps.Clone(team.Annotations)
	delete(out, lastApplied)
	delete(out, teamsv1alpha1.ReconcileRequestAnnotation)
	_, had := old.Annotations[teamsv1alpha1.QuotaMembersAnnotation]
	if !had && out[teamsv1alpha1.QuotaMembersAnnotation] == strconv.Itoa(len(old.Spec.Members)) {
		delete(out, teamsv1alpha1.QuotaMembersAnnotation)
	}
	return out
}

// changedKeys are the keys whose values differ between old and updated,
// sorted, so that messages list them in a fixed order.
func changedKeys(old, updated map[string]string) []string {
	var keys []string
	for k, v := range old {
		if w, ok := updated[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range updated {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// checkLimits holds the team to its blueprint: its size, its app images and
// app names. Limits ratchet: what an update does not add is not refused,
// so a team already over a lowered limit can still be edited. A missing
// blueprint or coach is a warning: GitOps applies objects in any order.
func (v *TeamValidator) checkLimits(ctx context.Context, old, team *teamsv1alpha1.NeighbourhoodTeam) (admission.Warnings, field.ErrorList, error) {
	var warnings admission.Warnings
	var errs field.ErrorList
	if team.Spec.Coach != "" {
		err := v.Client.Get(ctx, client.ObjectKey{Name: team.Spec.Coach}, &teamsv1alpha1.Coach{})
		switch {
		case apierrors.IsNotFound(err):
			warnings = append(warnings, fmt.Sprintf("coach %q does not exist (yet); the team reports CoachNotFound until it does", team.Spec.Coach))
		case err != nil:
			return nil, nil, apierrors.NewInternalError(err)
		}
	}
	blueprint := &teamsv1alpha1.TeamBlueprint{}
	if err := v.Client.Get(ctx, client.ObjectKey{Name: team.Spec.Blueprint}, blueprint); err != nil {
		if apierrors.IsNotFound(err) {
			return append(warnings, fmt.Sprintf("blueprint %q does not exist (yet); the team's workspace is made when it does",
				team.Spec.Blueprint)), nil, nil
		}
		return nil, nil, apierrors.NewInternalError(err)
	}

	members, limit := len(team.Spec.Members), blueprint.Spec.MaxMembers
	oldMembers := 0
	if old != nil {
		oldMembers = len(old.Spec.Members)
	}
	switch {
	case !blueprint.AllowsMembers(members) && members > oldMembers:
		errs = append(errs, field.Invalid(field.NewPath("spec", "members"), members, fmt.Sprintf(
			"blueprint %s allows at most %d members; buurt teams stay small and grow by splitting into a second team",
			blueprint.Name, limit)))
	case !blueprint.AllowsMembers(members):
		warnings = append(warnings, fmt.Sprintf("the team has %d members and blueprint %s allows %d; split it into a second team",
			members, blueprint.Name, limit))
	case !blueprint.AllowsMembers(members + 1):
		warnings = append(warnings, fmt.Sprintf("the team has reached its limit of %d members (blueprint %s); "+
			"a further colleague means splitting into a second team", limit, blueprint.Name))
	}

	blueprintApps := map[string]bool{}
	for _, app := range blueprint.Spec.Apps {
		blueprintApps[app.Name] = true
	}
	oldImages := map[string]string{}
	if old != nil {
		for _, app := range old.Spec.Apps {
			oldImages[app.Name] = app.Image
		}
	}
	apps := field.NewPath("spec", "apps")
	for i, app := range team.Spec.Apps {
		if blueprintApps[app.Name] {
			errs = append(errs, field.Invalid(apps.Index(i).Child("name"), app.Name, fmt.Sprintf(
				"blueprint %s already runs an app of that name for every team; give the team's app another name", blueprint.Name)))
		}
		if render.ImageAllowed(blueprint, app.Image) {
			continue
		}
		if old != nil && oldImages[app.Name] == app.Image {
			warnings = append(warnings, fmt.Sprintf("app %s's image %s is no longer under the blueprint's allowedRegistries; it does not run",
				app.Name, app.Image))
			continue
		}
		errs = append(errs, field.Invalid(apps.Index(i).Child("image"), app.Image, fmt.Sprintf(
			"blueprint %s allows images only from %s", blueprint.Name, strings.Join(blueprint.Spec.AllowedRegistries, ", "))))
	}
	return warnings, errs, nil
}

// invalid is the Invalid error of a team for errs, or nil.
func invalid(team *teamsv1alpha1.NeighbourhoodTeam, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(teamsv1alpha1.GroupVersion.WithKind("NeighbourhoodTeam").GroupKind(), team.Name, errs)
}
