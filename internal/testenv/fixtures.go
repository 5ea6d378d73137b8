package testenv

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// DesignBlueprint is the blueprint of DESIGN.md without its database and
// apps, with every default the apiserver would apply already set, so render
// tests without an apiserver and controller tests with one start alike.
func DesignBlueprint(name string) *teamsv1alpha1.TeamBlueprint {
	return &teamsv1alpha1.TeamBlueprint{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: teamsv1alpha1.TeamBlueprintSpec{
			MaxMembers:  12,
			PodSecurity: teamsv1alpha1.PodSecurity{Level: teamsv1alpha1.PodSecurityRestricted, Version: "v1.37"},
			MemberRole:  "buurt:team-member",
			CoachRole:   "buurt:coach",
			Quota: &teamsv1alpha1.Quota{
				Base: corev1.ResourceList{
					"requests.cpu": resource.MustParse("2"), "requests.memory": resource.MustParse("4Gi"),
					"requests.storage": resource.MustParse("20Gi"), "pods": resource.MustParse("20"),
				},
				PerMember: corev1.ResourceList{
					"requests.cpu": resource.MustParse("250m"), "requests.memory": resource.MustParse("512Mi"),
				},
			},
			Limits: &teamsv1alpha1.ContainerLimits{
				DefaultRequest: corev1.ResourceList{"cpu": resource.MustParse("100m"), "memory": resource.MustParse("128Mi")},
				Default:        corev1.ResourceList{"cpu": resource.MustParse("500m"), "memory": resource.MustParse("512Mi")},
			},
			Network: &teamsv1alpha1.Network{
				IngressNamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}},
			},
			Database: teamsv1alpha1.BlueprintDatabase{Class: teamsv1alpha1.DatabaseClassNone, ReclaimPolicy: teamsv1alpha1.ReclaimPolicyRetain},
		},
	}
}

// SharedDatabase is a blueprint's Shared database on a throwaway server of
// package testpg, whose admin connection is the Secret adminSecretName in the
// operator's namespace. Its egress is where that server listens, 127.0.0.1:
// a Shared team is Ready only when its blueprint says where its server is.
func SharedDatabase(adminSecretName string) teamsv1alpha1.BlueprintDatabase {
	return teamsv1alpha1.BlueprintDatabase{
		Class:         teamsv1alpha1.DatabaseClassShared,
		ReclaimPolicy: teamsv1alpha1.ReclaimPolicyRetain,
		Shared: teamsv1alpha1.SharedDatabase{
			AdminSecretName: adminSecretName,
			Egress:          &teamsv1alpha1.DatabaseEgress{CIDR: "127.0.0.1/32"},
		},
	}
}
