package team

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
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
// Updates of what the reconcile does not read (a quota's use within a step,
// which moves with every pod; a Deployment's replica counts on their way and
// its revision) wake none.
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
// (usage.go); nil for the others. Each is
// comparable with ==.
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
