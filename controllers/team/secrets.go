package team

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
// milliseconds, less than the phases between the binding and the first use
// of the Secrets it grants.
const operatorAccessWait = 5 * time.Second

// reconcileOperatorAccess binds the operator to what it needs in the team's
// namespace, and records when a binding was just made (withAccess).
func (r *Reconciler) reconcileOperatorAccess(ctx context.Context, s *scope) error {
	team := s.team
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
		s.accessGranted = time.Now()
	}
	return nil
}

// withAccess runs do, a request on the team's Secrets, again while the
// apiserver refuses it for a moment after this pass bound the operator to
// its role there. Asking the authorizer first (a SelfSubjectAccessReview)
// would cost every new team a request; by the time the database phase
// comes, the binding is nearly always seen.
func (r *Reconciler) withAccess(ctx context.Context, s *scope, do func(context.Context) error) error {
	err := do(ctx)
	deadline := s.accessGranted.Add(operatorAccessWait)
	if !apierrors.IsForbidden(err) || s.accessGranted.IsZero() || !time.Now().Before(deadline) {
		return err
	}
	_ = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Until(deadline), false, func(ctx context.Context) (bool, error) {
		err = do(ctx)
		return !apierrors.IsForbidden(err), nil
	})
	return err
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

// databaseSecret reads the team's database Secret past the cache (a Secret
// just deleted to rotate its password must not come back from a stale
// one), or, in a namespace this pass made, knows it is not there yet. A
// Secret not there is returned empty, without an error.
func (r *Reconciler) databaseSecret(ctx context.Context, s *scope) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	if s.namespaceMade {
		return secret, nil
	}
	team := s.team
	err := r.withAccess(ctx, s, func(ctx context.Context) error {
		return r.APIReader.Get(ctx, client.ObjectKey{Namespace: team.NamespaceName(), Name: render.DatabaseSecretName(team)}, secret)
	})
	if client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("failed to read the database Secret of team %s: %w", klog.KObj(team), err)
	}
	return secret, nil
}

// applyDatabaseSecret applies the team's database Secret over what was read
// of it (ApplyOver) and returns it as applied.
func (r *Reconciler) applyDatabaseSecret(ctx context.Context, s *scope, conn render.Connection, read *corev1.Secret) (*corev1.Secret, error) {
	applied := &corev1.Secret{}
	err := r.withAccess(ctx, s, func(ctx context.Context) error {
		return r.Applier.ApplyOver(ctx, render.DatabaseSecret(s.team, conn), read, applied)
	})
	if err != nil {
		return nil, fmt.Errorf("failed to apply the database Secret of team %s: %w", klog.KObj(s.team), err)
	}
	return applied, nil
}
