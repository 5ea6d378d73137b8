package team

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestWithAccessTriesAgainOnlyWhileANewBindingIsNotYetSeen(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "a-db", nil)
	// refusing answers Forbidden the first n times, then allowed.
	refusing := func(n int, calls *int) func(context.Context) error {
		return func(context.Context) error {
			*calls++
			if *calls <= n {
				return forbidden
			}
			return nil
		}
	}
	r := &Reconciler{}
	for _, tc := range []struct {
		name      string
		granted   time.Time
		refusals  int
		calls     int
		forbidden bool
	}{
		{"a binding just made, seen after two refusals", time.Now(), 2, 3, false},
		{"a binding made before this pass: Forbidden is the answer", time.Time{}, 2, 1, true},
		{"a binding made longer ago than the wait", time.Now().Add(-operatorAccessWait), 2, 1, true},
		{"allowed at once", time.Now(), 0, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			calls := 0
			err := r.withAccess(context.Background(), &scope{accessGranted: tc.granted}, refusing(tc.refusals, &calls))
			g.Expect(apierrors.IsForbidden(err)).To(Equal(tc.forbidden), "error %v", err)
			if !tc.forbidden {
				g.Expect(err).NotTo(HaveOccurred())
			}
			g.Expect(calls).To(Equal(tc.calls))
		})
	}
}
