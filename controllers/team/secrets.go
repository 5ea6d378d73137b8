package team

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

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

// secretWatch wakes a team when a Secret buurt made in its namespace is
// changed or deleted (deleting the database Secret rotates its password).
// It watches each team namespace on its own, metadata only, because the
// operator may not list Secrets cluster-wide.
type secretWatch struct {
	client metadata.Interface
	events chan event.TypedGenericEvent[*teamsv1alpha1.NeighbourhoodTeam]

	mu sync.Mutex
	// ctx is the manager's, once started; namespaces asked for before
	// that are watched from then on.
	ctx context.Context
	// stops ends the watch of each namespace, by namespace.
	stops map[string]context.CancelFunc
	// informers hold what is seen of each namespace's Secrets, by
	// namespace.
	informers map[string]toolscache.SharedIndexInformer
	// teams are the teams to watch, by namespace.
	teams map[string]string
}

func newSecretWatch(client metadata.Interface) *secretWatch {
	return &secretWatch{client: client, stops: map[string]context.CancelFunc{}, teams: map[string]string{},
		informers: map[string]toolscache.SharedIndexInformer{},
		events:    make(chan event.TypedGenericEvent[*teamsv1alpha1.NeighbourhoodTeam], 1024)}
}

// NeedLeaderElection: only the leader reconciles, so only it needs to know.
func (w *secretWatch) NeedLeaderElection() bool { return true }

// Start runs the watches until ctx ends.
func (w *secretWatch) Start(ctx context.Context) error {
	w.mu.Lock()
	w.ctx = ctx
	for namespace, team := range w.teams {
		w.start(namespace, team)
	}
	w.mu.Unlock()
	<-ctx.Done()
	return nil
}

// watch watches the team's namespace, if it does not already.
func (w *secretWatch) watch(team *teamsv1alpha1.NeighbourhoodTeam) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	namespace := team.NamespaceName()
	if _, ok := w.teams[namespace]; ok {
		return
	}
	w.teams[namespace] = team.Name
	if w.ctx != nil {
		w.start(namespace, team.Name)
	}
}

// forget stops watching the namespace of a team that is gone.
func (w *secretWatch) forget(namespace string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if stop, ok := w.stops[namespace]; ok {
		stop()
	}
	delete(w.stops, namespace)
	delete(w.teams, namespace)
	delete(w.informers, namespace)
}

// version is the UID and resourceVersion of a Secret buurt made, as its
// namespace's watch last saw it; ok is false when the watch has not seen
// the namespace's Secrets yet, or not this one.
func (w *secretWatch) version(namespace, name string) (uid, resourceVersion string, ok bool) {
	if w == nil {
		return "", "", false
	}
	w.mu.Lock()
	informer := w.informers[namespace]
	w.mu.Unlock()
	if informer == nil || !informer.HasSynced() {
		return "", "", false
	}
	obj, exists, err := informer.GetStore().GetByKey(namespace + "/" + name)
	if err != nil || !exists {
		return "", "", false
	}
	meta, isMeta := obj.(*metav1.PartialObjectMetadata)
	if !isMeta {
		return "", "", false
	}
	return string(meta.UID), meta.ResourceVersion, true
}

// start runs one namespace's informer; w.mu is held.
func (w *secretWatch) start(namespace, team string) {
	ctx, stop := context.WithCancel(w.ctx)
	w.stops[namespace] = stop
	selector := labels.SelectorFromSet(labels.Set{teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue}).String()
	informer := metadatainformer.NewFilteredMetadataInformer(w.client, corev1.SchemeGroupVersion.WithResource("secrets"), namespace, 0,
		toolscache.Indexers{}, func(o *metav1.ListOptions) { o.LabelSelector = selector }).Informer()
	wake := func() {
		owner := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: team}}
		select {
		case w.events <- event.TypedGenericEvent[*teamsv1alpha1.NeighbourhoodTeam]{Object: owner}:
		case <-ctx.Done():
		}
	}
	// A Secret that appears is one buurt made, in a reconcile that goes
	// on from it (or was there when the watch began); one changed or
	// deleted by anyone else is what the team must see.
	_, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(any, any) { wake() },
		DeleteFunc: func(any) { wake() },
	})
	if err != nil {
		ctrl.Log.Error(err, "Failed to watch the Secrets of a team namespace", "namespace", namespace)
		return
	}
	w.informers[namespace] = informer
	go informer.RunWithContext(ctx)
}
