package render_test

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// team is a team as the apiserver returns it: defaulted, with a UID.
func team(members ...teamsv1alpha1.Subject) *teamsv1alpha1.NeighbourhoodTeam {
	return &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: "north-riverside", UID: "6f1c0a52-7d1e-4c4b-9d57-0d1f3f6f0c11"},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside",
			Blueprint:     teamsv1alpha1.DefaultBlueprintName,
			Members:       members,
			Lifecycle:     teamsv1alpha1.LifecycleActive,
		},
	}
}

func user(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: name}
}

func group(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindGroup, Name: name}
}

// blueprint is the DESIGN.md default blueprint, defaulted.
func blueprint() *teamsv1alpha1.TeamBlueprint {
	return testenv.DesignBlueprint("default")
}

// typed turns an apply configuration into the typed object it describes, so
// expectations read as the objects a user sees with kubectl.
func typed[T any](g Gomega, applyConfiguration any) T {
	var out T
	data, err := json.Marshal(applyConfiguration)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(json.Unmarshal(data, &out)).To(Succeed())
	return out
}

var (
	wantOwner = []metav1.OwnerReference{{
		APIVersion: "teams.buurt.dev/v1alpha1", Kind: "NeighbourhoodTeam", Name: "north-riverside",
		UID: "6f1c0a52-7d1e-4c4b-9d57-0d1f3f6f0c11", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	}}
	wantLabels = map[string]string{
		"teams.buurt.dev/team":         "north-riverside",
		"app.kubernetes.io/managed-by": "buurt",
	}
	wantSubjects = []rbacv1.Subject{
		{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "anna@care.example.org"},
		{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "north-riverside-nurses"},
	}
)

func TestLabelsAreFreshMaps(t *testing.T) {
	g := NewWithT(t)
	tm := team(user("anna"))
	a := render.Labels(tm)
	a["x"] = "y"
	g.Expect(render.Labels(tm)).To(Equal(wantLabels))
}
