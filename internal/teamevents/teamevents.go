// Package teamevents records Events about a NeighbourhoodTeam where the
// people who read the team can see them.
//
// A team is cluster-scoped, and the apiserver takes an Event about a
// cluster-scoped object only in the namespaces default and kube-system, which
// a team's members and coach cannot read. So each Event is recorded twice:
// in default, regarding the team as it is, where `kubectl describe
// neighbourhoodteam` finds it and where it outlives the team's namespace; and
// in the team's own namespace, while that namespace is the team's, for its
// members and coach (`kubectl events -n team-<name>`). The copy's regarding
// names the team with the team's namespace in its namespace field: the only
// reference the apiserver accepts there.
package teamevents

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Recorder records a team's Events in default and in the team's namespace.
// Both go through one events.k8s.io recorder, so repeats of an Event are
// aggregated into a series, each copy on its own, as that recorder does.
type Recorder struct {
	events events.EventRecorder
	cache  client.Reader
	live   client.Reader
}

// New makes a Recorder that records through rec and looks up the team's
// namespace in cache, then, when the cache does not have it yet (a namespace
// made a moment ago), in live.
func New(rec events.EventRecorder, cache, live client.Reader) *Recorder {
	return &Recorder{events: rec, cache: cache, live: live}
}

// Eventf records an Event about team, with related as the object it
// concerns (or nil), in default and, while it is open, in the team's
// namespace. The note must hold nothing the team's members may not read.
func (r *Recorder) Eventf(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, related runtime.Object,
	eventtype, reason, action, note string, args ...any) {
	r.events.Eventf(team, related, eventtype, reason, action, note, args...)
	if r.open(ctx, team, related) {
		r.events.Eventf(inNamespace(team), related, eventtype, reason, action, note, args...)
	}
}

// open tells whether the team's namespace takes the team's Events: it
// exists, is not being deleted (the apiserver refuses new objects there) and
// is the team's. A namespace of that name that is not the team's never
// receives them: its owner must not read the team's Events. An Event
// related to the team's namespace itself (the one that says it was made)
// comes with it as it was just applied, which spares a lookup past the cache.
func (r *Recorder) open(ctx context.Context, team *teamsv1alpha1.NeighbourhoodTeam, related runtime.Object) bool {
	ns, given := related.(*corev1.Namespace)
	if !given || ns.Name != team.NamespaceName() {
		key := client.ObjectKey{Name: team.NamespaceName()}
		ns = &corev1.Namespace{}
		err := r.cache.Get(ctx, key, ns)
		if apierrors.IsNotFound(err) {
			err = r.live.Get(ctx, key, ns)
		}
		if err != nil {
			if !apierrors.IsNotFound(err) {
				ctrl.LoggerFrom(ctx).Error(err, "Failed to look up the team's namespace; recording its Event in default only",
					"team", klog.KObj(team), "namespace", key.Name)
			}
			return false
		}
	}
	return metav1.IsControlledBy(ns, team) && ns.DeletionTimestamp.IsZero()
}

// inNamespace is what the copy of an Event in the team's namespace regards:
// the team, named with that namespace. It carries only what an Event's
// reference takes.
func inNamespace(team *teamsv1alpha1.NeighbourhoodTeam) *teamsv1alpha1.NeighbourhoodTeam {
	return &teamsv1alpha1.NeighbourhoodTeam{
		TypeMeta: team.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: team.Name, Namespace: team.NamespaceName(), UID: team.UID, ResourceVersion: team.ResourceVersion,
		},
	}
}
