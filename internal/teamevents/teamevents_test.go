package teamevents_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/reference"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/teamevents"
)

// recorded is one Event as the events.k8s.io recorder would make it: its
// namespace is its regarding reference's, or default when that is empty.
type recorded struct {
	regarding corev1.ObjectReference
	related   string
	line      string
}

// captured records what the recorder is asked to record, with the
// references the real recorder would compute.
type captured struct {
	scheme *runtime.Scheme
	got    []recorded
}

func (c *captured) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ref, err := reference.GetReference(c.scheme, regarding)
	if err != nil {
		panic(err)
	}
	r := recorded{regarding: *ref, line: eventtype + "/" + reason + "/" + action + ": " + fmt.Sprintf(note, args...)}
	if related != nil {
		r.related = related.(client.Object).GetName()
	}
	c.got = append(c.got, r)
}

func TestEventf(t *testing.T) {
	scheme := runtime.NewScheme()
	NewWithT(t).Expect(corev1.AddToScheme(scheme)).To(Succeed())
	NewWithT(t).Expect(teamsv1alpha1.AddToScheme(scheme)).To(Succeed())
	team := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "north", UID: "uid-north", ResourceVersion: "7"}}
	owned := func(mutate func(*corev1.Namespace)) *corev1.Namespace {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-north", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "teams.buurt.dev/v1alpha1", Kind: "NeighbourhoodTeam", Name: "north", UID: "uid-north", Controller: ptr.To(true),
		}}}}
		if mutate != nil {
			mutate(ns)
		}
		return ns
	}
	clusterRef := corev1.ObjectReference{
		APIVersion: "teams.buurt.dev/v1alpha1", Kind: "NeighbourhoodTeam", Name: "north", UID: "uid-north", ResourceVersion: "7",
	}
	teamRef := clusterRef
	teamRef.Namespace = "team-north"
	line := "Warning/Rejected/Reconcile: quota 3 refused"

	for _, tc := range []struct {
		name string
		// cached and live are the namespaces the cache and the apiserver hold.
		cached, live []client.Object
		want         []corev1.ObjectReference
	}{
		{"no namespace yet: default only", nil, nil, []corev1.ObjectReference{clusterRef}},
		{"the team's namespace: both", []client.Object{owned(nil)}, nil, []corev1.ObjectReference{clusterRef, teamRef}},
		{"a namespace made a moment ago, not yet cached: both", nil, []client.Object{owned(nil)}, []corev1.ObjectReference{clusterRef, teamRef}},
		{"someone else's namespace of that name: default only", nil, []client.Object{owned(func(ns *corev1.Namespace) { ns.OwnerReferences = nil })},
			[]corev1.ObjectReference{clusterRef}},
		{"another team's namespace: default only", []client.Object{owned(func(ns *corev1.Namespace) { ns.OwnerReferences[0].UID = "uid-old" })}, nil,
			[]corev1.ObjectReference{clusterRef}},
		{"a namespace being deleted: default only", []client.Object{owned(func(ns *corev1.Namespace) {
			ns.DeletionTimestamp = ptr.To(metav1.Now())
			ns.Finalizers = []string{"kubernetes"}
		})}, nil, []corev1.ObjectReference{clusterRef}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			rec := &captured{scheme: scheme}
			cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.cached...).Build()
			live := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.live...).Build()
			teamevents.New(rec, cache, live).Eventf(context.Background(), team, nil, corev1.EventTypeWarning, "Rejected", "Reconcile", "quota %d refused", 3)
			want := make([]recorded, 0, len(tc.want))
			for _, ref := range tc.want {
				want = append(want, recorded{regarding: ref, line: line})
			}
			g.Expect(rec.got).To(Equal(want))
		})
	}

	// The related object goes with both copies; the team's namespace as
	// related is not looked up again.
	g := NewWithT(t)
	rec := &captured{scheme: scheme}
	ns := owned(nil)
	c := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return errors.New("looked up")
		},
	}).Build()
	teamevents.New(rec, c, c).Eventf(context.Background(), team, ns, corev1.EventTypeNormal, "NamespaceCreated", "Reconcile", "Created namespace %s", "team-north")
	g.Expect(rec.got).To(Equal([]recorded{
		{regarding: clusterRef, related: "team-north", line: "Normal/NamespaceCreated/Reconcile: Created namespace team-north"},
		{regarding: teamRef, related: "team-north", line: "Normal/NamespaceCreated/Reconcile: Created namespace team-north"},
	}))

	// A namespace that cannot be looked up gets nothing; default still does.
	rec = &captured{scheme: scheme}
	failing := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return errors.New("connection refused")
		},
	}).Build()
	teamevents.New(rec, failing, failing).Eventf(context.Background(), team, nil, corev1.EventTypeWarning, "Rejected", "Reconcile", "quota %d refused", 3)
	g.Expect(rec.got).To(Equal([]recorded{{regarding: clusterRef, line: line}}))
}
