package team

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// secretWatch wakes a team when a Secret buurt made in its namespace is
// changed or deleted (deleting the database Secret rotates its password),
// and knows each such Secret's version, so that a reconcile need not read
// one to know it is unchanged. It watches each team namespace on its own,
// metadata only, because the operator may not list Secrets cluster-wide.
//
// A watch per namespace is one goroutine (and one stream on the operator's
// connection) and a map of versions: not an informer, whose queue, buffers
// and half a dozen goroutines, a thousand times over, would be most of the
// operator's memory.
type secretWatch struct {
	client metadata.Interface
	events chan event.TypedGenericEvent[*teamsv1alpha1.NeighbourhoodTeam]

	mu sync.Mutex
	// ctx is the manager's, once started; namespaces asked for before
	// that are watched from then on.
	ctx context.Context
	// namespaces are the watched team namespaces, by name.
	namespaces map[string]*namespaceSecrets
}

// namespaceSecrets is what is known of one team namespace's Secrets.
type namespaceSecrets struct {
	team string
	// stop ends its watch; nil before the manager started.
	stop context.CancelFunc

	mu sync.Mutex
	// listed is true once the Secrets have been listed: from then on,
	// versions holds them all.
	listed   bool
	versions map[string]secretVersion
}

// secretVersion identifies one state of a Secret.
type secretVersion struct{ uid, resourceVersion string }

// secretWatchTimeout bounds each watch request (the apiserver would end it
// anyway); each ends at its own time, so that a thousand do not start
// again at once.
const secretWatchTimeout = 5 * time.Minute

func newSecretWatch(client metadata.Interface) *secretWatch {
	return &secretWatch{client: client, namespaces: map[string]*namespaceSecrets{},
		events: make(chan event.TypedGenericEvent[*teamsv1alpha1.NeighbourhoodTeam], 1024)}
}

// NeedLeaderElection: only the leader reconciles, so only it needs to know.
func (w *secretWatch) NeedLeaderElection() bool { return true }

// Start runs the watches until ctx ends.
func (w *secretWatch) Start(ctx context.Context) error {
	w.mu.Lock()
	w.ctx = ctx
	for namespace, ns := range w.namespaces {
		w.start(namespace, ns)
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
	if _, ok := w.namespaces[namespace]; ok {
		return
	}
	ns := &namespaceSecrets{team: team.Name}
	w.namespaces[namespace] = ns
	if w.ctx != nil {
		w.start(namespace, ns)
	}
}

// forget stops watching the namespace of a team that is gone.
func (w *secretWatch) forget(namespace string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ns, ok := w.namespaces[namespace]; ok && ns.stop != nil {
		ns.stop()
	}
	delete(w.namespaces, namespace)
}

// version is the UID and resourceVersion of a Secret buurt made, as its
// namespace's watch last saw it; ok is false when the watch has not listed
// the namespace's Secrets yet, or has not seen this one.
func (w *secretWatch) version(namespace, name string) (uid, resourceVersion string, ok bool) {
	if w == nil {
		return "", "", false
	}
	w.mu.Lock()
	ns := w.namespaces[namespace]
	w.mu.Unlock()
	if ns == nil {
		return "", "", false
	}
	ns.mu.Lock()
	defer ns.mu.Unlock()
	v, seen := ns.versions[name]
	return v.uid, v.resourceVersion, ns.listed && seen
}

// start runs one namespace's watch; w.mu is held.
func (w *secretWatch) start(namespace string, ns *namespaceSecrets) {
	ctx, stop := context.WithCancel(w.ctx)
	ns.stop = stop
	go w.run(ctx, namespace, ns)
}

// run lists and watches the namespace's Secrets until ctx ends, listing
// again after an error, with a pause that grows (up to a minute) while
// listing fails and starts over once it succeeds.
func (w *secretWatch) run(ctx context.Context, namespace string, ns *namespaceSecrets) {
	newBackoff := func() wait.Backoff {
		return wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.5, Steps: 10, Cap: time.Minute}
	}
	backoff := newBackoff()
	for ctx.Err() == nil {
		listed, err := w.listAndWatch(ctx, namespace, ns)
		if ctx.Err() != nil {
			return
		}
		if listed {
			backoff = newBackoff()
		}
		ctrl.Log.V(1).Info("The watch of a team namespace's Secrets ended; listing them again", "namespace", namespace, "error", err.Error())
		select {
		case <-ctx.Done():
		case <-time.After(backoff.Step()):
		}
	}
}

// listAndWatch learns the namespace's Secrets that buurt made and watches
// them from there, until a watch fails. It learns them from the watch itself
// (a watch list: the apiserver sends what is there, then a bookmark), which
// is one request instead of a list and a watch; an apiserver that does not
// offer watch lists is asked for a list. listed is true once the Secrets
// were learnt; err is nil only when ctx ended.
func (w *secretWatch) listAndWatch(ctx context.Context, namespace string, ns *namespaceSecrets) (listed bool, err error) {
	resource := w.client.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(namespace)
	selector := labels.SelectorFromSet(labels.Set{teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue}).String()
	versions, resourceVersion, watcher, err := watchList(ctx, resource, selector)
	if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
		versions, resourceVersion, err = list(ctx, resource, selector)
	}
	if err != nil {
		return false, err
	}
	// What changed while no watch was open is seen as the watch would
	// have seen it.
	if ns.replace(versions) {
		w.wake(ctx, ns.team)
	}
	for ctx.Err() == nil {
		if watcher == nil {
			timeout := watchTimeout()
			if watcher, err = resource.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: resourceVersion,
				AllowWatchBookmarks: true, TimeoutSeconds: &timeout}); err != nil {
				return true, err
			}
		}
		resourceVersion, err = w.follow(ctx, watcher, ns, resourceVersion)
		watcher.Stop()
		watcher = nil
		if err != nil {
			return true, err
		}
	}
	return true, nil
}

// watchTimeout is a watch request's timeout, spread between one and two
// secretWatchTimeout.
func watchTimeout() int64 {
	return int64((secretWatchTimeout + rand.N(secretWatchTimeout)).Seconds()) //nolint:gosec // a spread, not a secret
}

// watchList opens a watch that first sends the Secrets there now, and reads
// them up to the bookmark that ends them; the watch goes on from there.
func watchList(ctx context.Context, resource metadata.ResourceInterface, selector string) (map[string]secretVersion, string, watch.Interface, error) {
	timeout := watchTimeout()
	watcher, err := resource.Watch(ctx, metav1.ListOptions{LabelSelector: selector, SendInitialEvents: ptr.To(true),
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true, TimeoutSeconds: &timeout})
	if err != nil {
		return nil, "", nil, err
	}
	versions := map[string]secretVersion{}
	for e := range watcher.ResultChan() {
		if e.Type == watch.Error {
			watcher.Stop()
			return nil, "", nil, apierrors.FromObject(e.Object)
		}
		secret, ok := e.Object.(*metav1.PartialObjectMetadata)
		if !ok {
			watcher.Stop()
			return nil, "", nil, fmt.Errorf("unexpected %T in a watch of Secrets", e.Object)
		}
		switch e.Type {
		case watch.Added:
			versions[secret.Name] = versionOf(secret)
		case watch.Bookmark:
			if secret.Annotations[metav1.InitialEventsAnnotationKey] == "true" {
				return versions, secret.ResourceVersion, watcher, nil
			}
		}
	}
	watcher.Stop()
	return nil, "", nil, fmt.Errorf("the watch of Secrets ended before it had sent them all")
}

// list lists the Secrets there now.
func list(ctx context.Context, resource metadata.ResourceInterface, selector string) (map[string]secretVersion, string, error) {
	listCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	secrets, err := resource.List(listCtx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, "", err
	}
	versions := make(map[string]secretVersion, len(secrets.Items))
	for i := range secrets.Items {
		versions[secrets.Items[i].Name] = versionOf(&secrets.Items[i])
	}
	return versions, secrets.ResourceVersion, nil
}

// follow takes in a watch's events until it ends, and returns the last
// resourceVersion seen. A Secret that appears is one buurt made, in a
// reconcile that goes on from it; one changed or deleted by anyone is what
// its team must see.
func (w *secretWatch) follow(ctx context.Context, watcher watch.Interface, ns *namespaceSecrets, resourceVersion string) (string, error) {
	for e := range watcher.ResultChan() {
		if e.Type == watch.Error {
			return resourceVersion, apierrors.FromObject(e.Object)
		}
		secret, ok := e.Object.(*metav1.PartialObjectMetadata)
		if !ok {
			return resourceVersion, fmt.Errorf("unexpected %T in a watch of Secrets", e.Object)
		}
		resourceVersion = secret.ResourceVersion
		switch e.Type {
		case watch.Added:
			ns.set(secret.Name, versionOf(secret))
		case watch.Modified:
			ns.set(secret.Name, versionOf(secret))
			w.wake(ctx, ns.team)
		case watch.Deleted:
			ns.remove(secret.Name)
			w.wake(ctx, ns.team)
		}
	}
	return resourceVersion, nil
}

func versionOf(secret *metav1.PartialObjectMetadata) secretVersion {
	return secretVersion{uid: string(secret.UID), resourceVersion: secret.ResourceVersion}
}

// replace takes a full list of the namespace's Secrets, and tells whether
// it differs from what was known from an earlier one.
func (ns *namespaceSecrets) replace(versions map[string]secretVersion) (changed bool) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	changed = ns.listed && !maps.Equal(ns.versions, versions)
	ns.versions, ns.listed = versions, true
	return changed
}

func (ns *namespaceSecrets) set(name string, v secretVersion) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	ns.versions[name] = v
}

func (ns *namespaceSecrets) remove(name string) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	delete(ns.versions, name)
}

// wake enqueues the team.
func (w *secretWatch) wake(ctx context.Context, team string) {
	owner := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: team}}
	select {
	case w.events <- event.TypedGenericEvent[*teamsv1alpha1.NeighbourhoodTeam]{Object: owner}:
	case <-ctx.Done():
	}
}
