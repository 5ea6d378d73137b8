package team

import (
	"context"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// teamChanged passes a team's events but an update of its status alone, or
// of its finalizers: the reconcile that wrote them goes on without waking
// again. A change of spec (or deletion) moves the generation; labels and
// annotations are read as they are.
var teamChanged = predicate.Or(predicate.GenerationChangedPredicate{},
	predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{})

// childChanged passes the events of a team's child that the reconcile must
// see: a change of what buurt set or anyone else did to it but its status,
// a change of the part of its status the reconcile reads (statusRead), and
// its deletion. A child's creation wakes no team: buurt made it, in a
// reconcile of that team, which goes on from the object the apply returned.
// Updates of what the reconcile does not read (a Deployment's replica counts
// on their way and its revision) wake none. A quota's use wakes its team
// later, if at all (quotaChanged).
var childChanged = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return statusRead(e.ObjectOld) != statusRead(e.ObjectNew) ||
			!equality.Semantic.DeepEqual(withoutStatus(e.ObjectOld), withoutStatus(e.ObjectNew))
	},
}

// appHealth is what the reconcile reads of a Deployment's status.
type appHealth struct {
	available         bool
	availableReplicas int32
}

// statusRead is the part of a child's status a reconcile reads: a
// namespace's phase, whether a Deployment is available and with how many
// replicas, a StatefulSet's ready replicas, the step of a quota's use
// (usage.go); nil for the others. Each is comparable with ==.
func statusRead(obj client.Object) any {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return o.Status.Phase
	case *appsv1.Deployment:
		return appHealth{available: o.Spec.Replicas != nil && available(o), availableReplicas: o.Status.AvailableReplicas}
	case *appsv1.StatefulSet:
		return o.Status.ReadyReplicas
	case *corev1.ResourceQuota:
		return quotaSteps(o)
	}
	return nil
}

// revisionAnnotation is the Deployment controller's count of a
// Deployment's rollouts, written on its metadata as it starts each one:
// its own bookkeeping, which no reconcile reads.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// withoutStatus is obj as a map, without status, resourceVersion, managed
// fields and revisionAnnotation; nil for an object that does not convert.
func withoutStatus(obj client.Object) map[string]any {
	if obj == nil || reflect.ValueOf(obj).IsNil() {
		return nil
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil
	}
	delete(u, "status")
	if meta, ok := u["metadata"].(map[string]any); ok {
		delete(meta, "resourceVersion")
		delete(meta, "managedFields")
		if annotations, ok := meta["annotations"].(map[string]any); ok {
			delete(annotations, revisionAnnotation)
			if len(annotations) == 0 {
				delete(meta, "annotations")
			}
		}
	}
	return u
}

// usageWakeDelay is how long a team waits before a step in its quota's use
// wakes it. The use moves with the team's pods: a team that forms, rolls
// out or scales crosses several steps in a few seconds, and its apps'
// becoming available (or not) wakes it then anyway. The controller's queue
// holds one entry a team, so whichever wake comes first takes the usage
// with it: a forming team is reconciled to be made and to be Ready, not
// once more for its first pods. status.usage, which is for people, is at
// most this late; buurt_team_quota_used_ratio is read at each scrape.
const usageWakeDelay = 10 * time.Second

// quotaChanged wakes the team owning a quota: at once when what buurt set
// changed or the quota is gone (the reconcile puts it back), after
// usageWakeDelay when its use crossed a step or Kubernetes counted a new
// limit, and not for a use within a step or the quota's creation, which
// buurt made in a reconcile of the team.
func quotaChanged(owner handler.EventHandler) handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			switch {
			case !equality.Semantic.DeepEqual(withoutStatus(e.ObjectOld), withoutStatus(e.ObjectNew)):
				owner.Update(ctx, e, q)
			case statusRead(e.ObjectOld) != statusRead(e.ObjectNew):
				owner.Update(ctx, e, later{q})
			}
		},
		DeleteFunc: owner.Delete,
	}
}

// later is a queue whose Add is an AddAfter of usageWakeDelay.
type later struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
}

func (l later) Add(r reconcile.Request) { l.AddAfter(r, usageWakeDelay) }
