package split_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/controllers/split"
	"github.com/buurt-dev/buurt/controllers/team"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
)

var (
	env *testenv.Env
	// pg is the shared database server of the copy's test.
	pg *testpg.Server
)

const timeout = 30 * time.Second

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if env, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if pg, err = testpg.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = pg.Stop() }()
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	if err := testenv.InstallOperatorRBAC(context.Background(), env.Client); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The manager runs with exactly the permissions config/rbac grants.
	mgr, err := testenv.OperatorManager(env.Config, func(*http.Request) {})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A split's new team must become Ready: the team controller runs too.
	teams := team.NewReconciler(mgr, testenv.OperatorNamespace)
	if err := teams.SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := split.NewReconciler(mgr, testenv.OperatorNamespace, teams.Databases).SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return testenv.RunWithManager(mgr, m)
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	NewWithT(t).Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
}

// planned waits until the split's status is for its generation and check
// holds, and returns it.
func planned(t *testing.T, name string, check func(Gomega, *teamsv1alpha1.TeamSplit)) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		s := &teamsv1alpha1.TeamSplit{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: name}, s)).To(Succeed())
		g.Expect(s.Status.ObservedGeneration).To(Equal(s.Generation))
		check(g, s)
	}).WithTimeout(timeout).Should(Succeed())
}

// A split is planned as soon as it is made, and planned again when its
// source changes or its new team's name is taken: a plan that breaks a rule
// is Refused and says which.
func TestSplitIsPlanned(t *testing.T) {
	ctx := context.Background()
	create(t, &teamsv1alpha1.TeamBlueprint{ObjectMeta: metav1.ObjectMeta{Name: "split-bp"},
		Spec: teamsv1alpha1.TeamBlueprintSpec{MaxMembers: 12, Database: teamsv1alpha1.BlueprintDatabase{Class: teamsv1alpha1.DatabaseClassNone}}})
	source := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "split-source"}, Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
		Neighbourhood: "riverside", Blueprint: "split-bp",
		Apps: []teamsv1alpha1.App{{Name: "rota", Image: "ghcr.io/care/rota:1", Port: 8080, Database: ptr.To(true)}},
	}}
	for i := range 12 {
		source.Spec.Members = append(source.Spec.Members, teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser,
			Name: fmt.Sprintf("nurse-%02d@care.example.org", i)})
	}
	create(t, source)
	source.Status.Database = &teamsv1alpha1.TeamDatabaseStatus{Class: teamsv1alpha1.DatabaseClassShared}
	NewWithT(t).Expect(env.Client.Status().Update(ctx, source)).To(Succeed())

	s := &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "split-source-grows"}, Spec: teamsv1alpha1.TeamSplitSpec{
		Source: "split-source", NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: "split-new"},
		Members: source.Spec.Members[7:], Apps: []string{"rota"}, Database: teamsv1alpha1.SplitDatabaseCopy,
	}}
	create(t, s)
	planned(t, s.Name, func(g Gomega, s *teamsv1alpha1.TeamSplit) {
		g.Expect(s.Status.Phase).To(Equal(teamsv1alpha1.TeamSplitPhasePlanned))
		g.Expect(s.Status.Plan.Summary).To(Equal("5 of 12 members and 1 of 1 apps move to split-new; database Copy"))
		g.Expect(s.Status.Plan.NewTeam.Members).To(Equal(source.Spec.Members[7:]))
		g.Expect(s.Status.Plan.Source.Members).To(Equal(source.Spec.Members[:7]))
		g.Expect(s.Status.Plan.Source.Apps).To(BeEmpty())
		ready := meta.FindStatusCondition(s.Status.Conditions, teamsv1alpha1.ReadyCondition)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Reason).To(Equal(split.AwaitingApprovalReason))
		g.Expect(ready.Message).To(Equal("Planned: 5 of 12 members and 1 of 1 apps move to split-new; database Copy. " +
			"status.plan says what changes; nothing does until spec.approved is true"))
	})

	// The source's members may read and approve this split, by name.
	NewWithT(t).Eventually(func(g Gomega) {
		binding := &rbacv1.ClusterRoleBinding{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "buurt:split:split-source-grows"}, binding)).To(Succeed())
		g.Expect(binding.Subjects).To(HaveLen(12))
		g.Expect(binding.Subjects[0]).To(Equal(rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "nurse-00@care.example.org"}))
		role := &rbacv1.ClusterRole{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "buurt:split:split-source-grows"}, role)).To(Succeed())
		g.Expect(role.Rules).To(Equal([]rbacv1.PolicyRule{{APIGroups: []string{"teams.buurt.dev"}, Resources: []string{"teamsplits"},
			ResourceNames: []string{"split-source-grows"}, Verbs: []string{"get", "watch", "update", "patch"}}}))
	}).WithTimeout(timeout).Should(Succeed())

	// Someone else takes the name.
	create(t, &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "split-new"}, Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
		Neighbourhood: "riverside", Blueprint: "split-bp", Members: source.Spec.Members[:1],
	}})
	planned(t, s.Name, func(g Gomega, s *teamsv1alpha1.TeamSplit) {
		g.Expect(s.Status.Phase).To(Equal(teamsv1alpha1.TeamSplitPhaseRefused))
		g.Expect(s.Status.Plan.Problems).To(Equal([]string{"a team named split-new exists: choose another name for the new team"}))
		ready := meta.FindStatusCondition(s.Status.Conditions, teamsv1alpha1.ReadyCondition)
		g.Expect(ready.Reason).To(Equal(split.PlanRefusedReason))
		g.Expect(ready.Message).To(Equal("The split would break a rule: a team named split-new exists: choose another name for the new team. " +
			"Change the split; nothing is done until then"))
	})
}

// markAvailable does what the Deployment controller would (envtest runs
// none): every replica the Deployment wants is available.
func markAvailable(t *testing.T, namespace, name string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, d)).To(Succeed())
		want := *d.Spec.Replicas
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: want, UpdatedReplicas: want, ReadyReplicas: want, AvailableReplicas: want,
		}
		g.Expect(env.Client.Status().Update(context.Background(), d)).To(Succeed())
	}).WithTimeout(timeout).Should(Succeed())
}

// An approved split is carried out step by step: the new team is made from
// the plan (labelled with the split), becomes Ready with the moved app
// running in its namespace, and only then do the moved members and app
// leave the source, which keeps everything else. The split is a record
// that both teams' members read.
func TestApprovedSplitIsCarriedOut(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	bp := &teamsv1alpha1.TeamBlueprint{ObjectMeta: metav1.ObjectMeta{Name: "split-run"}, Spec: teamsv1alpha1.TeamBlueprintSpec{
		MaxMembers: 12, Database: teamsv1alpha1.BlueprintDatabase{Class: teamsv1alpha1.DatabaseClassNone},
		AllowedRegistries: []string{"ghcr.io/care/"},
	}}
	create(t, bp)
	users := func(names ...string) []teamsv1alpha1.Subject {
		var out []teamsv1alpha1.Subject
		for _, n := range names {
			out = append(out, teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: n + "@care.example.org"})
		}
		return out
	}
	source := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "run-source"}, Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
		Neighbourhood: "riverside", Blueprint: bp.Name, Members: users("anna", "bram", "cor", "dirk"),
		Apps: []teamsv1alpha1.App{{Name: "rota", Image: "ghcr.io/care/rota:1", Port: 8080}, {Name: "wiki", Image: "ghcr.io/care/wiki:2", Port: 8080}},
	}}
	create(t, source)
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "run-new"}})
	})
	s := &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "run-source-grows"}, Spec: teamsv1alpha1.TeamSplitSpec{
		Source: source.Name, NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: "run-new", Neighbourhood: "hillside"},
		Members: users("cor", "dirk"), Apps: []string{"rota"},
	}}
	create(t, s)
	planned(t, s.Name, func(g Gomega, s *teamsv1alpha1.TeamSplit) {
		g.Expect(s.Status.Phase).To(Equal(teamsv1alpha1.TeamSplitPhasePlanned))
	})
	g.Expect(apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Name: "run-new"}, &teamsv1alpha1.NeighbourhoodTeam{}))).
		To(BeTrue(), "nothing is made before approval")

	approved := s.DeepCopy()
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(s), approved)).To(Succeed())
	approved.Spec.Approved = ptr.To(true)
	g.Expect(env.Client.Update(ctx, approved)).To(Succeed())

	// The new team, made from the plan, waits for its app; the source is
	// untouched until then.
	planned(t, s.Name, func(g Gomega, s *teamsv1alpha1.TeamSplit) {
		g.Expect(s.Status.Phase).To(Equal(teamsv1alpha1.TeamSplitPhaseRunning))
		g.Expect(s.Status.Steps[1].Name).To(Equal(teamsv1alpha1.StepWaitForTeam))
		g.Expect(s.Status.Steps[1].State).To(Equal(teamsv1alpha1.StepRunning))
	})
	made := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "run-new"}, made)).To(Succeed())
	g.Expect(made.Labels).To(HaveKeyWithValue(teamsv1alpha1.SplitLabel, s.Name))
	g.Expect(made.Spec.Neighbourhood).To(Equal("hillside"))
	g.Expect(made.Spec.Members).To(Equal(users("cor", "dirk")))
	g.Expect(made.Spec.Apps).To(Equal(source.Spec.Apps[:1]))
	unchanged := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(source), unchanged)).To(Succeed())
	g.Expect(unchanged.Spec.Members).To(HaveLen(4))

	markAvailable(t, "team-run-new", "rota")
	planned(t, s.Name, func(g Gomega, s *teamsv1alpha1.TeamSplit) {
		g.Expect(s.Status.Phase).To(Equal(teamsv1alpha1.TeamSplitPhaseSucceeded))
		var states []string
		for _, step := range s.Status.Steps {
			states = append(states, string(step.Name)+"="+string(step.State))
		}
		g.Expect(states).To(Equal([]string{"CreateTeam=Done", "WaitForTeam=Done", "MoveMembersAndApps=Done"}))
		g.Expect(s.Status.CompletionTime).NotTo(BeNil())
		ready := meta.FindStatusCondition(s.Status.Conditions, teamsv1alpha1.ReadyCondition)
		g.Expect(ready.Reason).To(Equal(split.SplitReason))
	})
	// Counted right after the status is written.
	g.Eventually(func(g Gomega) []float64 {
		return []float64{splits(g, "started"), splits(g, "succeeded"), splits(g, "failed")}
	}).WithTimeout(timeout).Should(Equal([]float64{1, 1, 0}))
	after := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(source), after)).To(Succeed())
	g.Expect(after.Spec.Members).To(Equal(users("anna", "bram")))
	g.Expect(after.Spec.Apps).To(Equal(source.Spec.Apps[1:]))
	NewWithT(t).Eventually(func(g Gomega) []string {
		binding := &rbacv1.ClusterRoleBinding{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "buurt:split:" + s.Name}, binding)).To(Succeed())
		var names []string
		for _, subject := range binding.Subjects {
			names = append(names, subject.Name)
		}
		return names
	}).WithTimeout(timeout).Should(Equal([]string{"anna@care.example.org", "bram@care.example.org", "cor@care.example.org", "dirk@care.example.org"}),
		"both teams' members read the record")
}

// splits is buurt_team_splits_total for result, as the operator exports it.
func splits(g Gomega, result string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != "buurt_team_splits_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A split with database: Copy gives the new team a copy of the source's
// Shared database on the real server: the plan says how long the source
// stops; the new team waits for its copy (never made empty), the source's
// workloads stop and its sessions end while it is copied, and start again
// as they were; both databases hold the source's row, each its own.
func TestCopySplitCopiesTheDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testenv.OperatorNamespace, Name: "copy-admin"},
		StringData: map[string]string{"host": pg.Host, "port": strconv.Itoa(pg.Port), "user": testpg.AdminUser,
			"password": pg.Password, "sslmode": "disable"}})
	bp := &teamsv1alpha1.TeamBlueprint{ObjectMeta: metav1.ObjectMeta{Name: "split-copy"}, Spec: teamsv1alpha1.TeamBlueprintSpec{
		MaxMembers: 12, Database: testenv.SharedDatabase("copy-admin"), AllowedRegistries: []string{"ghcr.io/care/"},
	}}
	create(t, bp)
	members := []teamsv1alpha1.Subject{
		{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna@care.example.org"}, {Kind: teamsv1alpha1.SubjectKindUser, Name: "bram@care.example.org"}}
	source := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "copy-source"}, Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
		Neighbourhood: "riverside", Blueprint: bp.Name, Members: members,
		Apps: []teamsv1alpha1.App{
			{Name: "rota", Image: "ghcr.io/care/rota:1", Port: 8080, Database: ptr.To(true)},
			{Name: "wiki", Image: "ghcr.io/care/wiki:1", Port: 8080, Database: ptr.To(true), Replicas: ptr.To[int32](2)},
		},
	}}
	create(t, source)
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "copy-new"}})
	})
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(source), source)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(source.Status.Conditions, teamsv1alpha1.DatabaseReadyCondition)).To(BeTrue())
	}).WithTimeout(timeout).Should(Succeed())
	session := connectTeam(g, "copy-source")
	defer func() { _ = session.Close(ctx) }()
	_, err := session.Exec(ctx, "CREATE TABLE rota (nurse text); INSERT INTO rota VALUES ('Anna')")
	g.Expect(err).NotTo(HaveOccurred())

	s := &teamsv1alpha1.TeamSplit{ObjectMeta: metav1.ObjectMeta{Name: "copy-source-grows"}, Spec: teamsv1alpha1.TeamSplitSpec{
		Source: source.Name, NewTeam: teamsv1alpha1.TeamSplitNewTeam{Name: "copy-new"}, Members: members[1:],
		Apps: []string{"rota"}, Database: teamsv1alpha1.SplitDatabaseCopy,
	}}
	create(t, s)
	planned(t, s.Name, func(g Gomega, s *teamsv1alpha1.TeamSplit) {
		g.Expect(s.Status.Phase).To(Equal(teamsv1alpha1.TeamSplitPhasePlanned))
		g.Expect(s.Status.Plan.DatabaseCopy).To(MatchRegexp(`^team copy-source's workloads stop while its database \([0-9]+ MiB\) ` +
			`is copied: about 5s, plus the time they take to stop and start again; every session on its database ends ` +
			`\(CREATE DATABASE … TEMPLATE needs none\)\. The new team's database is then a copy, its own$`))
	})
	approved := &teamsv1alpha1.TeamSplit{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(s), approved)).To(Succeed())
	approved.Spec.Approved = ptr.To(true)
	g.Expect(env.Client.Update(ctx, approved)).To(Succeed())

	// The copy is made, with the source stopped; then the new team waits
	// for its app.
	planned(t, s.Name, func(g Gomega, s *teamsv1alpha1.TeamSplit) {
		g.Expect(steps(s)).To(Equal([]string{"CreateTeam=Done", "CopyDatabase=Done", "WaitForTeam=Running", "MoveMembersAndApps=Pending"}))
	})
	g.Expect(session.Ping(ctx)).NotTo(Succeed(), "the source's session was ended for the copy")
	markAvailable(t, "team-copy-new", "rota")
	planned(t, s.Name, func(g Gomega, s *teamsv1alpha1.TeamSplit) {
		g.Expect(s.Status.Phase).To(Equal(teamsv1alpha1.TeamSplitPhaseSucceeded))
		g.Expect(steps(s)).To(Equal([]string{"CreateTeam=Done", "CopyDatabase=Done", "WaitForTeam=Done", "MoveMembersAndApps=Done"}))
	})

	// The source's password is made anew as Bram leaves, which ends the
	// sessions opened before: each team reads with its Secret as it is.
	for _, team := range []string{"copy-source", "copy-new"} {
		g.Eventually(func(g Gomega) {
			conn := connectTeam(g, team)
			defer func() { _ = conn.Close(ctx) }()
			var nurses []string
			rows, err := conn.Query(ctx, "SELECT nurse FROM rota ORDER BY nurse")
			g.Expect(err).NotTo(HaveOccurred())
			nurses, err = pgx.CollectRows(rows, pgx.RowTo[string])
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(nurses).To(Equal([]string{"Anna"}))
			_, err = conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS visits (day date)")
			g.Expect(err).NotTo(HaveOccurred(), "%s's role works in its own database", team)
		}).WithTimeout(timeout).Should(Succeed(), team)
	}
	// The source's workloads run again, as they were.
	g.Eventually(func(g Gomega) {
		ns := &corev1.Namespace{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "team-copy-source"}, ns)).To(Succeed())
		g.Expect(ns.Annotations).NotTo(HaveKey(teamsv1alpha1.SleepAnnotation))
		d := &appsv1.Deployment{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: "team-copy-source", Name: "wiki"}, d)).To(Succeed())
		g.Expect(*d.Spec.Replicas).To(Equal(int32(2)))
	}).WithTimeout(timeout).Should(Succeed())
	g.Expect(eventNotes(g, "copy-source", teamsv1alpha1.FellAsleepReason)).To(ContainElement(
		"Stopped 1 workload (Deployment rota); each carries what it had (annotation teams.buurt.dev/awake-replicas "+
			"or teams.buurt.dev/awake-suspend) and gets it back when the team wakes"), "the source stopped for the copy (wiki, whose replicas buurt declares, in its own apply)")
	g.Expect(eventNotes(g, "copy-source", teamsv1alpha1.WokeUpReason)).To(ContainElement(
		"Brought back 1 workload as they were: Deployment rota"))
	g.Expect(eventNotes(g, s.Name, "DatabaseCopied")).To(ConsistOf(MatchRegexp(`^Copied team copy-source's database \([0-9]+ MiB\) for team copy-new in [0-9]+s, ` +
		`with team copy-source's workloads stopped for [0-9]+s; they start again$`)))
}

// eventNotes are the notes of the Events of reason about the object of
// name.
func eventNotes(g Gomega, name, reason string) []string {
	events := &corev1.EventList{}
	g.Expect(env.Client.List(context.Background(), events, client.MatchingFields{"involvedObject.name": name})).To(Succeed())
	var notes []string
	for _, e := range events.Items {
		if e.Reason == reason {
			notes = append(notes, e.Message)
		}
	}
	return notes
}

// steps are the split's steps as name=state.
func steps(s *teamsv1alpha1.TeamSplit) []string {
	var out []string
	for _, step := range s.Status.Steps {
		out = append(out, string(step.Name)+"="+string(step.State))
	}
	return out
}

// connectTeam connects to the team's database as the team, with its
// Secret.
func connectTeam(g Gomega, team string) *pgx.Conn {
	secret := &corev1.Secret{}
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: "team-" + team, Name: team + "-db"}, secret)).To(Succeed())
	conn, err := pgx.Connect(context.Background(), string(secret.Data["uri"]))
	g.Expect(err).NotTo(HaveOccurred())
	return conn
}
