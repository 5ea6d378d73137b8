package render_test

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

func TestNamespace(t *testing.T) {
	cases := []struct {
		name        string
		podSecurity teamsv1alpha1.PodSecurity
		wantLevel   string
		wantVersion string
	}{
		{"restricted by default", teamsv1alpha1.PodSecurity{Level: teamsv1alpha1.PodSecurityRestricted, Version: "v1.37"}, "restricted", "v1.37"},
		{"baseline, latest", teamsv1alpha1.PodSecurity{Level: teamsv1alpha1.PodSecurityBaseline, Version: "latest"}, "baseline", "latest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			bp := blueprint()
			bp.Spec.PodSecurity = tc.podSecurity
			got := typed[corev1.Namespace](g, render.Namespace(team(user("anna")), bp))
			g.Expect(got).To(Equal(corev1.Namespace{
				TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
				ObjectMeta: metav1.ObjectMeta{
					Name: "team-north-riverside",
					Labels: map[string]string{
						"teams.buurt.dev/team":                       "north-riverside",
						"teams.buurt.dev/neighbourhood":              "riverside",
						"app.kubernetes.io/managed-by":               "buurt",
						"pod-security.kubernetes.io/enforce":         tc.wantLevel,
						"pod-security.kubernetes.io/enforce-version": tc.wantVersion,
						"pod-security.kubernetes.io/audit":           tc.wantLevel,
						"pod-security.kubernetes.io/audit-version":   tc.wantVersion,
						"pod-security.kubernetes.io/warn":            tc.wantLevel,
						"pod-security.kubernetes.io/warn-version":    tc.wantVersion,
					},
					OwnerReferences: wantOwner,
				},
			}))
		})
	}
}

// The blueprint's tenant rules reach buurt's admission policies as
// annotations on the namespace; a rule the blueprint leaves out has none.
func TestNamespaceTenantRuleAnnotations(t *testing.T) {
	cases := []struct {
		name   string
		change func(*teamsv1alpha1.TeamBlueprint)
		want   map[string]string
	}{
		{"no rules", func(*teamsv1alpha1.TeamBlueprint) {}, nil},
		{"every rule", func(bp *teamsv1alpha1.TeamBlueprint) {
			bp.Spec.AllowedRegistries = []string{"registry.example.org/care/", "ghcr.io/buurt-dev/"}
			bp.Spec.Ingress = teamsv1alpha1.Ingress{Domain: "care.example.org", ClassName: "nginx"}
			bp.Spec.ImagePullPolicy = teamsv1alpha1.ImagePullPolicyAlways
		}, map[string]string{
			"teams.buurt.dev/allowed-registries": "registry.example.org/care/,ghcr.io/buurt-dev/",
			"teams.buurt.dev/ingress-domain":     "north-riverside.care.example.org",
			"teams.buurt.dev/image-pull-policy":  "Always",
		}},
		{"only an ingress domain", func(bp *teamsv1alpha1.TeamBlueprint) {
			bp.Spec.Ingress = teamsv1alpha1.Ingress{Domain: "care.example.org"}
		}, map[string]string{
			"teams.buurt.dev/ingress-domain": "north-riverside.care.example.org",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			bp := blueprint()
			tc.change(bp)
			got := typed[corev1.Namespace](g, render.Namespace(team(user("anna")), bp))
			g.Expect(got.Annotations).To(Equal(tc.want))
		})
	}
}
