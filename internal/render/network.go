package render

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// NetworkPolicy names.
const (
	DefaultDenyPolicyName       = "buurt-default-deny"
	SameNamespacePolicyName     = "buurt-allow-same-namespace"
	DNSPolicyName               = "buurt-allow-dns"
	IngressControllerPolicyName = "buurt-allow-ingress-controller"
	DatabaseEgressPolicyName    = "buurt-allow-database"
)

// defaultDNS is where cluster DNS runs unless the blueprint says otherwise.
var defaultDNS = teamsv1alpha1.PeerSelector{
	NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "kube-system"}},
	PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
}

// NetworkPolicies isolate the team namespace: nothing in or out, except
// traffic within the namespace, DNS queries to the cluster DNS, when the
// blueprint selects them connections from the ingress controller's
// namespaces and, when the blueprint says where its shared database server
// is, connections to it on databasePort. A databasePort of 0 (buurt could
// not read the server's port this time) leaves that policy out: the caller
// keeps the one in place.
func NetworkPolicies(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint, databasePort int32) []*networkingv1ac.NetworkPolicyApplyConfiguration {
	allPods := metav1ac.LabelSelector()
	policies := []*networkingv1ac.NetworkPolicyApplyConfiguration{
		networkPolicy(team, DefaultDenyPolicyName, networkingv1ac.NetworkPolicySpec().
			WithPodSelector(allPods).
			WithPolicyTypes(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress)),
		networkPolicy(team, SameNamespacePolicyName, networkingv1ac.NetworkPolicySpec().
			WithPodSelector(allPods).
			WithPolicyTypes(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress).
			WithIngress(networkingv1ac.NetworkPolicyIngressRule().
				WithFrom(networkingv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector()))).
			WithEgress(networkingv1ac.NetworkPolicyEgressRule().
				WithTo(networkingv1ac.NetworkPolicyPeer().WithPodSelector(metav1ac.LabelSelector())))),
	}

	dns := defaultDNS
	network := blueprint.Spec.Network
	if network != nil && network.DNS != nil {
		dns = *network.DNS
	}
	policies = append(policies, networkPolicy(team, DNSPolicyName, networkingv1ac.NetworkPolicySpec().
		WithPodSelector(allPods).
		WithPolicyTypes(networkingv1.PolicyTypeEgress).
		WithEgress(networkingv1ac.NetworkPolicyEgressRule().
			WithTo(peer(dns)).
			WithPorts(port(corev1.ProtocolUDP, 53), port(corev1.ProtocolTCP, 53)))))

	if network != nil && network.IngressNamespaceSelector != nil {
		// A Dedicated database takes connections from its own namespace only.
		notDatabase := metav1ac.LabelSelector().WithMatchExpressions(metav1ac.LabelSelectorRequirement().
			WithKey(teamsv1alpha1.ComponentLabel).
			WithOperator(metav1.LabelSelectorOpNotIn).
			WithValues(teamsv1alpha1.ComponentDatabase))
		policies = append(policies, networkPolicy(team, IngressControllerPolicyName, networkingv1ac.NetworkPolicySpec().
			WithPodSelector(notDatabase).
			WithPolicyTypes(networkingv1.PolicyTypeIngress).
			WithIngress(networkingv1ac.NetworkPolicyIngressRule().
				WithFrom(networkingv1ac.NetworkPolicyPeer().
					WithNamespaceSelector(labelSelector(network.IngressNamespaceSelector))))))
	}
	if egress := databaseEgress(team, blueprint, databasePort); egress != nil {
		policies = append(policies, egress)
	}
	return policies
}

// databaseEgress lets the team's pods reach its shared database server on
// serverPort, or is nil when the blueprint says nothing of where it is or the
// port is not known.
func databaseEgress(team *teamsv1alpha1.NeighbourhoodTeam, blueprint *teamsv1alpha1.TeamBlueprint, serverPort int32) *networkingv1ac.NetworkPolicyApplyConfiguration {
	egress := blueprint.Spec.Database.Shared.Egress
	if egress == nil || serverPort == 0 {
		return nil
	}
	to := networkingv1ac.NetworkPolicyPeer()
	if egress.CIDR != "" {
		to.WithIPBlock(networkingv1ac.IPBlock().WithCIDR(egress.CIDR))
	} else {
		to = peer(*egress.Peer)
	}
	return networkPolicy(team, DatabaseEgressPolicyName, networkingv1ac.NetworkPolicySpec().
		WithPodSelector(metav1ac.LabelSelector()).
		WithPolicyTypes(networkingv1.PolicyTypeEgress).
		WithEgress(networkingv1ac.NetworkPolicyEgressRule().
			WithTo(to).
			WithPorts(port(corev1.ProtocolTCP, serverPort))))
}

func networkPolicy(team *teamsv1alpha1.NeighbourhoodTeam, name string, spec *networkingv1ac.NetworkPolicySpecApplyConfiguration) *networkingv1ac.NetworkPolicyApplyConfiguration {
	return networkingv1ac.NetworkPolicy(name, team.NamespaceName()).
		WithLabels(Labels(team)).
		WithOwnerReferences(ownerReference(team)).
		WithSpec(spec)
}

func peer(p teamsv1alpha1.PeerSelector) *networkingv1ac.NetworkPolicyPeerApplyConfiguration {
	out := networkingv1ac.NetworkPolicyPeer().WithNamespaceSelector(labelSelector(p.NamespaceSelector))
	if p.PodSelector != nil {
		out.WithPodSelector(labelSelector(p.PodSelector))
	}
	return out
}

func port(protocol corev1.Protocol, number int32) *networkingv1ac.NetworkPolicyPortApplyConfiguration {
	return networkingv1ac.NetworkPolicyPort().WithProtocol(protocol).WithPort(intstr.FromInt32(number))
}

// labelSelector converts a selector into its apply configuration; a nil
// selector selects everything.
func labelSelector(s *metav1.LabelSelector) *metav1ac.LabelSelectorApplyConfiguration {
	out := metav1ac.LabelSelector()
	if s == nil {
		return out
	}
	if len(s.MatchLabels) > 0 {
		out.WithMatchLabels(s.MatchLabels)
	}
	for _, e := range s.MatchExpressions {
		out.WithMatchExpressions(metav1ac.LabelSelectorRequirement().
			WithKey(e.Key).WithOperator(e.Operator).WithValues(e.Values...))
	}
	return out
}
