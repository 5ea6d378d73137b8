package team

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

func TestQuotaChangedWakesItsTeamAtOnceForDriftAndLaterForItsUse(t *testing.T) {
	quota := func(change func(*corev1.ResourceQuota)) *corev1.ResourceQuota {
		q := &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "buurt-quota", ResourceVersion: "7",
				Labels: map[string]string{"teams.buurt.dev/team": "a"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: teamsv1alpha1.GroupVersion.String(), Kind: "NeighbourhoodTeam",
					Name: "a", UID: "a-uid", Controller: ptr.To(true)}}},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("100")}},
			Status: corev1.ResourceQuotaStatus{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("100")},
				Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3")}},
		}
		if change != nil {
			change(q)
		}
		return q
	}
	scheme := runtime.NewScheme()
	NewWithT(t).Expect(teamsv1alpha1.AddToScheme(scheme)).To(Succeed())
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(teamsv1alpha1.GroupVersion.WithKind("NeighbourhoodTeam"), meta.RESTScopeRoot)
	handle := quotaChanged(handler.EnqueueRequestForOwner(scheme, mapper, &teamsv1alpha1.NeighbourhoodTeam{}, handler.OnlyControllerOwner()))
	const now, later = "now", "in 10s"
	for _, tc := range []struct {
		name   string
		change func(*corev1.ResourceQuota)
		wakes  string
	}{
		{"its use moved within a step", func(q *corev1.ResourceQuota) {
			q.Status.Used[corev1.ResourcePods] = resource.MustParse("4")
			q.ResourceVersion = "8"
			q.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Subresource: "status"}}
		}, ""},
		{"its use crossed a step (5% of the quota)", func(q *corev1.ResourceQuota) {
			q.Status.Used[corev1.ResourcePods] = resource.MustParse("5")
		}, later},
		{"the quota it counts against changed", func(q *corev1.ResourceQuota) {
			q.Status.Hard[corev1.ResourcePods] = resource.MustParse("50")
		}, later},
		{"its limits were edited", func(q *corev1.ResourceQuota) {
			q.Spec.Hard[corev1.ResourcePods] = resource.MustParse("200")
		}, now},
		{"its labels were edited", func(q *corev1.ResourceQuota) { q.Labels = nil }, now},
		{"it is being deleted", func(q *corev1.ResourceQuota) { q.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &recordingQueue{}
			handle.Update(context.Background(), event.UpdateEvent{ObjectOld: quota(nil), ObjectNew: quota(tc.change)}, q)
			var want []string
			if tc.wakes != "" {
				want = []string{"a " + tc.wakes}
			}
			NewWithT(t).Expect(q.added).To(Equal(want))
		})
	}
	g := NewWithT(t)
	// buurt made it, in the reconcile that goes on from it.
	q := &recordingQueue{}
	handle.Create(context.Background(), event.CreateEvent{Object: quota(nil)}, q)
	g.Expect(q.added).To(BeEmpty())
	handle.Delete(context.Background(), event.DeleteEvent{Object: quota(nil)}, q)
	g.Expect(q.added).To(Equal([]string{"a now"}))
}

// recordingQueue records what is added to it, and when it is to be ready.
type recordingQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	added []string
}

func (q *recordingQueue) Add(r reconcile.Request) { q.added = append(q.added, r.Name+" now") }

func (q *recordingQueue) AddAfter(r reconcile.Request, after time.Duration) {
	q.added = append(q.added, fmt.Sprintf("%s in %s", r.Name, after))
}

func TestChildChangedWakesATeamWhenAnAppBecomesAvailableOrNot(t *testing.T) {
	deployment := func(change func(*appsv1.DeploymentStatus)) *appsv1.Deployment {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "rota", Generation: 2, ResourceVersion: "7"},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
		}
		if change != nil {
			change(&d.Status)
		}
		return d
	}
	rolledOut := func(s *appsv1.DeploymentStatus) {
		s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.AvailableReplicas = 2, 2, 2, 2
	}
	for _, tc := range []struct {
		name     string
		old, new func(*appsv1.DeploymentStatus)
		wakes    bool
	}{
		{"its controller saw it, nothing is available yet", nil,
			func(s *appsv1.DeploymentStatus) { s.ObservedGeneration, s.Replicas, s.UpdatedReplicas = 2, 2, 2 }, false},
		{"a replica became available", nil, func(s *appsv1.DeploymentStatus) { s.AvailableReplicas = 1 }, true},
		{"it became available", func(s *appsv1.DeploymentStatus) {
			s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.AvailableReplicas = 2, 2, 2, 1
		},
			rolledOut, true},
		{"a condition's time moved", rolledOut, func(s *appsv1.DeploymentStatus) {
			rolledOut(s)
			s.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, LastUpdateTime: metav1.Unix(5, 0)}}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(childChanged.Update(event.UpdateEvent{ObjectOld: deployment(tc.old), ObjectNew: deployment(tc.new)})).To(Equal(tc.wakes))
		})
	}

	// The Deployment controller's revision is its own bookkeeping; a hand
	// edit of another annotation is the team's business.
	annotated := func(key string) *appsv1.Deployment {
		d := deployment(nil)
		d.Annotations = map[string]string{key: "1"}
		return d
	}
	g := NewWithT(t)
	g.Expect(childChanged.Update(event.UpdateEvent{ObjectOld: deployment(nil), ObjectNew: annotated("deployment.kubernetes.io/revision")})).To(BeFalse())
	g.Expect(childChanged.Update(event.UpdateEvent{ObjectOld: deployment(nil), ObjectNew: annotated("example.org/edited")})).To(BeTrue())
}

func TestTeamChangedWakesNoTeamForItsOwnStatusOrFinalizer(t *testing.T) {
	team := func(change func(*teamsv1alpha1.NeighbourhoodTeam)) *teamsv1alpha1.NeighbourhoodTeam {
		tm := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "a", Generation: 3, ResourceVersion: "9"}}
		if change != nil {
			change(tm)
		}
		return tm
	}
	for _, tc := range []struct {
		name   string
		change func(*teamsv1alpha1.NeighbourhoodTeam)
		wakes  bool
	}{
		{"its status", func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Status.Phase = teamsv1alpha1.TeamPhaseActive }, false},
		{"its finalizer", func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Finalizers = []string{"teams.buurt.dev/database"} }, false},
		{"its spec", func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Generation = 4 }, true},
		{"an annotation", func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Annotations = map[string]string{"a": "b"} }, true},
		{"a label", func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Labels = map[string]string{"a": "b"} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(teamChanged.Update(event.UpdateEvent{ObjectOld: team(nil), ObjectNew: team(tc.change)})).To(Equal(tc.wakes))
		})
	}
}
