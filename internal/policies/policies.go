// Package policies holds buurt's tenant rules: the ValidatingAdmissionPolicies
// (CEL, evaluated by the apiserver, no webhook to fail) and their bindings to
// team namespaces. `make manifests` writes them to config/policies/tenant.yaml,
// which kustomize and the Helm chart install; the blueprint controller checks
// by these names that a cluster has them.
//
// The blueprint's rules reach the policies as annotations on the team
// namespace (see render.TenantRuleAnnotations), read through
// namespaceObject: no parameter object per team, and members cannot write
// namespaces.
package policies

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ac "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/yaml"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// The policies' names; each policy's binding has the policy's name.
const (
	ServiceTypes     = "buurt-tenant-service-types"
	Endpoints        = "buurt-tenant-endpoints"
	IngressHosts     = "buurt-tenant-ingress-hosts"
	PodImages        = "buurt-tenant-pod-images"
	WorkloadImages   = "buurt-tenant-workload-images"
	CronJobImages    = "buurt-tenant-cronjob-images"
	ManagedObjects   = "buurt-tenant-managed-objects"
	nameLabelValue   = "buurt"
	appNameLabel     = "app.kubernetes.io/name"
	kubeSystemPrefix = "system:serviceaccount:kube-system:"
)

// The policies buurt ships as YAML in config/policies rather than from
// here: the operator's bounds (operator.yaml, a ValidatingAdmissionPolicy)
// and the count of members that buys quota (team-quota.yaml, a
// MutatingAdmissionPolicy). Each binding has its policy's name.
const (
	OperatorBounds = "buurt-operator-bounds"
	QuotaMembers   = "buurt-team-quota-members"
)

// Names are the names of every tenant policy and binding buurt installs.
func Names() []string {
	names := make([]string, 0, len(all()))
	for _, p := range all() {
		names = append(names, *p.Name)
	}
	return names
}

// Policies are buurt's ValidatingAdmissionPolicies, in the order of Names.
func Policies() []*ac.ValidatingAdmissionPolicyApplyConfiguration {
	return all()
}

// Bindings bind every policy, denying, in every team namespace: one that
// carries buurt's managed-by label and a team label.
func Bindings() []*ac.ValidatingAdmissionPolicyBindingApplyConfiguration {
	out := make([]*ac.ValidatingAdmissionPolicyBindingApplyConfiguration, 0, len(all()))
	for _, name := range Names() {
		out = append(out, ac.ValidatingAdmissionPolicyBinding(name).
			WithLabels(keptLabels()).WithAnnotations(keptAnnotations()).
			WithSpec(ac.ValidatingAdmissionPolicyBindingSpec().
				WithPolicyName(name).
				WithValidationActions(admissionregistrationv1.Deny).
				WithMatchResources(ac.MatchResources().WithNamespaceSelector(metav1ac.LabelSelector().
					WithMatchLabels(map[string]string{teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue}).
					WithMatchExpressions(metav1ac.LabelSelectorRequirement().
						WithKey(teamsv1alpha1.TeamLabel).WithOperator(metav1.LabelSelectorOpExists))))))
	}
	return out
}

func all() []*ac.ValidatingAdmissionPolicyApplyConfiguration {
	return []*ac.ValidatingAdmissionPolicyApplyConfiguration{
		serviceTypes(),
		endpoints(),
		ingressHosts(),
		images(PodImages, "object.spec", "oldObject.spec", rule("", "v1", "pods", "pods/ephemeralcontainers")),
		images(WorkloadImages, "object.spec.template.spec", "oldObject.spec.template.spec",
			rule("apps", "v1", "deployments", "statefulsets", "replicasets", "daemonsets"), rule("batch", "v1", "jobs")),
		images(CronJobImages, "object.spec.jobTemplate.spec.template.spec", "oldObject.spec.jobTemplate.spec.template.spec",
			rule("batch", "v1", "cronjobs")),
		managedObjects(),
	}
}

// policy is spec matching rules, with buurt's defaults: refuse when the
// policy itself cannot be evaluated, and match every version of a resource.
// keptLabels and keptAnnotations keep the tenant rules when buurt is
// uninstalled (docs/upgrading.md), as its CRDs and team roles are kept:
// they hold team namespaces to their blueprints' rules with no operator
// running, and teams are still there.
func keptLabels() map[string]string {
	return map[string]string{appNameLabel: nameLabelValue, "teams.buurt.dev/on-uninstall": "keep"}
}

func keptAnnotations() map[string]string {
	return map[string]string{
		"helm.sh/resource-policy":           "keep",
		"argocd.argoproj.io/sync-options":   "Delete=false,Prune=false",
		"kustomize.toolkit.fluxcd.io/prune": "disabled",
	}
}

func policy(name string, spec *ac.ValidatingAdmissionPolicySpecApplyConfiguration, rules ...*ac.NamedRuleWithOperationsApplyConfiguration) *ac.ValidatingAdmissionPolicyApplyConfiguration {
	return ac.ValidatingAdmissionPolicy(name).
		WithLabels(keptLabels()).WithAnnotations(keptAnnotations()).
		WithSpec(spec.
			WithFailurePolicy(admissionregistrationv1.Fail).
			WithMatchConstraints(ac.MatchResources().
				WithMatchPolicy(admissionregistrationv1.Equivalent).
				WithResourceRules(rules...)))
}

// rule matches create and update of resources.
func rule(group, version string, resources ...string) *ac.NamedRuleWithOperationsApplyConfiguration {
	return ruleFor([]admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		group, version, resources...)
}

func ruleFor(operations []admissionregistrationv1.OperationType, group, version string, resources ...string) *ac.NamedRuleWithOperationsApplyConfiguration {
	return ac.NamedRuleWithOperations().
		WithOperations(operations...).
		WithAPIGroups(group).WithAPIVersions(version).WithResources(resources...)
}

func variable(name, expression string) *ac.VariableApplyConfiguration {
	return ac.Variable().WithName(name).WithExpression(expression)
}

func validation(expression, messageExpression string) *ac.ValidationApplyConfiguration {
	return ac.Validation().WithExpression(expression).WithMessageExpression(messageExpression)
}

// lit is s as a CEL string literal.
func lit(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// refusal is a messageExpression: the rule's name, then parts, each a CEL
// string expression, joined.
func refusal(ruleName string, parts ...string) string {
	return strings.Join(append([]string{lit("buurt tenant rule " + ruleName + ": ")}, parts...), " + ")
}

// annotation is a CEL expression for the team namespace's annotation key,
// or "" when it has none.
func annotation(key string) string {
	return fmt.Sprintf("has(namespaceObject.metadata.annotations) && %[1]s in namespaceObject.metadata.annotations ? "+
		"namespaceObject.metadata.annotations[%[1]s] : ''", lit(key))
}

// controlPlane is true for the controllers of kube-controller-manager, with
// its own credentials or with a ServiceAccount per controller in kube-system
// (--use-service-account-credentials): the endpoint controllers, the
// namespace controller and the garbage collector.
const controlPlane = "request.userInfo.username == 'system:kube-controller-manager' || " +
	"request.userInfo.username.startsWith('" + kubeSystemPrefix + "')"

// serviceTypes refuses Services that expose a team beyond its network
// policies or take over addresses of others (the CVE-2020-8554 family):
// node ports and load balancers bypass the team's ingress, external IPs and
// ExternalName let a Service answer for addresses that are not the team's.
func serviceTypes() *ac.ValidatingAdmissionPolicyApplyConfiguration {
	return policy(ServiceTypes, ac.ValidatingAdmissionPolicySpec().WithValidations(
		validation("!has(object.spec.type) || !(object.spec.type in ['NodePort', 'LoadBalancer', 'ExternalName'])",
			refusal("service-types", `"Services of type " + object.spec.type + " are not allowed in team namespaces: `+
				`they reach past the team's network policies and ingress, or answer for names that are not the team's (CVE-2020-8554); `+
				`use type ClusterIP and reach the app through an Ingress"`)),
		validation("!has(object.spec.externalIPs) || object.spec.externalIPs.size() == 0",
			refusal("service-types", `"spec.externalIPs (" + object.spec.externalIPs.join(", ") + ") are not allowed in team namespaces: `+
				`a Service with external IPs takes the traffic for those addresses from the whole cluster (CVE-2020-8554); `+
				`remove spec.externalIPs and reach the app through an Ingress"`)),
	), rule("", "v1", "services"))
}

// endpoints refuses hand-written Endpoints and EndpointSlices, which can
// point a Service, and an Ingress in front of it, at pods of other
// namespaces (CVE-2021-25740). Only the control plane's endpoint
// controllers write them.
func endpoints() *ac.ValidatingAdmissionPolicyApplyConfiguration {
	return policy(Endpoints, ac.ValidatingAdmissionPolicySpec().WithValidations(
		validation(controlPlane,
			refusal("endpoints", `request.kind.kind + " objects are written by the control plane only in team namespaces: `+
				`hand-written ones can send a Service's traffic to another namespace's pods (CVE-2021-25740); `+
				`give the Service a selector and Kubernetes keeps its endpoints"`)),
	), rule("", "v1", "endpoints"), rule("discovery.k8s.io", "v1", "endpointslices"))
}

// ingressHosts keeps a team's Ingresses to host names under its own domain,
// <team>.<blueprint's domain>, so that it cannot take traffic meant for
// another team or the rest of the cluster: no host elsewhere, no wildcard
// above its domain, no rule without a host and no default backend (both
// catch every host).
func ingressHosts() *ac.ValidatingAdmissionPolicyApplyConfiguration {
	under := func(host string) string {
		return fmt.Sprintf("(variables.domain != '' && (%[1]s == variables.domain || %[1]s.endsWith('.' + variables.domain)))", host)
	}
	where := `(variables.domain == '' ? "; this team's blueprint names no ingress domain, so Ingresses in its namespace may not name hosts: ask a platform engineer to set spec.ingress.domain on the blueprint" : ` +
		`" is not under this team's domain " + variables.domain + "; use a host such as app." + variables.domain)`
	return policy(IngressHosts, ac.ValidatingAdmissionPolicySpec().
		WithVariables(
			variable("domain", annotation(teamsv1alpha1.IngressDomainAnnotation)),
			variable("badRuleHosts", "has(object.spec.rules) ? object.spec.rules.filter(r, has(r.host) && !"+under("r.host")+").map(r, r.host) : []"),
			variable("badTLS", "has(object.spec.tls) ? object.spec.tls.filter(t, has(t.hosts) && t.hosts.exists(h, !"+under("h")+")) : []"),
		).
		WithValidations(
			validation("!has(object.spec.defaultBackend)",
				refusal("ingress-hosts", `"an Ingress in a team namespace may not have a defaultBackend, which takes every host's traffic; `+
					`give each rule a host under the team's domain instead"`)),
			validation("!has(object.spec.rules) || object.spec.rules.all(r, has(r.host))",
				refusal("ingress-hosts", `"every rule of an Ingress in a team namespace needs a host: a rule without one takes every host's traffic; `+
					`set spec.rules[].host under the team's domain"`)),
			validation("variables.badRuleHosts.size() == 0",
				refusal("ingress-hosts", `"host " + variables.badRuleHosts[0]`, where)),
			validation("variables.badTLS.size() == 0",
				refusal("ingress-hosts", `"TLS host " + variables.badTLS[0].hosts.filter(h, !`+under("h")+`)[0]`, where)),
		), rule("networking.k8s.io", "v1", "ingresses"))
}

// images holds every container of a pod, or of a workload's pod template at
// spec (old: the same of oldObject), to the blueprint's registries and pull
// policy. Workloads are checked too, so that a member hears of an image at
// `kubectl apply` rather than from a ReplicaSet's events. An update that
// leaves the pod spec as it was is not checked: a controller that only
// labels or scales keeps working after the blueprint's rules change.
func images(name, spec, old string, rules ...*ac.NamedRuleWithOperationsApplyConfiguration) *ac.ValidatingAdmissionPolicyApplyConfiguration {
	// Containers, init containers and ephemeral containers are different
	// types in CEL; as maps of strings they make one list.
	containers := func(field string) string {
		return fmt.Sprintf("(has(variables.spec.%[1]s) ? variables.spec.%[1]s.map(c, "+
			"{'name': c.name, 'image': has(c.image) ? c.image : '', 'pullPolicy': has(c.imagePullPolicy) ? c.imagePullPolicy : ''}) : [])", field)
	}
	return policy(name, ac.ValidatingAdmissionPolicySpec().
		WithMatchConditions(ac.MatchCondition().
			WithName("pod-spec-created-or-changed").
			WithExpression(fmt.Sprintf("request.operation != 'UPDATE' || %s != %s", spec, old))).
		WithVariables(
			variable("spec", spec),
			variable("registries", fmt.Sprintf("(%s).split(',').filter(r, r != '')", annotation(teamsv1alpha1.AllowedRegistriesAnnotation))),
			variable("pullPolicy", annotation(teamsv1alpha1.ImagePullPolicyAnnotation)),
			variable("containers", containers("containers")+" + "+containers("initContainers")+" + "+containers("ephemeralContainers")),
			variable("notAllowed", "variables.containers.filter(c, !variables.registries.exists(r, c.image.startsWith(r)))"),
			variable("notPulled", "variables.containers.filter(c, c.pullPolicy != variables.pullPolicy)"),
		).
		WithValidations(
			validation("variables.registries.size() == 0 || variables.notAllowed.size() == 0",
				refusal("allowed-registries", `"image " + variables.notAllowed[0].image + " of container " + variables.notAllowed[0].name + `+
					`" is under none of this team's allowed registries (" + variables.registries.join(", ") + "); `+
					`use an image from one of them, or ask a platform engineer to add its registry to the blueprint's allowedRegistries"`)),
			validation("variables.pullPolicy == '' || variables.notPulled.size() == 0",
				refusal("image-pull-policy", `"container " + variables.notPulled[0].name + " must have imagePullPolicy: " + variables.pullPolicy + `+
					`", as this team's blueprint asks of every container, so that the registry checks every pull; set it on the container"`)),
		), rules...)
}

// managedObjects keeps members from changing or disowning (by removing the
// managed-by label) the ServiceAccounts and Secrets buurt manages in their
// namespace, the apps' ServiceAccount and the database Secret, and from
// deleting the ServiceAccount. Deleting the database Secret stays theirs:
// it is how a team rotates its password (buurt makes a new one). Whoever may
// manage the team (the operator, platform engineers) may do all of it, and
// so may the control plane when it deletes the namespace or collects
// garbage.
func managedObjects() *ac.ValidatingAdmissionPolicyApplyConfiguration {
	managed := fmt.Sprintf("has(oldObject.metadata.labels) && %[1]s in oldObject.metadata.labels && oldObject.metadata.labels[%[1]s] == %[2]s",
		lit(teamsv1alpha1.ManagedByLabel), lit(teamsv1alpha1.ManagedByValue))
	manager := fmt.Sprintf("authorizer.group(%s).resource('neighbourhoodteams').name(namespaceObject.metadata.labels[%s]).check('manage').allowed()",
		lit(teamsv1alpha1.GroupVersion.Group), lit(teamsv1alpha1.TeamLabel))
	return policy(ManagedObjects, ac.ValidatingAdmissionPolicySpec().
		WithMatchConditions(ac.MatchCondition().WithName("managed-by-buurt").WithExpression(managed)).
		WithValidations(
			validation("(request.operation == 'DELETE' && request.kind.kind == 'Secret') || "+controlPlane+" || "+manager,
				refusal("managed-objects", `request.kind.kind + " " + oldObject.metadata.name + " is managed by buurt for this team: `+
					`members may not change it`+`" + (request.kind.kind == 'Secret' ? " (delete it to have buurt make a new password)" : " or delete it") + "`+
					`, nor remove its `+teamsv1alpha1.ManagedByLabel+` label; change the NeighbourhoodTeam instead, or ask a platform engineer"`)),
		),
		ruleFor([]admissionregistrationv1.OperationType{admissionregistrationv1.Update, admissionregistrationv1.Delete},
			"", "v1", "secrets", "serviceaccounts"))
}

// header opens the generated file.
const header = `# buurt's tenant rules: ValidatingAdmissionPolicies bound to every team
# namespace. Generated by 'make manifests' from internal/policies; edit there.
`

// YAML is every policy, each followed by its binding, as the multi-document
// YAML of config/policies/tenant.yaml.
func YAML() ([]byte, error) {
	var b strings.Builder
	b.WriteString(header)
	bindings := Bindings()
	for i, p := range Policies() {
		for _, obj := range []any{p, bindings[i]} {
			data, err := yaml.Marshal(obj)
			if err != nil {
				return nil, fmt.Errorf("failed to marshal a tenant policy: %w", err)
			}
			b.WriteString("---\n")
			b.Write(data)
		}
	}
	return []byte(b.String()), nil
}
