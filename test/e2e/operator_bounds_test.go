//go:build e2e

package e2e

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/localcluster"
)

// TestACompromisedOperatorStaysWithinTheTeams acts as the operator's
// ServiceAccount, as someone who stole its token would, and checks that
// the apiserver (the policy buurt-operator-bounds) refuses what its
// cluster-wide RBAC would otherwise allow, while the operator's own work
// for a team goes on.
func TestACompromisedOperatorStaysWithinTheTeams(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	operator := as(t, "system:serviceaccount:"+localcluster.OperatorNamespace+":"+localcluster.OperatorServiceAccount)

	create := func(obj client.Object) error { return operator.Create(ctx, obj, client.DryRunAll) }
	labels := map[string]string{"app": "escape"}
	for name, obj := range map[string]client.Object{
		"a Deployment in kube-system": &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "escape"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example.org/escape:1"}}},
				},
			},
		},
		"a Service in default": &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "escape"},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
		},
		"a namespace that is not a team's": &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "escape"}},
		"an Event in kube-system": &eventsv1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "escape"},
			EventTime:  metav1.NowMicro(), ReportingController: "buurt", ReportingInstance: "buurt-escape",
			Action: "Reconcile", Reason: "Escape", Type: corev1.EventTypeNormal,
			Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "kube-system", Name: "escape"},
		},
		"a member role bound cluster-wide": &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "buurt:team:escape"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "buurt:team-member"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory"}},
		},
	} {
		err := create(obj)
		g.Expect(err).To(HaveOccurred(), name)
		g.Expect(err.Error()).To(ContainSubstring("buurt-operator-bounds"), name)
	}

	// Nor may it claim a namespace it did not make.
	patch := []byte(`{"metadata":{"labels":{"app.kubernetes.io/managed-by":"buurt","teams.buurt.dev/team":"kube-system"}}}`)
	err := operator.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		client.RawPatch(types.MergePatchType, patch), client.DryRunAll)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("buurt's operator changes only the namespaces it made for teams, not kube-system"))

	// In a team's namespace it works as ever: the team gets its workspace,
	// and the operator reads its Secrets there and nowhere else.
	blueprint := &teamsv1alpha1.TeamBlueprint{ObjectMeta: metav1.ObjectMeta{Name: "bounds"}}
	g.Expect(admin.Create(ctx, blueprint)).To(Succeed())
	team := newTeam("bounds", "bounds", user("anna"))
	g.Expect(admin.Create(ctx, team)).To(Succeed())
	eventuallyTeam(t, "bounds", ready)
	g.Expect(operator.List(ctx, &corev1.SecretList{}, client.InNamespace("team-bounds"))).To(Succeed())
	g.Expect(operator.List(ctx, &corev1.SecretList{}, client.InNamespace("kube-system"))).NotTo(Succeed())
	g.Expect(operator.List(ctx, &corev1.SecretList{})).NotTo(Succeed())
	g.Expect(admin.Delete(ctx, team)).To(Succeed())
	reallyGone(t, team)
	g.Expect(admin.Delete(ctx, blueprint, &client.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})).To(Succeed())
}
