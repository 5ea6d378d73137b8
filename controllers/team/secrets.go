package team

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// The operator may read and write Secrets only in its own namespace and in
// team namespaces: its ClusterRole has no rule on Secrets, and in each team
// namespace it makes it binds itself to the ClusterRole render.OperatorRoleName
// (RoleBinding render.OperatorRoleBindingName). So Secrets are never read
// through the manager's cache, which would list them cluster-wide; they are
// read directly, and each team namespace's Secrets that buurt made are
// watched on their own (secretWatch).

// operatorAccessWait bounds how long a reconcile waits for the apiserver's
// authorizer to see the RoleBinding it just made; it usually takes a few
// milliseconds.
const operatorAccessWait = 5 * time.Second

// reconcileOperatorAccess binds the operator to what it needs in the team's
// namespace, and, for a binding just made, waits until the apiserver
// allows it, so that the phases after it do not fail for a moment with
// Forbidden.
func (r *Reconciler) reconcileOperatorAccess(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam) error {
	subject, err := r.operatorSubject(ctx)
	if err != nil {
		return err
	}
	binding := render.OperatorRoleBinding(team, subject)
	existing := &rbacv1.RoleBinding{}
	err = r.Client.Get(ctx, client.ObjectKey{Namespace: team.NamespaceName(), Name: render.OperatorRoleBindingName}, existing)
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to read the operator's RoleBinding of team %s: %w", klog.KObj(team), err)
	}
	isNew := apierrors.IsNotFound(err)
	if err := r.Applier.Apply(ctx, binding, &rbacv1.RoleBinding{}); err != nil {
		return fmt.Errorf("failed to bind the operator to %s in namespace %s: %w", render.OperatorRoleName, team.NamespaceName(), err)
	}
	if isNew {
		if err := r.waitForSecretAccess(ctx, team.NamespaceName()); err != nil {
			return err
		}
	}
	r.secrets.watch(team)
	return nil
}

// waitForSecretAccess asks the apiserver until it lets the operator read
// Secrets in namespace.
func (r *Reconciler) waitForSecretAccess(ctx context.Context, namespace string) error {
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, operatorAccessWait, true, func(ctx context.Context) (bool, error) {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Resource: "secrets", Verb: "get"},
		}}
		if err := r.Client.Create(ctx, review); err != nil {
			return false, fmt.Errorf("failed to ask whether the operator may read Secrets in namespace %s: %w", namespace, err)
		}
		return review.Status.Allowed, nil
	})
}

// operatorSubject is who the operator runs as, asked once of the apiserver:
// the ServiceAccount of its pod, or the user of a kubeconfig (make dev).
func (r *Reconciler) operatorSubject(ctx context.Context) (rbacv1.Subject, error) {
	r.identity.Lock()
	defer r.identity.Unlock()
	if r.identity.subject != nil {
		return *r.identity.subject, nil
	}
	review := &authenticationv1.SelfSubjectReview{}
	if err := r.Client.Create(ctx, review); err != nil {
		return rbacv1.Subject{}, fmt.Errorf("failed to ask the apiserver who the operator is: %w", err)
	}
	subject := subjectOf(review.Status.UserInfo.Username)
	r.identity.subject = &subject
	return subject, nil
}

// subjectOf is the RBAC subject of a user name.
func subjectOf(username string) rbacv1.Subject {
	if rest, ok := strings.CutPrefix(username, "system:serviceaccount:"); ok {
		if namespace, name, ok := strings.Cut(rest, ":"); ok {
			return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
		}
	}
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: username}
}

// identity is the operator's own RBAC subject, once known.
type identity struct {
	sync.Mutex
	subject *rbacv1.Subject
}
