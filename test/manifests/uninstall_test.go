package manifests

import (
	"slices"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/buurt-dev/buurt/internal/policies"
)

// keptOnUninstall is what teams rely on after buurt is gone: the CRDs (deleting
// one deletes every team of its kind), the roles teams' and platform
// engineers' bindings name, and the admission policies that guard team
// namespaces and members' quota without an operator.
func keptOnUninstall() []string {
	kept := []string{
		"ClusterRole buurt:coach",
		"ClusterRole buurt:operator-in-team",
		"ClusterRole buurt:platform-engineer",
		"ClusterRole buurt:team-member",
		"CustomResourceDefinition coaches.teams.buurt.dev",
		"CustomResourceDefinition neighbourhoodteams.teams.buurt.dev",
		"CustomResourceDefinition teamblueprints.teams.buurt.dev",
		"CustomResourceDefinition teamsplits.teams.buurt.dev",
		"MutatingAdmissionPolicy " + policies.QuotaMembers,
		"MutatingAdmissionPolicyBinding " + policies.QuotaMembers,
	}
	for _, name := range policies.Names() {
		kept = append(kept, "ValidatingAdmissionPolicy "+name, "ValidatingAdmissionPolicyBinding "+name)
	}
	slices.Sort(kept)
	return kept
}

// expectKeptOnUninstall checks that exactly keptOnUninstall carries the label
// docs/upgrading.md's kustomize uninstall leaves out, and that each of them
// tells Helm, Argo CD and Flux to leave it.
func expectKeptOnUninstall(g Gomega, objects []*unstructured.Unstructured, kept []string) {
	var labelled []*unstructured.Unstructured
	for _, o := range objects {
		if o.GetLabels()["teams.buurt.dev/on-uninstall"] == "keep" {
			labelled = append(labelled, o)
		}
	}
	g.Expect(names(labelled)).To(Equal(kept))
	for _, o := range labelled {
		g.Expect(o.GetAnnotations()).To(And(
			HaveKeyWithValue("helm.sh/resource-policy", "keep"),
			HaveKeyWithValue("argocd.argoproj.io/sync-options", "Delete=false,Prune=false"),
			HaveKeyWithValue("kustomize.toolkit.fluxcd.io/prune", "disabled"),
		), o.GetKind()+" "+o.GetName())
	}
}

func TestKustomizeKeepsWhatTeamsNeedOnUninstall(t *testing.T) {
	expectKeptOnUninstall(NewWithT(t), render(t, "config/default"), keptOnUninstall())
}

func TestChartKeepsWhatTeamsNeedOnUninstall(t *testing.T) {
	expectKeptOnUninstall(NewWithT(t), template(t, "--include-crds"), keptOnUninstall())
}
