//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/database"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// splitNurses are the twelve members of the team that splits in
// docs/splitting.md; the five after Sem move.
var splitNurses = []string{"sanne", "sem", "sofie", "sara", "stijn", "saskia", "siem", "selma", "sven", "suzan", "simon", "sterre"}

// splittingTeam is a team of twelve with two apps of its own that use its
// Shared database, in which it has a row; it is Ready, and gone when the
// test ends, with the team after, their namespaces and databases.
func splittingTeam(t *testing.T, name, blueprint, after string) *teamsv1alpha1.NeighbourhoodTeam {
	t.Helper()
	g := NewWithT(t)
	var members []teamsv1alpha1.Subject
	for _, n := range splitNurses {
		members = append(members, user(n+"@care.example.org"))
	}
	source := newTeam(name, blueprint, members...)
	source.Spec.Apps = []teamsv1alpha1.App{
		{Name: "rota", Image: "registry.example.org/care/rota:1", Port: 8080, Database: ptr.To(true)},
		{Name: "wiki", Image: "registry.example.org/care/wiki:2", Port: 8080, Database: ptr.To(true)},
	}
	g.Expect(admin.Create(context.Background(), source)).To(Succeed())
	t.Cleanup(func() {
		for _, team := range []string{after, name} {
			obj := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: team}}
			_ = admin.Delete(context.Background(), obj)
			reallyGone(t, obj)
			reallyGone(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-" + team}})
			dropDatabase(t, team)
		}
	})
	eventuallyTeam(t, name, ready)
	conn := connectTeam(g, name)
	defer func() { _ = conn.Close(context.Background()) }()
	_, err := conn.Exec(context.Background(), "CREATE TABLE rota (nurse text); INSERT INTO rota VALUES ('Sanne')")
	g.Expect(err).NotTo(HaveOccurred())
	return source
}

// TestTeamSplitsItself: in a real installation (the operator as its
// ServiceAccount, its admission webhooks and bounds, a real PostgreSQL), a
// member of a team of twelve asks for a split with plain kubectl, as
// docs/splitting.md says: five members and one app move, with a copy of
// the database. Bad splits are refused at admission, a member of another
// team cannot split it; the plan is shown and nothing changes before
// approval; after it, both teams are Ready, each member has access to
// exactly one team's namespace, the moved app runs in the new namespace
// only, and both databases hold the team's row, each its own.
func TestTeamSplitsItself(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := sharedBlueprint("e2e-split")
	g.Expect(admin.Create(ctx, bp)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), bp) })
	source := splittingTeam(t, "split-riverside", bp.Name, "split-hillside")
	readyTeam(t, testenv.DesignBlueprint("e2e-split-other"), newTeam("split-other", "e2e-split-other", user("otto@care.example.org")))

	// docs/splitting.md, as Sanne.
	var commands, outputs []string
	for _, b := range fencedBlocks(t, "splitting.md", "## The database") {
		switch b.lang {
		case "sh":
			commands = append(commands, strings.TrimSpace(b.body))
		case "":
			outputs = append(outputs, b.body)
		}
	}
	g.Expect(commands).To(HaveLen(5), "docs/splitting.md: ask, plan, copy, approve, done")
	g.Expect(outputs).To(HaveLen(4), "docs/splitting.md: a refusal, the plan, the copy, done")

	// Someone of another team is refused, whatever the plan.
	_, stderr, err := commandAs(t, "otto@care.example.org")(commands[0])
	g.Expect(err).To(HaveOccurred())
	g.Expect(stderr).To(ContainSubstring(`only team split-riverside's members and platform engineers (verb "manage" on neighbourhoodteams) may split it`))
	// Sanne's bad splits are refused with what is wrong, the doc's first.
	_, stderr, err = commandAs(t, "sanne@care.example.org")(strings.Replace(commands[0], "sofie@", "tom@", 1))
	g.Expect(err).To(HaveOccurred())
	g.Expect(stderr).To(Equal(outputs[0]))
	sanneClient := as(t, "sanne@care.example.org")
	for _, tc := range []struct {
		change func(*teamsv1alpha1.TeamSplitSpec)
		want   string
	}{
		{func(s *teamsv1alpha1.TeamSplitSpec) { s.Members = source.Spec.Members },
			"team split-riverside would be left with no member: keep at least one"},
		{func(s *teamsv1alpha1.TeamSplitSpec) { s.NewTeam.Name = "split-other" },
			"a team named split-other exists: choose another name for the new team"},
		{func(s *teamsv1alpha1.TeamSplitSpec) { s.NewTeam.Name = "split-taken" },
			"namespace team-split-taken exists: choose another name for the new team"},
	} {
		bad := &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "split-riverside-bad"}, Spec: teamsv1alpha1.TeamSplitSpec{
			Source: source.Name, NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: "split-hillside"}, Members: source.Spec.Members[2:7],
		}}
		tc.change(&bad.Spec)
		if strings.HasPrefix(tc.want, "namespace") {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-split-taken"}}
			g.Expect(admin.Create(ctx, ns)).To(Succeed())
			t.Cleanup(func() { _ = admin.Delete(context.Background(), ns) })
		}
		err := sanneClient.Create(ctx, bad)
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(ContainSubstring(tc.want))
	}

	sanne := shellAs(t, "sanne@care.example.org")
	g.Expect(sanne(g, commands[0])).To(Equal("teamsplit.teams.buurt.dev/split-riverside-grows created\n"))
	t.Cleanup(func() {
		_ = admin.Delete(context.Background(), &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "split-riverside-grows"}})
	})
	// The plan, and what the copy costs, before anything changes.
	g.Eventually(func(g Gomega) string { return sanne(g, commands[1]) + "\n" }).WithTimeout(timeout).Should(Equal(outputs[1]))
	mebibytes := regexp.MustCompile(`\(\d+ MiB\)`)
	g.Expect(mebibytes.ReplaceAllString(sanne(g, commands[2])+"\n", "(N MiB)")).To(Equal(mebibytes.ReplaceAllString(outputs[2], "(N MiB)")))
	g.Consistently(func(g Gomega) {
		g.Expect(apierrors.IsNotFound(admin.Get(ctx, client.ObjectKey{Name: "split-hillside"}, &teamsv1alpha1.NeighbourhoodTeam{}))).To(BeTrue())
		ns := &corev1.Namespace{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Name: "team-split-riverside"}, ns)).To(Succeed())
		g.Expect(ns.Annotations).NotTo(HaveKey(teamsv1alpha1.SleepAnnotation), "the source keeps working")
		role, db := databaseExists(g, "split-hillside")
		g.Expect([]bool{role, db}).To(Equal([]bool{false, false}))
	}).WithTimeout(3*time.Second).Should(Succeed(), "nothing changes before approval")

	g.Expect(sanne(g, commands[3])).To(Equal("teamsplit.teams.buurt.dev/split-riverside-grows patched\n"))
	g.Eventually(func(g Gomega) string { return sanne(g, commands[4]) + "\n" }).WithTimeout(timeout).Should(Equal(outputs[3]))

	eventuallyTeam(t, "split-riverside", ready)
	eventuallyTeam(t, "split-hillside", ready)
	// Each member in exactly one team's namespace.
	for i, n := range splitNurses {
		member := n + "@care.example.org"
		want := []bool{true, false}
		if i >= 2 && i < 7 {
			want = []bool{false, true}
		}
		g.Eventually(func() []bool {
			return []bool{mayReadSecrets(g, member, "team-split-riverside"), mayReadSecrets(g, member, "team-split-hillside")}
		}).WithTimeout(timeout).Should(Equal(want), member)
	}
	awake(g, "team-split-riverside")
	expectAppsIn(g, "team-split-riverside", "care-planner", "wiki")
	expectAppsIn(g, "team-split-hillside", "care-planner", "rota")
	// Both databases hold the row; what one writes, the other does not see.
	g.Expect(rowsOf(g, "split-riverside")).To(Equal([]string{"Sanne"}))
	g.Expect(rowsOf(g, "split-hillside")).To(Equal([]string{"Sanne"}))
	conn := connectTeam(g, "split-hillside")
	_, err = conn.Exec(ctx, "INSERT INTO rota VALUES ('Sofie')")
	g.Expect(err).NotTo(HaveOccurred(), "the new team owns its copy")
	g.Expect(conn.Close(ctx)).To(Succeed())
	g.Expect(rowsOf(g, "split-riverside")).To(Equal([]string{"Sanne"}))
	// Sofie, who moved, still reads the record.
	g.Expect(shellAs(t, "sofie@care.example.org")(g, "kubectl get split split-riverside-grows -o jsonpath='{.status.phase}'")).To(Equal("Succeeded"))
}

// TestSplitSurvivesOperatorKills kills the operator at a different point
// of a split with a copy in each run, right after the split reaches it or
// a random moment later, and starts it again: the split completes with
// exactly one new team, one role and one database for it, and each app in
// exactly one namespace.
func TestSplitSurvivesOperatorKills(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := sharedBlueprint("e2e-split-kill")
	g.Expect(admin.Create(ctx, bp)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(context.Background(), bp) })
	seed := time.Now().UnixNano()
	random := rand.New(rand.NewPCG(uint64(seed), 0)) //nolint:gosec // a test's kill points, not a secret
	t.Logf("kill points from seed %d", seed)

	for i, at := range []teamsv1alpha1.TeamSplitStepName{
		teamsv1alpha1.StepCreateTeam, teamsv1alpha1.StepCopyDatabase, teamsv1alpha1.StepWaitForTeam, teamsv1alpha1.StepMoveMembersAndApps,
	} {
		name, newName := fmt.Sprintf("kill-%d-river", i), fmt.Sprintf("kill-%d-hill", i)
		source := splittingTeam(t, name, bp.Name, newName)
		s := &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: name + "-grows"}, Spec: teamsv1alpha1.TeamSplitSpec{
			Source: name, NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: newName}, Members: source.Spec.Members[2:7],
			Apps: []string{"rota"}, Database: teamsv1alpha1.SplitDatabaseCopy, Approved: ptr.To(true),
		}}
		g.Expect(as(t, "sanne@care.example.org").Create(ctx, s)).To(Succeed())
		t.Cleanup(func() { _ = admin.Delete(context.Background(), s) })

		// Killed once the split is at the step, or a random moment within
		// a second after.
		var where string
		g.Eventually(func(g Gomega) {
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
			where = stepsOf(s)
			if s.Status.Phase != teamsv1alpha1.TeamSplitPhaseSucceeded {
				g.Expect(where).To(ContainSubstring(string(at) + "=Running"))
			}
		}).WithTimeout(timeout).WithPolling(20 * time.Millisecond).Should(Succeed())
		time.Sleep(time.Duration(random.Int64N(int64(time.Second))))
		operator.Kill()
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
		t.Logf("run %d: killed at %s (reached at %s)", i, stepsOf(s), where)
		g.Expect(operator.Start()).To(Succeed())

		g.Eventually(func(g Gomega) teamsv1alpha1.TeamSplitPhase {
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
			return s.Status.Phase
		}).WithTimeout(timeout).Should(Equal(teamsv1alpha1.TeamSplitPhaseSucceeded), "run %d: %s", i, stepsOf(s))
		eventuallyTeam(t, name, ready)
		eventuallyTeam(t, newName, ready)
		made := &teamsv1alpha1.NeighbourhoodTeamList{}
		g.Expect(admin.List(ctx, made, client.MatchingLabels{teamsv1alpha1.SplitLabel: s.Name})).To(Succeed())
		g.Expect(made.Items).To(HaveLen(1), "run %d: one new team", i)
		awake(g, "team-"+name)
		expectAppsIn(g, "team-"+name, "care-planner", "wiki")
		expectAppsIn(g, "team-"+newName, "care-planner", "rota")
		g.Expect(databasesLike(g, database.Name(newName))).To(Equal([]string{database.Name(newName)}), "run %d: one database", i)
		g.Expect(rowsOf(g, newName)).To(Equal([]string{"Sanne"}), "run %d", i)
		g.Expect(rowsOf(g, name)).To(Equal([]string{"Sanne"}), "run %d", i)
	}
}

// stepsOf is the split's steps as name=state.
func stepsOf(s *teamsv1alpha1.TeamSplit) string {
	var out []string
	for _, step := range s.Status.Steps {
		out = append(out, string(step.Name)+"="+string(step.State))
	}
	return strings.Join(out, " ")
}

// awake waits until the namespace's workloads run again after the copy
// stopped them: none carries what it had before it was stopped.
func awake(g Gomega, namespace string) {
	g.Eventually(func(g Gomega) {
		ns := &corev1.Namespace{}
		g.Expect(admin.Get(context.Background(), client.ObjectKey{Name: namespace}, ns)).To(Succeed())
		g.Expect(ns.Annotations).NotTo(HaveKey(teamsv1alpha1.SleepAnnotation))
		list := &appsv1.DeploymentList{}
		g.Expect(admin.List(context.Background(), list, client.InNamespace(namespace))).To(Succeed())
		for _, d := range list.Items {
			g.Expect(d.Annotations).NotTo(HaveKey(teamsv1alpha1.AwakeReplicasAnnotation), d.Name)
			g.Expect(*d.Spec.Replicas).To(BeNumerically(">", 0), d.Name)
		}
	}).WithTimeout(timeout).Should(Succeed(), namespace)
}

// expectAppsIn waits until the namespace has exactly the Deployments named.
func expectAppsIn(g Gomega, namespace string, names ...string) {
	g.Eventually(func(g Gomega) []string {
		list := &appsv1.DeploymentList{}
		g.Expect(admin.List(context.Background(), list, client.InNamespace(namespace))).To(Succeed())
		var got []string
		for _, d := range list.Items {
			got = append(got, d.Name)
		}
		return got
	}).WithTimeout(timeout).Should(ConsistOf(names), namespace)
}

// connectTeam connects to the team's database as its apps do, with its
// Secret as it is now.
func connectTeam(g Gomega, team string) *pgx.Conn {
	secret := &corev1.Secret{}
	g.Expect(admin.Get(context.Background(), client.ObjectKey{Namespace: "team-" + team, Name: team + "-db"}, secret)).To(Succeed())
	conn, err := pgx.Connect(context.Background(), string(secret.Data["uri"]))
	g.Expect(err).NotTo(HaveOccurred())
	return conn
}

// rowsOf are the nurses in the team's rota table, read as the team (its
// password may just have been made anew, so it tries again).
func rowsOf(g Gomega, team string) []string {
	var nurses []string
	g.Eventually(func(g Gomega) {
		conn := connectTeam(g, team)
		defer func() { _ = conn.Close(context.Background()) }()
		rows, err := conn.Query(context.Background(), "SELECT nurse FROM rota ORDER BY nurse")
		g.Expect(err).NotTo(HaveOccurred())
		nurses, err = pgx.CollectRows(rows, pgx.RowTo[string])
		g.Expect(err).NotTo(HaveOccurred())
	}).WithTimeout(timeout).Should(Succeed(), team)
	return nurses
}

// databasesLike are the databases on the shared server whose name starts
// with prefix.
func databasesLike(g Gomega, prefix string) []string {
	conn, err := pg.Connect(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(context.Background(), "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname", prefix)
	g.Expect(err).NotTo(HaveOccurred())
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	g.Expect(err).NotTo(HaveOccurred())
	return names
}

// dropDatabase drops a team's database and role, kept (Retain) after its
// team is gone.
func dropDatabase(t *testing.T, team string) {
	conn, err := pg.Connect(context.Background())
	if err != nil {
		t.Logf("dropping the database of %s: %v", team, err)
		return
	}
	defer func() { _ = conn.Close(context.Background()) }()
	name := pgx.Identifier{database.Name(team)}.Sanitize()
	for _, stmt := range []string{"DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "DROP ROLE IF EXISTS " + name} {
		if _, err := conn.Exec(context.Background(), stmt); err != nil {
			t.Logf("dropping the database of %s: %v", team, err)
		}
	}
}
