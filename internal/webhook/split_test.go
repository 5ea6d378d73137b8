package webhook_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// The team itself, or a platform engineer, splits a team, and only in a
// way whose plan holds; a member of another team cannot split it. Each
// refusal says why.
func TestSplitAdmission(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, testenv.DesignBlueprint("splitting"))
	create(t, newTeam("splitting", "splitting", user("anna-split"), user("bram-split"), user("cor-split")))
	create(t, newTeam("split-taken", "splitting", user("dirk-split")))
	// Whoever may make splits at all (a role buurt binds for teams comes
	// with carrying them out); the webhook decides whose.
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "test-splitters"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"teamsplits"}, Verbs: []string{"create"},
	}}}
	create(t, role)
	create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "test-splitters"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "anna-split"}, {Kind: rbacv1.UserKind, Name: "dirk-split"}}})

	splitting := func(name string, members ...teamsv1alpha1.Subject) *teamsv1alpha1.TeamSplit {
		return &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "splitting-" + name}, Spec: teamsv1alpha1.TeamSplitSpec{
			Source: "splitting", NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: name}, Members: members,
		}}
	}
	anna, _, err := clientAs("anna-split", nil)
	g.Expect(err).NotTo(HaveOccurred())
	for _, tc := range []struct {
		split *teamsv1alpha1.TeamSplit
		want  string
	}{
		{splitting("split-all", user("anna-split"), user("bram-split"), user("cor-split")),
			"team splitting would be left with no member: keep at least one"},
		{splitting("split-stranger", user("eva-split")),
			"User eva-split is not a member of team splitting: only its members can move"},
		{splitting("split-taken", user("cor-split")),
			"a team named split-taken exists: choose another name for the new team"},
	} {
		err := anna.Create(ctx, tc.split, client.DryRunAll)
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(ContainSubstring(tc.want))
	}

	approved := splitting("split-approved", user("cor-split"))
	approved.Spec.Approved = ptr.To(true)
	approved.Spec.Database = teamsv1alpha1.SplitDatabaseCopy
	g.Expect(anna.Create(ctx, approved, client.DryRunAll)).To(MatchError(ContainSubstring(
		"team splitting has no database to copy: choose database: Empty")))

	dirk, _, err := clientAs("dirk-split", nil)
	g.Expect(err).NotTo(HaveOccurred())
	err = dirk.Create(ctx, splitting("split-by-dirk", user("cor-split")), client.DryRunAll)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring(`only team splitting's members and platform engineers (verb "manage" on neighbourhoodteams) may split it`))

	// A good split, by the team and by a platform engineer (the admin).
	g.Expect(anna.Create(ctx, splitting("split-good", user("cor-split")), client.DryRunAll)).To(Succeed())
	g.Expect(env.Client.Create(ctx, splitting("split-good", user("cor-split")), client.DryRunAll)).To(Succeed())
}
