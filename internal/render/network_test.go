package render_test

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

func TestNetworkPolicies(t *testing.T) {
	both := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	dnsPorts := []networkingv1.NetworkPolicyPort{
		{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))},
		{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(53))},
	}
	defaultDNS := networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
	}
	denyAll := networkingv1.NetworkPolicySpec{PolicyTypes: both}
	sameNamespace := networkingv1.NetworkPolicySpec{
		PolicyTypes: both,
		Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
		Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}}},
	}
	dnsTo := func(p networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicySpec {
		return networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{p}, Ports: dnsPorts}},
		}
	}

	cases := []struct {
		name    string
		network *teamsv1alpha1.Network
		want    map[string]networkingv1.NetworkPolicySpec
	}{
		{
			name:    "no network settings: deny, same namespace, default DNS",
			network: nil,
			want: map[string]networkingv1.NetworkPolicySpec{
				"buurt-default-deny":         denyAll,
				"buurt-allow-same-namespace": sameNamespace,
				"buurt-allow-dns":            dnsTo(defaultDNS),
			},
		},
		{
			name: "ingress controller namespace and custom DNS",
			network: &teamsv1alpha1.Network{
				IngressNamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
					Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"ingress-nginx", "traefik"},
				}}},
				DNS: &teamsv1alpha1.PeerSelector{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "dns"}},
				},
			},
			want: map[string]networkingv1.NetworkPolicySpec{
				"buurt-default-deny":         denyAll,
				"buurt-allow-same-namespace": sameNamespace,
				"buurt-allow-dns": dnsTo(networkingv1.NetworkPolicyPeer{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "dns"}},
				}),
				"buurt-allow-ingress-controller": {
					// Not to a Dedicated database.
					PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
						Key: "teams.buurt.dev/component", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"database"},
					}}},
					PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
					Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
						NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
							Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{"ingress-nginx", "traefik"},
						}}},
					}}}},
				},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			bp := blueprint()
			bp.Spec.Network = tc.network
			got := map[string]networkingv1.NetworkPolicySpec{}
			for _, ac := range render.NetworkPolicies(team(user("anna")), bp, 0) {
				policy := typed[networkingv1.NetworkPolicy](g, ac)
				g.Expect(policy.Namespace).To(Equal("team-north-riverside"))
				g.Expect(policy.Labels).To(Equal(wantLabels))
				g.Expect(policy.OwnerReferences).To(Equal(wantOwner))
				got[policy.Name] = policy.Spec
			}
			g.Expect(got).To(Equal(tc.want))
		})
	}
}

func TestDatabaseEgressPolicy(t *testing.T) {
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "databases"}}
	cases := []struct {
		name   string
		egress *teamsv1alpha1.DatabaseEgress
		want   *networkingv1.NetworkPolicyPeer
	}{
		{"no egress settings", nil, nil},
		{"a CIDR", &teamsv1alpha1.DatabaseEgress{CIDR: "10.0.12.5/32"},
			&networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.12.5/32"}}},
		{"pods in the cluster", &teamsv1alpha1.DatabaseEgress{Peer: &teamsv1alpha1.PeerSelector{NamespaceSelector: selector}},
			&networkingv1.NetworkPolicyPeer{NamespaceSelector: selector}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			bp := blueprint()
			bp.Spec.Database = teamsv1alpha1.BlueprintDatabase{
				Class:  teamsv1alpha1.DatabaseClassShared,
				Shared: teamsv1alpha1.SharedDatabase{AdminSecretName: "pg-admin", Egress: tc.egress},
			}
			var got *networkingv1.NetworkPolicy
			for _, ac := range render.NetworkPolicies(team(user("anna")), bp, 6432) {
				if policy := typed[networkingv1.NetworkPolicy](g, ac); policy.Name == "buurt-allow-database" {
					got = &policy
				}
			}
			if tc.want == nil {
				g.Expect(got).To(BeNil())
				return
			}
			g.Expect(got.Name).To(Equal("buurt-allow-database"))
			g.Expect(got.OwnerReferences).To(Equal(wantOwner))
			g.Expect(got.Spec).To(Equal(networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To:    []networkingv1.NetworkPolicyPeer{*tc.want},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(6432))}},
				}},
			}))
		})
	}
}
