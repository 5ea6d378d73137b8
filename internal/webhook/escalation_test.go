package webhook_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// escalator is a platform engineer who may also escalate the blueprints
// named in grantEscalate.
const escalator = "ella@region.example.org"

// grantEscalate lets escalator write buurt's kinds, as a platform engineer,
// and escalate the named blueprints.
func grantEscalate(t *testing.T, name string, blueprints ...string) {
	t.Helper()
	create(t, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{teamsv1alpha1.GroupVersion.Group}, Resources: []string{"teamblueprints"},
			ResourceNames: blueprints, Verbs: []string{"escalate"},
		}},
	})
	for _, role := range []string{name, "buurt:platform-engineer"} {
		create(t, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + ":" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: escalator}},
		})
	}
}

// waitForEscalate waits until RBAC lets c's user escalate blueprint: RBAC
// changes reach the authorizer's cache a moment after they are stored.
func waitForEscalate(t *testing.T, c client.Client, blueprint *teamsv1alpha1.TeamBlueprint) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		return c.Create(context.Background(), blueprint.DeepCopy(), client.DryRunAll)
	}).WithTimeout(timeout).Should(Succeed())
}

func withLevel(bp *teamsv1alpha1.TeamBlueprint, level teamsv1alpha1.PodSecurityLevel) *teamsv1alpha1.TeamBlueprint {
	bp.Spec.PodSecurity.Level = level
	return bp
}

func TestBlueprintCannotGrantMoreThanItsAuthorHolds(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	asPia, _, err := clientAs(platformEngineer, nil)
	g.Expect(err).NotTo(HaveOccurred())
	asElla, _, err := clientAs(escalator, nil)
	g.Expect(err).NotTo(HaveOccurred())
	grantEscalate(t, "escalate-loose", "loose")

	// A platform engineer writes restricted blueprints with buurt's roles.
	tight := testenv.DesignBlueprint("tight")
	g.Expect(asPia.Create(ctx, tight)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, tight) })

	// Pod Security privileged or baseline needs escalate on the blueprint.
	const denied = `admission webhook "vteamblueprint.teams.buurt.dev" denied the request: `
	for _, level := range []teamsv1alpha1.PodSecurityLevel{teamsv1alpha1.PodSecurityPrivileged, teamsv1alpha1.PodSecurityBaseline} {
		err = asPia.Create(ctx, withLevel(testenv.DesignBlueprint("loose"), level))
		g.Expect(err).To(MatchError(denied + `TeamBlueprint.teams.buurt.dev "loose" is invalid: spec.podSecurity.level: Forbidden: ` +
			`Pod Security level ` + string(level) + ` lets team pods escape restricted (privileged: run as node root); ` +
			`it needs the verb escalate on teamblueprints loose (cluster-admin has it, buurt:platform-engineer does not): ` +
			`ask someone who has it, or keep restricted`))
	}
	loose := withLevel(testenv.DesignBlueprint("loose"), teamsv1alpha1.PodSecurityPrivileged)
	waitForEscalate(t, asElla, loose)
	g.Expect(asElla.Create(ctx, loose)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, loose) })
	// escalate is by name: Ella may not loosen another blueprint.
	err = asElla.Update(ctx, withLevel(tight, teamsv1alpha1.PodSecurityBaseline))
	g.Expect(err).To(MatchError(ContainSubstring(`spec.podSecurity.level: Forbidden: Pod Security level baseline`)))

	// Ratchet: a platform engineer may change what does not loosen it, and
	// lower the level, but not raise it again.
	g.Expect(asPia.Get(ctx, client.ObjectKeyFromObject(loose), loose)).To(Succeed())
	loose.Spec.MaxMembers = 8
	g.Expect(asPia.Update(ctx, loose)).To(Succeed())
	g.Expect(asPia.Update(ctx, withLevel(loose, teamsv1alpha1.PodSecurityBaseline))).To(Succeed())
	err = asPia.Update(ctx, withLevel(loose, teamsv1alpha1.PodSecurityPrivileged))
	g.Expect(err).To(MatchError(ContainSubstring(`spec.podSecurity.level: Forbidden: Pod Security level privileged`)))

	// memberRole and coachRole: only ClusterRoles labelled fit for teams
	// that the author may bind. buurt's own role has no such label.
	manager := testenv.DesignBlueprint("handing-out")
	manager.Spec.MemberRole = "buurt-manager"
	manager.Spec.CoachRole = "no-such-role"
	err = asPia.Create(ctx, manager)
	g.Expect(err).To(MatchError(denied + `TeamBlueprint.teams.buurt.dev "handing-out" is invalid: [` +
		`spec.memberRole: Forbidden: ClusterRole buurt-manager is not labelled teams.buurt.dev/team-role=member ` +
		`(or does not exist), which marks a role fit for teams: label the ClusterRole so, or name one that is, ` +
		`spec.coachRole: Forbidden: ClusterRole no-such-role is not labelled teams.buurt.dev/team-role=coach ` +
		`(or does not exist), which marks a role fit for teams: label the ClusterRole so, or name one that is]`))
	// A labelled role the author may not bind: what they cannot bind
	// themselves they cannot have buurt bind.
	create(t, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{
		Name: "care-lead", Labels: map[string]string{teamsv1alpha1.TeamRoleLabel: teamsv1alpha1.TeamRoleMember},
	}})
	lead := testenv.DesignBlueprint("lead")
	lead.Spec.MemberRole = "care-lead"
	err = asPia.Create(ctx, lead)
	g.Expect(err).To(MatchError(denied + `TeamBlueprint.teams.buurt.dev "lead" is invalid: ` +
		`spec.memberRole: Forbidden: pia@region.example.org may not bind ClusterRole care-lead, ` +
		`and may not have buurt bind it: ask someone who may, or name another role`))
	// The admin may bind anything.
	g.Expect(env.Client.Create(ctx, lead)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, lead) })
	// Ratchet: a platform engineer's update that leaves the role as it is
	// goes through, as a helm upgrade of the blueprint would.
	g.Expect(asPia.Get(ctx, client.ObjectKeyFromObject(lead), lead)).To(Succeed())
	lead.Spec.MaxMembers = 10
	g.Expect(asPia.Update(ctx, lead)).To(Succeed())
}

func TestTeamOnLooserBlueprintNeedsEscalate(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, testenv.DesignBlueprint("placement-tight"))
	create(t, withLevel(testenv.DesignBlueprint("placement-baseline"), teamsv1alpha1.PodSecurityBaseline))
	asPia, _, err := clientAs(platformEngineer, nil)
	g.Expect(err).NotTo(HaveOccurred())

	forbidden := `spec.blueprint: Forbidden: blueprint placement-baseline lets pods run at Pod Security level baseline; ` +
		`putting a team on it needs the verb escalate on teamblueprints placement-baseline ` +
		`(cluster-admin has it, buurt:platform-engineer does not): ask someone who has it, or choose a restricted blueprint`
	err = asPia.Create(ctx, newTeam("placed", "placement-baseline", user(anna)))
	g.Expect(err).To(MatchError(`admission webhook "vneighbourhoodteam.teams.buurt.dev" denied the request: ` +
		`NeighbourhoodTeam.teams.buurt.dev "placed" is invalid: ` + forbidden))

	// Nor by moving a team there.
	tm := newTeam("placed", "placement-tight", user(anna))
	g.Expect(asPia.Create(ctx, tm)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, tm) })
	err = patchAs(asPia, tm, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Blueprint = "placement-baseline" })
	g.Expect(err).To(MatchError(ContainSubstring(forbidden)))

	// Someone who may escalate it may.
	grantEscalate(t, "escalate-placement", "placement-baseline")
	asElla, _, err := clientAs(escalator, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func() error {
		fresh := &teamsv1alpha1.NeighbourhoodTeam{}
		if err := asElla.Get(ctx, client.ObjectKeyFromObject(tm), fresh); err != nil {
			return err
		}
		return patchAs(asElla, fresh, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Blueprint = "placement-baseline" })
	}).WithTimeout(timeout).Should(Succeed())

	// Once there, a platform engineer manages the team, but cannot put
	// people on it: not themselves, nor anyone else.
	g.Expect(asPia.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
	g.Expect(patchAs(asPia, tm, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Coach = "jan" })).To(Succeed())
	err = patchAs(asPia, tm, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Spec.Members = append(tm.Spec.Members, user(platformEngineer))
	})
	g.Expect(err).To(MatchError(`admission webhook "vneighbourhoodteam.teams.buurt.dev" denied the request: ` +
		`NeighbourhoodTeam.teams.buurt.dev "placed" is invalid: spec.members: Forbidden: ` +
		`blueprint placement-baseline lets pods run at Pod Security level baseline; adding members to a team on it ` +
		`needs the verb escalate on teamblueprints placement-baseline (cluster-admin has it, buurt:platform-engineer does not): ` +
		`ask someone who has it, or choose a restricted blueprint`))
	// Nor may a member; Ella may.
	asAnna, _, err := clientAs(anna, nil)
	g.Expect(err).NotTo(HaveOccurred())
	mine := waitForSelfService(t, asAnna, "placed")
	err = patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Members = members(2) })
	g.Expect(err).To(MatchError(ContainSubstring("spec.members: Forbidden: blueprint placement-baseline lets pods run at Pod Security level baseline")))
	g.Expect(asElla.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
	g.Expect(patchAs(asElla, tm, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Members = members(2) })).To(Succeed())
	// Taking people off needs nothing more.
	g.Expect(asPia.Get(ctx, client.ObjectKeyFromObject(tm), tm)).To(Succeed())
	g.Expect(patchAs(asPia, tm, func(tm *teamsv1alpha1.NeighbourhoodTeam) { tm.Spec.Members = members(1) })).To(Succeed())
}

func TestMembersMayNotChangeLabelsOrAnnotations(t *testing.T) {
	g := NewWithT(t)
	create(t, testenv.DesignBlueprint("labelled"))
	tm := newTeam("labelled", "labelled", user(anna))
	tm.Labels = map[string]string{"kustomize.toolkit.fluxcd.io/name": "teams"}
	tm.Annotations = map[string]string{"argocd.argoproj.io/sync-options": "Prune=true"}
	create(t, tm)
	asAnna, _, err := clientAs(anna, nil)
	g.Expect(err).NotTo(HaveOccurred())

	mine := waitForSelfService(t, asAnna, "labelled")
	err = patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Labels["kustomize.toolkit.fluxcd.io/name"] = "mine"
		tm.Labels["extra"] = "yes"
		tm.Annotations["kustomize.toolkit.fluxcd.io/reconcile"] = "disabled"
		delete(tm.Annotations, "argocd.argoproj.io/sync-options")
	})
	const labelRule = "members of the team may not change its labels: other controllers (a GitOps controller's reconciliation, " +
		"for one) act on them; ask a platform engineer"
	const annotationRule = "members of the team may not change its annotations, but for kubectl.kubernetes.io/last-applied-configuration " +
		"and teams.buurt.dev/reconcile-requested-at: " +
		"other controllers (a GitOps controller's reconciliation, for one) act on them; ask a platform engineer"
	g.Expect(err).To(MatchError(`admission webhook "vneighbourhoodteam.teams.buurt.dev" denied the request: ` +
		`NeighbourhoodTeam.teams.buurt.dev "labelled" is invalid: [` +
		`metadata.labels[extra]: Forbidden: ` + labelRule + `, ` +
		`metadata.labels[kustomize.toolkit.fluxcd.io/name]: Forbidden: ` + labelRule + `, ` +
		`metadata.annotations[argocd.argoproj.io/sync-options]: Forbidden: ` + annotationRule + `, ` +
		`metadata.annotations[kustomize.toolkit.fluxcd.io/reconcile]: Forbidden: ` + annotationRule + `]`))

	// kubectl apply keeps its last-applied configuration in an annotation.
	mine = waitForSelfService(t, asAnna, "labelled")
	g.Expect(patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = `{"spec":{"lifecycle":"Dormant"}}`
		tm.Spec.Lifecycle = teamsv1alpha1.LifecycleDormant
	})).To(Succeed())
	stored := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(tm), stored)).To(Succeed())
	g.Expect(stored.Annotations).To(HaveKeyWithValue("kubectl.kubernetes.io/last-applied-configuration", `{"spec":{"lifecycle":"Dormant"}}`))
	g.Expect(stored.Spec.Lifecycle).To(Equal(teamsv1alpha1.LifecycleDormant))

	// A member may ask buurt to look at the team again now.
	mine = waitForSelfService(t, asAnna, "labelled")
	g.Expect(patchAs(asAnna, mine, func(tm *teamsv1alpha1.NeighbourhoodTeam) {
		tm.Annotations[teamsv1alpha1.ReconcileRequestAnnotation] = "2026-11-24T07:40:00Z"
	})).To(Succeed())
}

// The new team of an approved split is made by the operator, which may not
// escalate: on a source's looser blueprint, with none but the source's
// members, it puts nobody there who is not there already, and needs no
// escalate. Anyone else on it, or no approved split, still does.
func TestSplitsNewTeamOnLooserBlueprintNeedsNoEscalate(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, withLevel(testenv.DesignBlueprint("split-baseline"), teamsv1alpha1.PodSecurityBaseline))
	create(t, newTeam("split-loose", "split-baseline", user(anna), user("bram-loose")))
	split := &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "split-loose-grows"}, Spec: teamsv1alpha1.TeamSplitSpec{
		Source: "split-loose", NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: "split-loose-new"}, Members: []teamsv1alpha1.Subject{user("bram-loose")},
	}}
	create(t, split)
	asPia, _, err := clientAs(platformEngineer, nil)
	g.Expect(err).NotTo(HaveOccurred())
	made := func(members ...teamsv1alpha1.Subject) *teamsv1alpha1.NeighbourhoodTeam {
		tm := newTeam("split-loose-new", "split-baseline", members...)
		tm.Labels = map[string]string{teamsv1alpha1.SplitLabel: split.Name}
		return tm
	}
	const forbidden = `spec.blueprint: Forbidden: blueprint split-baseline lets pods run at Pod Security level baseline`
	g.Expect(asPia.Create(ctx, made(user("bram-loose")), client.DryRunAll)).To(MatchError(ContainSubstring(forbidden)),
		"the split is not approved")

	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(split), split)).To(Succeed())
	split.Spec.Approved = ptr.To(true)
	g.Expect(env.Client.Update(ctx, split)).To(Succeed())
	g.Eventually(func() error { return asPia.Create(ctx, made(user("bram-loose")), client.DryRunAll) }).
		WithTimeout(timeout).Should(Succeed())
	g.Expect(asPia.Create(ctx, made(user("bram-loose"), user(platformEngineer)), client.DryRunAll)).To(MatchError(ContainSubstring(forbidden)),
		"someone who is not the source's")
	unlabelled := made(user("bram-loose"))
	unlabelled.Labels = nil
	g.Expect(asPia.Create(ctx, unlabelled, client.DryRunAll)).To(MatchError(ContainSubstring(forbidden)), "no split")
}
