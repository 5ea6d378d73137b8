package teamrole_test

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/teamrole"
)

func TestCheck(t *testing.T) {
	scheme := runtime.NewScheme()
	NewWithT(t).Expect(rbacv1.AddToScheme(scheme)).To(Succeed())
	role := func(name, use string) *rbacv1.ClusterRole {
		r := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if use != "" {
			r.Labels = map[string]string{teamsv1alpha1.TeamRoleLabel: use}
		}
		return r
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(role("members", "member"), role("coaches", "coach"), role("buurt-manager", "")).Build()
	unfit := func(name, use string) string {
		return "ClusterRole " + name + " is not labelled teams.buurt.dev/team-role=" + use +
			" (or does not exist), which marks a role fit for teams: label the ClusterRole so, or name one that is"
	}
	for _, tc := range []struct{ name, use, want string }{
		{"members", "member", ""},
		{"coaches", "coach", ""},
		{"coaches", "member", unfit("coaches", "member")},
		{"buurt-manager", "member", unfit("buurt-manager", "member")},
		{"missing", "coach", unfit("missing", "coach")},
	} {
		t.Run(tc.name+" as "+tc.use, func(t *testing.T) {
			g := NewWithT(t)
			got, err := teamrole.Check(context.Background(), reader, tc.name, tc.use)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tc.want))
		})
	}

	// A failure to read says nothing of the role: no verdict, an error.
	failing := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return errors.New("connection refused")
		},
	}).Build()
	g := NewWithT(t)
	got, err := teamrole.Check(context.Background(), failing, "members", "member")
	g.Expect(err).To(MatchError("failed to read ClusterRole members: connection refused"))
	g.Expect(got).To(BeEmpty())
}
