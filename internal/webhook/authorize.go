package webhook

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// EscalateVerb on a teamblueprint lets a requester give teams more than the
// restricted Pod Security level: write a blueprint at baseline or
// privileged, or put a team on one. Like RBAC's own escalate verb, it is
// granted on purpose, by name or for all blueprints; cluster-admin has it,
// buurt:platform-engineer does not.
const EscalateVerb = "escalate"

// requester is the user of the admission request in ctx.
func requester(ctx context.Context) (authenticationv1.UserInfo, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return authenticationv1.UserInfo{}, apierrors.NewInternalError(err)
	}
	return req.UserInfo, nil
}

// allowed asks the apiserver, with a SubjectAccessReview, whether user may
// do what attributes say: the same answer RBAC (or any authorizer) gives
// the user's own request.
func allowed(ctx context.Context, c client.Client, user authenticationv1.UserInfo, attributes authorizationv1.ResourceAttributes) (bool, error) {
	extra := map[string]authorizationv1.ExtraValue{}
	for k, values := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(values)
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
		ResourceAttributes: &attributes,
	}}
	if err := c.Create(ctx, review); err != nil {
		return false, apierrors.NewInternalError(fmt.Errorf("failed to ask whether %s may %s %s %s: %w",
			user.Username, attributes.Verb, attributes.Resource, attributes.Name, err))
	}
	return review.Status.Allowed, nil
}

// mayEscalate says whether user may give teams what blueprint allows beyond
// the restricted level (EscalateVerb on it).
func mayEscalate(ctx context.Context, c client.Client, user authenticationv1.UserInfo, blueprint string) (bool, error) {
	return allowed(ctx, c, user, authorizationv1.ResourceAttributes{
		Group: teamsv1alpha1.GroupVersion.Group, Resource: "teamblueprints", Name: blueprint, Verb: EscalateVerb,
	})
}

// mayBind says whether user may bind the ClusterRole role, as RBAC asks
// before it lets anyone make a binding to a role with more than they hold.
func mayBind(ctx context.Context, c client.Client, user authenticationv1.UserInfo, role string) (bool, error) {
	return allowed(ctx, c, user, authorizationv1.ResourceAttributes{
		Group: rbacv1.GroupName, Resource: "clusterroles", Name: role, Verb: "bind",
	})
}

// looser reports whether level allows pods more than than. An unknown
// level counts as privileged: the namespace would enforce nothing.
func looser(level, than teamsv1alpha1.PodSecurityLevel) bool {
	return podSecurityRank(level) > podSecurityRank(than)
}

func podSecurityRank(level teamsv1alpha1.PodSecurityLevel) int {
	switch level {
	case teamsv1alpha1.PodSecurityRestricted:
		return 0
	case teamsv1alpha1.PodSecurityBaseline:
		return 1
	default:
		return 2
	}
}
