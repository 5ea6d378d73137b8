package blueprint_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// A blueprint says whether the cluster holds its teams to the tenant
// rules: False naming what is missing, as the operator's ServiceAccount
// sees it, then True once config/policies is installed. Ready does not
// depend on it.
func TestBlueprintReportsMissingTenantPolicies(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := testenv.DesignBlueprint("tenant-rules")
	g.Expect(env.Client.Create(ctx, bp)).To(Succeed())
	expect := func(status metav1.ConditionStatus, reason, message string) {
		t.Helper()
		g.Eventually(func(g Gomega) {
			got := &teamsv1alpha1.TeamBlueprint{}
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bp), got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, teamsv1alpha1.TenantRulesEnforcedCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect([]string{string(c.Status), c.Reason, c.Message}).To(Equal([]string{string(status), reason, message}))
			g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
			g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, teamsv1alpha1.ReadyCondition)).To(BeTrue())
		}).WithTimeout(30 * time.Second).Should(Succeed())
	}
	expect(metav1.ConditionFalse, teamsv1alpha1.PoliciesMissingReason,
		"The apiserver does not hold team namespaces, members' quota and the operator to all of buurt's rules (tenant rules, quota members, operator bounds): "+
			"missing ValidatingAdmissionPolicy buurt-tenant-service-types, ValidatingAdmissionPolicyBinding buurt-tenant-service-types, "+
			"ValidatingAdmissionPolicy buurt-tenant-endpoints, ValidatingAdmissionPolicyBinding buurt-tenant-endpoints, "+
			"ValidatingAdmissionPolicy buurt-tenant-ingress-hosts, ValidatingAdmissionPolicyBinding buurt-tenant-ingress-hosts, "+
			"ValidatingAdmissionPolicy buurt-tenant-pod-images, ValidatingAdmissionPolicyBinding buurt-tenant-pod-images, "+
			"ValidatingAdmissionPolicy buurt-tenant-workload-images, ValidatingAdmissionPolicyBinding buurt-tenant-workload-images and 8 more; "+
			"install config/policies or the Helm chart's policies, on Kubernetes 1.36 or later "+
			"(admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and MutatingAdmissionPolicy)")

	for _, file := range []string{"tenant.yaml", "operator.yaml", "team-quota.yaml"} {
		g.Expect(testenv.CreateFromFile(ctx, env.Client, filepath.Join(testenv.RepoRoot(), "config", "policies", file))).To(Succeed())
	}
	// The blueprint looks again after minutes; a change makes it look now.
	base := bp.DeepCopy()
	bp.Spec.MaxMembers = 11
	g.Expect(env.Client.Patch(ctx, bp, client.MergeFrom(base))).To(Succeed())
	expect(metav1.ConditionTrue, teamsv1alpha1.ReconciledReason,
		"The apiserver enforces buurt's rules: its 9 admission policies and their bindings are installed")
}
