package apply

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
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

// fakeApplier is an Applier over a fake client that counts the applies it
// is sent.
func fakeApplier() (*Applier, client.Client, *int) {
	applies := new(int)
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			*applies++
			return c.Apply(ctx, obj, opts...)
		},
	}).Build()
	return New(c), c, applies
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

func TestAnUnchangedObjectIsNotAppliedAgainAlsoAfterARestart(t *testing.T) {
	g := NewWithT(t)
	a, c, applies := fakeApplier()
	first := apply(g, a, "app")
	g.Expect(first.Name).To(Equal("app"))
	g.Expect(first.ResourceVersion).NotTo(BeEmpty())
	g.Expect(first.Annotations).To(HaveKeyWithValue(AppliedAnnotation, MatchRegexp("^[0-9a-f]{32}$")))

	again := apply(g, a, "app")
	g.Expect(*applies).To(Equal(1))
	g.Expect(again).To(Equal(first))

	// A new Applier, as after a restart, knows from the object alone.
	g.Expect(apply(g, New(c), "app")).To(Equal(first))
	g.Expect(*applies).To(Equal(1))

	// What others add (a label, an annotation) is not buurt's to undo.
	first.Labels["added-by"] = "someone-else"
	g.Expect(c.Update(context.Background(), first)).To(Succeed())
	apply(g, a, "app")
	g.Expect(*applies).To(Equal(1))
}

func TestAHandEditOfAFieldBuurtSetsIsUndone(t *testing.T) {
	for name, edit := range map[string]func(*corev1.ServiceAccount){
		"a label buurt sets":         func(sa *corev1.ServiceAccount) { sa.Labels["app.kubernetes.io/managed-by"] = "hand" },
		"a field buurt sets":         func(sa *corev1.ServiceAccount) { sa.AutomountServiceAccountToken = ptr.To(true) },
		"a field removed":            func(sa *corev1.ServiceAccount) { sa.AutomountServiceAccountToken = nil },
		"the record of the last one": func(sa *corev1.ServiceAccount) { delete(sa.Annotations, AppliedAnnotation) },
		"an item added to a list": func(sa *corev1.ServiceAccount) {
			sa.ImagePullSecrets = append(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: "b"})
		},
	} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			a, c, applies := fakeApplier()
			desired := func() *corev1ac.ServiceAccountApplyConfiguration {
				return serviceAccount("app").WithAutomountServiceAccountToken(false).
					WithImagePullSecrets(corev1ac.LocalObjectReference().WithName("a"))
			}
			live := &corev1.ServiceAccount{}
			g.Expect(a.Apply(ctx, desired(), live)).To(Succeed())
			edit(live)
			g.Expect(c.Update(ctx, live)).To(Succeed())

			repaired := &corev1.ServiceAccount{}
			g.Expect(a.Apply(ctx, desired(), repaired)).To(Succeed())
			g.Expect(*applies).To(Equal(2))
			g.Expect(repaired.Labels).To(HaveKeyWithValue("app.kubernetes.io/managed-by", "buurt"))
			g.Expect(repaired.AutomountServiceAccountToken).To(Equal(ptr.To(false)))
			g.Expect(repaired.Annotations).To(HaveKey(AppliedAnnotation))
		})
	}
}

func TestAFieldNoLongerDesiredIsRemoved(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	a, _, applies := fakeApplier()
	g.Expect(a.Apply(ctx, serviceAccount("app").WithAutomountServiceAccountToken(false), &corev1.ServiceAccount{})).To(Succeed())
	// Everything now desired is in place; the hash says it is not all.
	live := apply(g, a, "app")
	g.Expect(*applies).To(Equal(2))
	g.Expect(live.AutomountServiceAccountToken).To(BeNil())
}

func TestQuantitiesAreComparedByValue(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	a, _, applies := fakeApplier()
	quota := func() *corev1ac.ResourceQuotaApplyConfiguration {
		return corev1ac.ResourceQuota("quota", owner.Namespace).WithSpec(corev1ac.ResourceQuotaSpec().
			WithHard(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1024Mi"), corev1.ResourceCPU: resource.MustParse("0.5")}))
	}
	live := &corev1.ResourceQuota{}
	g.Expect(a.Apply(ctx, quota(), live)).To(Succeed())
	g.Expect(a.Apply(ctx, quota(), live)).To(Succeed())
	g.Expect(*applies).To(Equal(1))
	g.Expect(live.Spec.Hard.Memory().String()).To(Equal("1Gi"))
}

func TestInPlace(t *testing.T) {
	for _, c := range []struct {
		name       string
		want, have any
		inPlace    bool
	}{
		{"more keys", map[string]any{"a": "x"}, map[string]any{"a": "x", "b": "y"}, true},
		{"a key missing", map[string]any{"a": "x"}, map[string]any{"b": "y"}, false},
		{"another value", map[string]any{"a": "x"}, map[string]any{"a": "z"}, false},
		{"an empty map for none", map[string]any{"a": map[string]any{}}, map[string]any{}, true},
		{"an empty list for none", map[string]any{"a": []any{}}, map[string]any{}, true},
		{"false is not missing", map[string]any{"a": false}, map[string]any{}, false},
		{"zero is not missing", map[string]any{"a": float64(0)}, map[string]any{}, false},
		{"numbers", map[string]any{"a": float64(8080)}, map[string]any{"a": float64(8080)}, true},
		{"an item more", []any{"a"}, []any{"a", "b"}, false},
		{"an item fewer", []any{"a", "b"}, []any{"a"}, false},
		{"items in place", []any{map[string]any{"a": "x"}}, []any{map[string]any{"a": "x", "b": "y"}}, true},
		{"items in another order", []any{"a", "b"}, []any{"b", "a"}, false},
		{"the same quantity", "1024Mi", "1Gi", true},
		{"another quantity", "1Gi", "1G", false},
		{"words that are no quantity", "a", "b", false},
		{"a string for a map", map[string]any{"a": "x"}, "x", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			NewWithT(t).Expect(inPlace(c.want, c.have)).To(Equal(c.inPlace))
		})
	}
}

func TestPruneDeletesOnlyWhatTheOwnerControlsAndKeepDoesNotKeep(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	a, c, applies := fakeApplier()
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

	// The kept object is in place; the pruned one is made anew.
	apply(g, a, "kept")
	g.Expect(*applies).To(Equal(2))
	apply(g, a, "pruned")
	g.Expect(*applies).To(Equal(3))
}

func TestApplyOverSkipsWhatIsInPlaceInWhatTheCallerRead(t *testing.T) {
	g := NewWithT(t)
	a, c, applies := fakeApplier()
	ctx := context.Background()

	// Nothing read: the object is made.
	first := &corev1.ServiceAccount{}
	g.Expect(a.ApplyOver(ctx, serviceAccount("app"), &corev1.ServiceAccount{}, first)).To(Succeed())
	g.Expect(*applies).To(Equal(1))

	// What the caller read is what the apply made: nothing is sent.
	read := &corev1.ServiceAccount{}
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(first), read)).To(Succeed())
	live := &corev1.ServiceAccount{}
	g.Expect(a.ApplyOver(ctx, serviceAccount("app"), read, live)).To(Succeed())
	g.Expect(*applies).To(Equal(1))
	g.Expect(live.ResourceVersion).To(Equal(first.ResourceVersion))

	// Someone changed it since: the apply is sent.
	read.Labels["app.kubernetes.io/managed-by"] = "hand"
	g.Expect(c.Update(ctx, read)).To(Succeed())
	g.Expect(a.ApplyOver(ctx, serviceAccount("app"), read, &corev1.ServiceAccount{})).To(Succeed())
	g.Expect(*applies).To(Equal(2))
}
