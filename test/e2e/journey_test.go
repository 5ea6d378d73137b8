//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/render"
	"github.com/buurt-dev/buurt/internal/testenv"
)

func sharedBlueprint(name string) *teamsv1alpha1.TeamBlueprint {
	bp := testenv.DesignBlueprint(name)
	bp.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	bp.Spec.Database = testenv.SharedDatabase("pg-admin")
	bp.Spec.Apps = []teamsv1alpha1.App{{
		Name: "care-planner", Image: "registry.example.org/care/planner:1.4.2", Port: 8080, Database: ptr.To(true),
	}}
	return bp
}

// databaseExists asks the shared server whether the team's role and
// database are there.
func databaseExists(g Gomega, team string) (role, db bool) {
	ctx := context.Background()
	conn, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(ctx) }()
	name := database.Name(team)
	g.Expect(conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), "+
		"EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&role, &db)).To(Succeed())
	return role, db
}

// TestJourney is a team's life: its workspace appears and works, members
// come and go, it sleeps and wakes, and when it is deleted its namespace is
// really gone while its data is kept or dropped as its policy says.
func TestJourney(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	g.Expect(admin.Create(ctx, sharedBlueprint("journey"))).To(Succeed())
	g.Expect(admin.Create(ctx, &teamsv1alpha1.Coach{
		ObjectMeta: metav1.ObjectMeta{Name: "journey-coach"},
		Spec:       teamsv1alpha1.CoachSpec{Subject: user("jan@care.example.org"), MaxTeams: 5},
	})).To(Succeed())
	keep := newTeam("journey-keep", "journey", user("anna@care.example.org"))
	keep.Spec.Coach = "journey-coach"
	drop := newTeam("journey-drop", "journey", user("bram@care.example.org"))
	drop.Spec.Database = &teamsv1alpha1.TeamDatabase{ReclaimPolicy: teamsv1alpha1.ReclaimPolicyDelete}
	g.Expect(admin.Create(ctx, keep)).To(Succeed())
	g.Expect(admin.Create(ctx, drop)).To(Succeed())

	for _, name := range []string{"journey-keep", "journey-drop"} {
		team := eventuallyTeam(t, name, ready)
		g.Expect(team.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseActive))
		g.Expect(team.Status.Database.Class).To(Equal(teamsv1alpha1.DatabaseClassShared))
		g.Expect(team.Status.Apps).To(Equal([]teamsv1alpha1.AppStatus{{Name: "care-planner", DesiredReplicas: 1, AvailableReplicas: 1}}))
		ns := "team-" + name
		for _, obj := range []client.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buurt:members"}},
			&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buurt-quota"}},
			&corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buurt-limits"}},
			&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buurt-default-deny"}},
			&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "buurt-allow-database"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-db"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "care-planner"}},
		} {
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed(), "%T %s/%s", obj, ns, obj.GetName())
		}
		role, db := databaseExists(g, name)
		g.Expect([]bool{role, db}).To(Equal([]bool{true, true}), name)
	}
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "team-journey-keep", Name: "buurt:coach:journey-coach"},
		&rbacv1.RoleBinding{})).To(Succeed(), "the coach's binding")

	// A member joins, and leaves again.
	members := func(g Gomega) []rbacv1.Subject {
		b := &rbacv1.RoleBinding{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "team-journey-keep", Name: "buurt:members"}, b)).To(Succeed())
		return b.Subjects
	}
	edit(t, keep, func() { keep.Spec.Members = append(keep.Spec.Members, user("cor@care.example.org")) })
	g.Eventually(func(g Gomega) {
		g.Expect(members(g)).To(Equal([]rbacv1.Subject{
			{Kind: "User", APIGroup: rbacv1.GroupName, Name: "anna@care.example.org"},
			{Kind: "User", APIGroup: rbacv1.GroupName, Name: "cor@care.example.org"},
		}))
	}).WithTimeout(timeout).Should(Succeed())
	edit(t, keep, func() { keep.Spec.Members = keep.Spec.Members[:1] })
	g.Eventually(func(g Gomega) {
		g.Expect(members(g)).To(Equal([]rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "anna@care.example.org"}}))
	}).WithTimeout(timeout).Should(Succeed())

	// Dormant and back.
	edit(t, keep, func() { keep.Spec.Lifecycle = teamsv1alpha1.LifecycleDormant })
	eventuallyTeam(t, "journey-keep", func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		g.Expect(team.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseDormant))
	})
	edit(t, keep, func() { keep.Spec.Lifecycle = teamsv1alpha1.LifecycleActive })
	eventuallyTeam(t, "journey-keep", func(g Gomega, team *teamsv1alpha1.NeighbourhoodTeam) {
		ready(g, team)
		g.Expect(team.Status.Phase).To(Equal(teamsv1alpha1.TeamPhaseActive))
		g.Expect(team.Status.Apps[0].AvailableReplicas).To(Equal(int32(1)))
	})

	// Deleted: the namespaces are really gone; Retain keeps the data,
	// Delete drops it.
	g.Expect(admin.Delete(ctx, keep)).To(Succeed())
	g.Expect(admin.Delete(ctx, drop)).To(Succeed())
	for _, name := range []string{"journey-keep", "journey-drop"} {
		reallyGone(t, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: name}})
		reallyGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-" + name}})
	}
	role, db := databaseExists(g, "journey-keep")
	g.Expect([]bool{role, db}).To(Equal([]bool{true, true}), "Retain keeps the data")
	role, db = databaseExists(g, "journey-drop")
	g.Expect([]bool{role, db}).To(Equal([]bool{false, false}), "Delete drops it")
}

// TestOperatorKilledMidwayConverges kills the operator while it provisions
// 20 teams, starts it again, and expects every team Ready, each with exactly
// one of everything.
func TestOperatorKilledMidwayConverges(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	g.Expect(admin.Create(ctx, sharedBlueprint("crowd"))).To(Succeed())
	const teams = 20
	names := make([]string, teams)
	for i := range teams {
		names[i] = fmt.Sprintf("crowd-%02d", i)
		g.Expect(admin.Create(ctx, newTeam(names[i], "crowd", user("anna@care.example.org")))).To(Succeed())
	}
	// Kill it once some, not all, teams have their namespace.
	g.Eventually(func(g Gomega) {
		list := &corev1.NamespaceList{}
		g.Expect(admin.List(ctx, list, client.HasLabels{teamsv1alpha1.TeamLabel})).To(Succeed())
		n := 0
		for _, ns := range list.Items {
			if len(ns.Name) > len("team-crowd-") && ns.Name[:len("team-crowd-")] == "team-crowd-" {
				n++
			}
		}
		g.Expect(n).To(BeNumerically(">=", 3))
	}).WithTimeout(timeout).Should(Succeed())
	operator.Kill()
	g.Expect(operator.Start()).To(Succeed())

	for _, name := range names {
		team := eventuallyTeam(t, name, ready)
		for _, c := range team.Status.Conditions {
			if c.Type == teamsv1alpha1.CoachAssignedCondition {
				continue
			}
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s %s: %s", name, c.Type, c.Message)
		}
		ns := "team-" + name
		bindings := &rbacv1.RoleBindingList{}
		g.Expect(admin.List(ctx, bindings, client.InNamespace(ns))).To(Succeed())
		var bound []string
		for _, b := range bindings.Items {
			bound = append(bound, b.Name)
		}
		g.Expect(bound).To(ConsistOf(render.MembersRoleBindingName, render.OperatorRoleBindingName), ns)
		quotas := &corev1.ResourceQuotaList{}
		g.Expect(admin.List(ctx, quotas, client.InNamespace(ns))).To(Succeed())
		g.Expect(quotas.Items).To(HaveLen(1), ns)
		deployments := &appsv1.DeploymentList{}
		g.Expect(admin.List(ctx, deployments, client.InNamespace(ns))).To(Succeed())
		g.Expect(deployments.Items).To(HaveLen(1), ns)
		secrets := &corev1.SecretList{}
		g.Expect(admin.List(ctx, secrets, client.InNamespace(ns), client.HasLabels{teamsv1alpha1.TeamLabel})).To(Succeed())
		g.Expect(secrets.Items).To(HaveLen(1), ns)
	}
	conn, err := pg.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(ctx) }()
	var roles, databases int
	g.Expect(conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'buurt_crowd_%'), "+
		"(SELECT count(*) FROM pg_database WHERE datname LIKE 'buurt_crowd_%')").Scan(&roles, &databases)).To(Succeed())
	g.Expect([]int{roles, databases}).To(Equal([]int{teams, teams}), "one role and one database per team")
}
