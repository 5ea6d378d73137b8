package team

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestStatusUnreadWakesNoTeamOnAStatusChange(t *testing.T) {
	quota := func(change func(*corev1.ResourceQuota)) *corev1.ResourceQuota {
		q := &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "buurt-quota", ResourceVersion: "7",
				Labels: map[string]string{"teams.buurt.dev/team": "a"}},
			Spec:   corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("20")}},
			Status: corev1.ResourceQuotaStatus{Used: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3")}},
		}
		if change != nil {
			change(q)
		}
		return q
	}
	for _, tc := range []struct {
		name   string
		change func(*corev1.ResourceQuota)
		wakes  bool
	}{
		{"its use moved", func(q *corev1.ResourceQuota) {
			q.Status.Used[corev1.ResourcePods] = resource.MustParse("4")
			q.ResourceVersion = "8"
			q.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Subresource: "status"}}
		}, false},
		{"its limits were edited", func(q *corev1.ResourceQuota) {
			q.Spec.Hard[corev1.ResourcePods] = resource.MustParse("200")
		}, true},
		{"its labels were edited", func(q *corev1.ResourceQuota) { q.Labels = nil }, true},
		{"it is being deleted", func(q *corev1.ResourceQuota) { q.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(statusUnread.Update(event.UpdateEvent{ObjectOld: quota(nil), ObjectNew: quota(tc.change)})).To(Equal(tc.wakes))
		})
	}
	NewWithT(t).Expect(statusUnread.Create(event.CreateEvent{Object: quota(nil)})).To(BeTrue())
	NewWithT(t).Expect(statusUnread.Delete(event.DeleteEvent{Object: quota(nil)})).To(BeTrue())
}
