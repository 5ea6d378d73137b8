package apply

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// owner is the ConfigMap the test's objects belong to.
var owner = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "owner", UID: "owner-uid"}}

// fakeApplier is an Applier that remembers size objects, over a fake client
// that counts the applies it is sent.
func fakeApplier(size int) (*Applier, client.Client, *int) {
	applies := new(int)
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			*applies++
			return c.Apply(ctx, obj, opts...)
		},
	}).Build()
	return newApplier(c, size), c, applies
}

func serviceAccount(name string) *corev1ac.ServiceAccountApplyConfiguration {
	return corev1ac.ServiceAccount(name, owner.Namespace).
		WithLabels(map[string]string{"app.kubernetes.io/managed-by": "buurt"}).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion("v1").WithKind("ConfigMap").WithName(owner.Name).WithUID(owner.UID).WithController(true))
}

func apply(g Gomega, a *Applier, name string) *corev1.ServiceAccount {
	live := &corev1.ServiceAccount{}
	g.Expect(a.Apply(context.Background(), serviceAccount(name), live)).To(Succeed())
	return live
}

func TestAnUnchangedObjectIsNotAppliedAgain(t *testing.T) {
	g := NewWithT(t)
	a, _, applies := fakeApplier(10)
	first := apply(g, a, "app")
	g.Expect(first.Name).To(Equal("app"))
	g.Expect(first.ResourceVersion).NotTo(BeEmpty())

	again := apply(g, a, "app")
	g.Expect(*applies).To(Equal(1))
	g.Expect(again.ResourceVersion).To(Equal(first.ResourceVersion))

	// Another desired state is applied.
	live := &corev1.ServiceAccount{}
	g.Expect(a.Apply(context.Background(), serviceAccount("app").WithAutomountServiceAccountToken(false), live)).To(Succeed())
	g.Expect(*applies).To(Equal(2))
	g.Expect(live.AutomountServiceAccountToken).To(Equal(ptr.To(false)))
}

func TestTheLeastRecentlyUsedObjectIsForgottenPastTheBound(t *testing.T) {
	g := NewWithT(t)
	a, _, applies := fakeApplier(2)
	apply(g, a, "first")
	apply(g, a, "second")
	apply(g, a, "third")
	g.Expect(*applies).To(Equal(3))
	g.Expect(a.known.Len()).To(Equal(2))

	// The two kept are still skipped; looking second up makes third the
	// least recently used.
	apply(g, a, "third")
	apply(g, a, "second")
	g.Expect(*applies).To(Equal(3))

	// The one forgotten is applied again, and takes third's place.
	apply(g, a, "first")
	g.Expect(*applies).To(Equal(4))
	apply(g, a, "second")
	g.Expect(*applies).To(Equal(4))
	apply(g, a, "third")
	g.Expect(*applies).To(Equal(5))
}

func TestForgetMakesTheNextApplyBeSent(t *testing.T) {
	g := NewWithT(t)
	a, _, applies := fakeApplier(10)
	live := apply(g, a, "app")
	a.Forget(live)
	g.Expect(a.known.Len()).To(BeZero())
	apply(g, a, "app")
	g.Expect(*applies).To(Equal(2))
}

func TestPruneDeletesAndForgetsOnlyWhatTheOwnerControlsAndKeepDoesNotKeep(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	a, c, applies := fakeApplier(10)
	apply(g, a, "kept")
	apply(g, a, "pruned")
	stranger := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: owner.Namespace, Name: "stranger",
		Labels: map[string]string{"app.kubernetes.io/managed-by": "buurt"}}}
	g.Expect(c.Create(ctx, stranger)).To(Succeed())

	keep := func(o client.Object) bool { return o.GetName() == "kept" }
	g.Expect(a.Prune(ctx, owner, &corev1.ServiceAccountList{}, keep,
		client.InNamespace(owner.Namespace), client.MatchingLabels{"app.kubernetes.io/managed-by": "buurt"})).To(Succeed())

	left := &corev1.ServiceAccountList{}
	g.Expect(c.List(ctx, left)).To(Succeed())
	var names []string
	for _, sa := range left.Items {
		names = append(names, sa.Name)
	}
	g.Expect(names).To(ConsistOf("kept", "stranger"))
	err := c.Get(ctx, client.ObjectKey{Namespace: owner.Namespace, Name: "pruned"}, &corev1.ServiceAccount{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue())
	g.Expect(a.known.Len()).To(Equal(1))

	// The kept object is still known; the pruned one is made anew.
	apply(g, a, "kept")
	g.Expect(*applies).To(Equal(2))
	apply(g, a, "pruned")
	g.Expect(*applies).To(Equal(3))
}

func TestApplyOverSkipsOnlyWhatTheCallerReadAsLastApplied(t *testing.T) {
	g := NewWithT(t)
	a, c, applies := fakeApplier(10)
	ctx := context.Background()

	// Nothing read: the object is made.
	first := &corev1.ServiceAccount{}
	g.Expect(a.ApplyOver(ctx, serviceAccount("app"), &corev1.ServiceAccount{}, first)).To(Succeed())
	g.Expect(*applies).To(Equal(1))

	// What the caller read is what the last apply made: nothing is sent.
	read := &corev1.ServiceAccount{}
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(first), read)).To(Succeed())
	live := &corev1.ServiceAccount{}
	g.Expect(a.ApplyOver(ctx, serviceAccount("app"), read, live)).To(Succeed())
	g.Expect(*applies).To(Equal(1))
	g.Expect(live.ResourceVersion).To(Equal(first.ResourceVersion))

	// Someone changed it since: the apply is sent.
	read.Labels["edited"] = "by-hand"
	g.Expect(c.Update(ctx, read)).To(Succeed())
	g.Expect(a.ApplyOver(ctx, serviceAccount("app"), read, &corev1.ServiceAccount{})).To(Succeed())
	g.Expect(*applies).To(Equal(2))
}
