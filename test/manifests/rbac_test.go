package manifests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
)

// TestOperatorClusterWideAccess lists everything the operator may do
// cluster-wide, rule by rule, so that a new RBAC marker has to be added here
// too, with why. Secrets are not among them: the operator reads Secrets in
// its own namespace (Role buurt-manager) and in the team namespaces it makes
// (ClusterRole buurt:operator-in-team, which it binds there), nowhere else.
func TestOperatorClusterWideAccess(t *testing.T) {
	g := NewWithT(t)
	objects := render(t, "config/default")
	role := typed[rbacv1.ClusterRole](g, objects, "ClusterRole", "buurt-manager")

	var got []string
	for _, rule := range role.Rules {
		for _, group := range rule.APIGroups {
			for _, resource := range rule.Resources {
				g.Expect(resource).NotTo(Equal("secrets"), "the operator must not read or write Secrets cluster-wide")
				entry := fmt.Sprintf("%s %s: %s", cmpOr(group, "core"), resource, strings.Join(rule.Verbs, ","))
				if len(rule.ResourceNames) > 0 {
					entry += " (" + strings.Join(rule.ResourceNames, ",") + ")"
				}
				got = append(got, entry)
			}
		}
	}
	want := []string{
		// The team namespace's guardrails, its apps and their routes:
		// made in namespaces that do not exist when the operator starts,
		// so a namespaced Role cannot hold them.
		"apps deployments: create,delete,get,list,patch,watch",
		"apps statefulsets: create,get,list,patch,watch",
		// Who is asking: the metrics endpoint's authentication, the
		// webhooks' SubjectAccessReviews, and the operator's own identity
		// and its access in a namespace it just made.
		"authentication.k8s.io tokenreviews: create",
		"authorization.k8s.io subjectaccessreviews: create",
		"core limitranges: create,delete,get,list,patch,watch",
		// Namespaces are cluster-scoped: the operator makes one per team.
		"core namespaces: create,get,list,patch,watch",
		// Dedicated databases: their claims, and the volumes whose reclaim
		// policy it switches to Retain (cluster-scoped).
		"core persistentvolumeclaims: get,list,watch",
		"core persistentvolumes: get,patch",
		"core resourcequotas: create,delete,get,list,patch,watch",
		"core serviceaccounts: create,get,list,patch,watch",
		"core services: create,delete,get,list,patch,watch",
		"events.k8s.io events: create,patch",
		"networking.k8s.io ingresses: create,delete,get,list,patch,watch",
		"networking.k8s.io networkpolicies: create,delete,get,list,patch,watch",
		// Members' and coaches' access: RoleBindings in team namespaces,
		// the self-service ClusterRole and ClusterRoleBinding of each team
		// and coach, and bind on just the roles buurt hands out.
		"rbac.authorization.k8s.io clusterrolebindings: create,delete,get,list,patch,watch",
		"rbac.authorization.k8s.io clusterroles: bind (buurt:coach,buurt:operator-in-team,buurt:team-member)",
		"rbac.authorization.k8s.io clusterroles: create,delete,get,list,patch,watch",
		"rbac.authorization.k8s.io rolebindings: create,delete,get,list,patch,watch",
		// buurt's own kinds.
		"teams.buurt.dev coaches: get,list,patch,update,watch",
		"teams.buurt.dev coaches/status: get,patch,update",
		// Creating one: a split's new team.
		"teams.buurt.dev neighbourhoodteams: create,get,list,manage,patch,update,watch",
		"teams.buurt.dev neighbourhoodteams/status: get,patch,update",
		"teams.buurt.dev teamblueprints: get,list,watch",
		// TeamSplits are planned (status) from the teams they name; the
		// operator holds what it lets the source's members do with theirs.
		"teams.buurt.dev teamsplits/status: get,patch,update",
		"teams.buurt.dev teamsplits: get,list,patch,update,watch",
		"teams.buurt.dev teamblueprints/status: get,patch,update",
		// Whether the cluster has buurt's admission policies (each
		// blueprint's TenantRulesEnforced).
		"admissionregistration.k8s.io mutatingadmissionpolicies: get",
		"admissionregistration.k8s.io mutatingadmissionpolicybindings: get",
		"admissionregistration.k8s.io validatingadmissionpolicies: get",
		"admissionregistration.k8s.io validatingadmissionpolicybindings: get",
		// Its own webhook configuration, to inject the CA it made (the
		// certificate rotator watches them all).
		"admissionregistration.k8s.io validatingwebhookconfigurations: get,list,watch",
		"admissionregistration.k8s.io validatingwebhookconfigurations: update (buurt-validating-webhook-configuration)",
		// The CA goes into buurt-api's APIService too.
		"apiregistration.k8s.io apiservices: get,list,watch",
		"apiregistration.k8s.io apiservices: update (v1alpha1.my.buurt.dev)",
	}
	slices.Sort(got)
	slices.Sort(want)
	g.Expect(got).To(Equal(want))

	own := typed[rbacv1.Role](g, objects, "Role", "buurt-manager")
	g.Expect(own.Namespace).To(Equal("buurt-system"))
	g.Expect(own.Rules).To(Equal([]rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "get", "list", "update", "watch"},
	}}), "the admin Secrets of shared servers and the webhook certificate, in the operator's own namespace")
	team := typed[rbacv1.ClusterRole](g, objects, "ClusterRole", "buurt:operator-in-team")
	g.Expect(team.Rules).To(Equal([]rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch", "create", "patch"},
	}, {
		// The team's own CronJobs, suspended while it sleeps.
		APIGroups: []string{"batch"}, Resources: []string{"cronjobs"}, Verbs: []string{"list", "patch"},
	}}))
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
