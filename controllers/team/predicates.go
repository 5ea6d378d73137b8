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

// readsStatus is true for the children whose status a reconcile reads: a
// namespace's phase, a Deployment's and a StatefulSet's replicas. Updates
// of the others' status alone (a quota's use, which moves with every pod;
// an Ingress's load balancer) wake no team.
func readsStatus(obj client.Object) bool {
	switch obj.(type) {
	case *corev1.Namespace, *appsv1.Deployment, *appsv1.StatefulSet:
		return true
	}
	return false
}

// statusUnread passes every event but an update that changed only an
// object's status (and what the apiserver keeps with it: its
// resourceVersion and managed fields).
var statusUnread = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return !equality.Semantic.DeepEqual(withoutStatus(e.ObjectOld), withoutStatus(e.ObjectNew))
}}

// withoutStatus is obj as a map, without status, resourceVersion and
// managed fields; nil for an object that does not convert.
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
	}
	return u
}
