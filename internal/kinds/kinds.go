// Package kinds lists the kinds of object buurt makes for teams and coaches:
// the manager's cache holds only buurt's objects of these kinds, and the
// team controller watches the ones it owns.
package kinds

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TeamChildren are the kinds a team owns (controller owner reference) that
// the manager caches and the team controller watches, new empty objects on
// every call. The team's Secrets are owned too, but never cached: the
// operator may read Secrets only in team namespaces, not list them
// cluster-wide (controllers/team/secrets.go).
func TeamChildren() []client.Object {
	return []client.Object{
		&corev1.Namespace{},
		&rbacv1.RoleBinding{}, &rbacv1.ClusterRole{}, &rbacv1.ClusterRoleBinding{},
		&corev1.ResourceQuota{}, &corev1.LimitRange{},
		&corev1.Service{}, &corev1.ServiceAccount{},
		&appsv1.StatefulSet{}, &appsv1.Deployment{},
		&networkingv1.Ingress{}, &networkingv1.NetworkPolicy{},
	}
}

// Managed are the kinds the manager caches only when labelled
// app.kubernetes.io/managed-by=buurt: the team's children and the claims of
// Dedicated databases, which their StatefulSet owns.
func Managed() []client.Object {
	return append(TeamChildren(), &corev1.PersistentVolumeClaim{})
}
