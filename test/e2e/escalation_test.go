//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// TestEscalation: with the real operator's webhooks and buurt's admission
// policy, a platform engineer cannot write a blueprint that grants more than
// they hold, a member cannot change their team's labels, and names a member
// adds buy no quota.
func TestEscalation(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	const pia = "pia@region.example.org"
	binding := testenv.PlatformEngineerBinding("e2e-platform-engineer", pia)
	g.Expect(admin.Create(ctx, binding)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), binding) })
	asPia := as(t, pia)

	// A platform engineer writes a restricted blueprint with buurt's roles.
	g.Eventually(func() error {
		return asPia.Create(ctx, testenv.DesignBlueprint("e2e-escalation"), client.DryRunAll)
	}).WithTimeout(timeout).Should(Succeed())

	privileged := testenv.DesignBlueprint("e2e-escalation")
	privileged.Spec.PodSecurity.Level = teamsv1alpha1.PodSecurityPrivileged
	g.Expect(asPia.Create(ctx, privileged)).To(MatchError(`admission webhook "vteamblueprint.teams.buurt.dev" denied the request: ` +
		`TeamBlueprint.teams.buurt.dev "e2e-escalation" is invalid: spec.podSecurity.level: Forbidden: ` +
		`Pod Security level privileged lets team pods escape restricted (privileged: run as node root); ` +
		`it needs the verb escalate on teamblueprints e2e-escalation (cluster-admin has it, buurt:platform-engineer does not): ` +
		`ask someone who has it, or keep restricted`))

	handingOut := testenv.DesignBlueprint("e2e-escalation")
	handingOut.Spec.MemberRole = "buurt-manager"
	g.Expect(asPia.Create(ctx, handingOut)).To(MatchError(`admission webhook "vteamblueprint.teams.buurt.dev" denied the request: ` +
		`TeamBlueprint.teams.buurt.dev "e2e-escalation" is invalid: spec.memberRole: Forbidden: ` +
		`ClusterRole buurt-manager is not labelled teams.buurt.dev/team-role=member (or does not exist), ` +
		`which marks a role fit for teams: label the ClusterRole so, or name one that is`))

	// A member edits their team, made by a platform engineer.
	bp := testenv.DesignBlueprint("e2e-escalation")
	g.Expect(asPia.Create(ctx, bp)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), bp) })
	const anna = "anna@care.example.org"
	team := newTeam("e2e-escalation", "e2e-escalation", user(anna))
	team.Labels = map[string]string{"kustomize.toolkit.fluxcd.io/name": "teams"}
	g.Expect(asPia.Create(ctx, team)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), team) })
	quota := func(g Gomega) string {
		q := &corev1.ResourceQuota{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "team-e2e-escalation", Name: "buurt-quota"}, q)).To(Succeed())
		cpu := q.Spec.Hard[corev1.ResourceRequestsCPU]
		return cpu.String()
	}
	eventuallyTeam(t, "e2e-escalation", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		ready(g, tm)
		g.Expect(tm.Annotations).To(HaveKeyWithValue(teamsv1alpha1.QuotaMembersAnnotation, "1"))
		g.Expect(quota(g)).To(Equal("2250m"), "2 + 250m for one member")
	})
	asAnna := as(t, anna)
	mine := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Eventually(func() error { return asAnna.Get(ctx, client.ObjectKeyFromObject(team), mine) }).WithTimeout(timeout).Should(Succeed())

	base := mine.DeepCopy()
	mine.Labels["kustomize.toolkit.fluxcd.io/name"] = "mine"
	g.Expect(asAnna.Patch(ctx, mine, client.MergeFrom(base))).To(MatchError(
		`admission webhook "vneighbourhoodteam.teams.buurt.dev" denied the request: ` +
			`NeighbourhoodTeam.teams.buurt.dev "e2e-escalation" is invalid: metadata.labels[kustomize.toolkit.fluxcd.io/name]: ` +
			`Forbidden: members of the team may not change its labels: other controllers (a GitOps controller's reconciliation, ` +
			`for one) act on them; ask a platform engineer`))

	// A colleague of the member's own choosing is admitted, but buys no
	// quota until a platform engineer changes the members.
	g.Expect(asAnna.Get(ctx, client.ObjectKeyFromObject(team), mine)).To(Succeed())
	base = mine.DeepCopy()
	mine.Spec.Members = append(mine.Spec.Members, user("made-up@care.example.org"))
	g.Expect(asAnna.Patch(ctx, mine, client.MergeFrom(base))).To(Succeed())
	eventuallyTeam(t, "e2e-escalation", func(g Gomega, tm *teamsv1alpha1.NeighbourhoodTeam) {
		ready(g, tm)
		g.Expect(tm.Status.MemberCount).To(Equal(int32(2)))
	})
	g.Consistently(quota).WithTimeout(3 * time.Second).Should(Equal("2250m"))
}
