package manifests

import (
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// keptOnUninstall is what teams rely on after buurt is gone: the CRDs (deleting
// one deletes every team of its kind) and the roles teams' and platform
// engineers' bindings name.
var keptOnUninstall = []string{
	"ClusterRole buurt:coach",
	"ClusterRole buurt:operator-in-team",
	"ClusterRole buurt:platform-engineer",
	"ClusterRole buurt:team-member",
	"CustomResourceDefinition coaches.teams.buurt.dev",
	"CustomResourceDefinition neighbourhoodteams.teams.buurt.dev",
	"CustomResourceDefinition teamblueprints.teams.buurt.dev",
}

// expectKeptOnUninstall checks that exactly keptOnUninstall carries the label
// docs/upgrading.md's kustomize uninstall leaves out, and that each of them
// tells Helm, Argo CD and Flux to leave it.
func expectKeptOnUninstall(g Gomega, objects []*unstructured.Unstructured) {
	var labelled []*unstructured.Unstructured
	for _, o := range objects {
		if o.GetLabels()["teams.buurt.dev/on-uninstall"] == "keep" {
			labelled = append(labelled, o)
		}
	}
	g.Expect(names(labelled)).To(Equal(keptOnUninstall))
	for _, o := range labelled {
		g.Expect(o.GetAnnotations()).To(And(
			HaveKeyWithValue("helm.sh/resource-policy", "keep"),
			HaveKeyWithValue("argocd.argoproj.io/sync-options", "Delete=false,Prune=false"),
			HaveKeyWithValue("kustomize.toolkit.fluxcd.io/prune", "disabled"),
		), o.GetKind()+" "+o.GetName())
	}
}

func TestKustomizeKeepsWhatTeamsNeedOnUninstall(t *testing.T) {
	expectKeptOnUninstall(NewWithT(t), render(t, "config/default"))
}

func TestChartKeepsWhatTeamsNeedOnUninstall(t *testing.T) {
	expectKeptOnUninstall(NewWithT(t), template(t, "--include-crds"))
}
