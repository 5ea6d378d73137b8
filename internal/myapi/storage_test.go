package myapi_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	authuser "k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/myapi"
	"github.com/buurt-dev/buurt/internal/testenv"
)

var (
	env     *testenv.Env
	storage *myapi.TeamStorage
)

// platformEngineers may list every team, as the authorizer would say.
var platformEngineers = map[string]bool{"pia@region.example.org": true}

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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := cache.New(env.Config, cache.Options{Scheme: testenv.Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = c.Start(ctx) }()
	for _, obj := range []client.Object{&teamsv1alpha1.NeighbourhoodTeam{}, &teamsv1alpha1.Coach{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	c.WaitForCacheSync(ctx)
	storage = myapi.NewTeamStorage(c, c, func(_ context.Context, who authuser.Info) (bool, error) {
		return platformEngineers[who.GetName()], nil
	})
	return m.Run()
}

func as(name string, groups ...string) context.Context {
	return genericapirequest.WithUser(context.Background(), &authuser.DefaultInfo{Name: name, Groups: groups})
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	NewWithT(t).Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
}

func team(name string, members ...teamsv1alpha1.Subject) *teamsv1alpha1.NeighbourhoodTeam {
	return &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{Neighbourhood: "riverside", Members: members}}
}

func user(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: name}
}

func group(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindGroup, Name: name}
}

// listed is what List returns to ctx's user: team name → role.
func listed(g Gomega, ctx context.Context) map[string]myv1alpha1.Role {
	obj, err := storage.List(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	out := map[string]myv1alpha1.Role{}
	for _, t := range obj.(*myv1alpha1.TeamList).Items {
		out[t.Name] = t.Status.Role
	}
	return out
}

func TestEachSeesTheirOwnTeams(t *testing.T) {
	g := NewWithT(t)
	create(t, team("north-riverside", user("anna@care.example.org"), user("bram@care.example.org")))
	create(t, team("north-hillside", group("hillside-nurses")))
	create(t, team("south-harbour", user("cor@care.example.org")))
	jan := &teamsv1alpha1.Coach{ObjectMeta: metav1.ObjectMeta{Name: "jan"},
		Spec: teamsv1alpha1.CoachSpec{Subject: user("jan@care.example.org"), MaxTeams: 5}}
	create(t, jan)
	jan.Status.Teams = []string{"north-riverside", "south-harbour"}
	g.Expect(env.Client.Status().Update(context.Background(), jan)).To(Succeed())

	anna := as("anna@care.example.org", "hillside-nurses", "system:authenticated")
	g.Eventually(func(g Gomega) map[string]myv1alpha1.Role { return listed(g, anna) }).WithTimeout(10 * time.Second).Should(Equal(
		map[string]myv1alpha1.Role{"north-riverside": myv1alpha1.RoleMember, "north-hillside": myv1alpha1.RoleMember}))
	g.Eventually(func(g Gomega) map[string]myv1alpha1.Role { return listed(g, as("jan@care.example.org")) }).WithTimeout(10 * time.Second).Should(Equal(
		map[string]myv1alpha1.Role{"north-riverside": myv1alpha1.RoleCoach, "south-harbour": myv1alpha1.RoleCoach}))
	g.Expect(listed(g, as("pia@region.example.org"))).To(Equal(map[string]myv1alpha1.Role{
		"north-riverside": myv1alpha1.RolePlatformEngineer, "north-hillside": myv1alpha1.RolePlatformEngineer,
		"south-harbour": myv1alpha1.RolePlatformEngineer}))
	g.Expect(listed(g, as("piet@care.example.org", "system:authenticated"))).To(BeEmpty(), "in no team: an empty list, not an error")

	// Get: one's own team, with one's part; any other is NotFound.
	got, err := storage.Get(as("jan@care.example.org"), "south-harbour", nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.(*myv1alpha1.Team).Status).To(Equal(myv1alpha1.TeamStatus{
		Role: myv1alpha1.RoleCoach, Coaches: []string{"jan"}, Neighbourhood: "riverside", MemberCount: 1, Lifecycle: string(teamsv1alpha1.LifecycleActive),
	}))
	_, err = storage.Get(anna, "south-harbour", nil)
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(Equal(`teams.my.buurt.dev "south-harbour" not found`))
	_, err = storage.Get(anna, "no-such-team", nil)
	g.Expect(err.Error()).To(Equal(`teams.my.buurt.dev "no-such-team" not found`), "a team that is not there looks the same")

	// A table for kubectl.
	list, err := storage.List(anna, nil)
	g.Expect(err).NotTo(HaveOccurred())
	table, err := storage.ConvertToTable(anna, list, nil)
	g.Expect(err).NotTo(HaveOccurred())
	var rows [][]any
	for _, r := range table.Rows {
		g.Expect(r.Cells[7]).To(MatchRegexp(`^[0-9]+s$`), "age")
		rows = append(rows, append(r.Cells[:7:7], r.Cells[8:]...))
	}
	g.Expect(rows).To(Equal([][]any{
		{"north-hillside", "Member", "<none>", "<none>", "<none>", "<none>", int64(1), "riverside", "<none>"},
		{"north-riverside", "Member", "<none>", "<none>", "<none>", "<none>", int64(2), "riverside", "<none>"},
	}))
}

func TestWatchDeliversANewMembership(t *testing.T) {
	g := NewWithT(t)
	create(t, team("west-dunes", user("dirk@care.example.org")))
	mine := team("west-polder", user("els@care.example.org"))
	create(t, mine)
	dirk := as("dirk@care.example.org")
	g.Eventually(func(g Gomega) map[string]myv1alpha1.Role { return listed(g, dirk) }).WithTimeout(10 * time.Second).Should(HaveLen(1))

	ctx, cancel := context.WithCancel(dirk)
	defer cancel()
	w, err := storage.Watch(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	defer w.Stop()
	next := func() (watch.EventType, string, myv1alpha1.Role) {
		select {
		case e := <-w.ResultChan():
			t := e.Object.(*myv1alpha1.Team)
			return e.Type, t.Name, t.Status.Role
		case <-time.After(10 * time.Second):
			return "", "", ""
		}
	}
	type event struct {
		Type watch.EventType
		Name string
		Role myv1alpha1.Role
	}
	read := func() event { e, n, r := next(); return event{e, n, r} }
	g.Expect(read()).To(Equal(event{watch.Added, "west-dunes", myv1alpha1.RoleMember}))

	// Dirk joins west-polder: ADDED; leaves it: DELETED.
	base := mine.DeepCopy()
	mine.Spec.Members = append(mine.Spec.Members, user("dirk@care.example.org"))
	g.Expect(env.Client.Patch(context.Background(), mine, client.MergeFrom(base))).To(Succeed())
	g.Expect(read()).To(Equal(event{watch.Added, "west-polder", myv1alpha1.RoleMember}))
	base = mine.DeepCopy()
	mine.Spec.Members = mine.Spec.Members[:1]
	g.Expect(env.Client.Patch(context.Background(), mine, client.MergeFrom(base))).To(Succeed())
	g.Expect(read()).To(Equal(event{watch.Deleted, "west-polder", ""}))
}

func TestWatchAsACoach(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	create(t, team("coached-one", user("femke@care.example.org")))
	create(t, team("coached-two", user("gijs@care.example.org")))
	coach := &teamsv1alpha1.Coach{ObjectMeta: metav1.ObjectMeta{Name: "hanna"},
		Spec: teamsv1alpha1.CoachSpec{Subject: group("coaches-west"), MaxTeams: 5}}
	create(t, coach)
	coach.Status.Teams = []string{"coached-one"}
	g.Expect(env.Client.Status().Update(ctx, coach)).To(Succeed())
	hanna := as("hanna@care.example.org", "coaches-west")
	g.Eventually(func(g Gomega) map[string]myv1alpha1.Role { return listed(g, hanna) }).WithTimeout(10 * time.Second).Should(HaveLen(1))

	w, err := storage.Watch(hanna, nil)
	g.Expect(err).NotTo(HaveOccurred())
	defer w.Stop()
	next := func() string {
		select {
		case e := <-w.ResultChan():
			tm := e.Object.(*myv1alpha1.Team)
			return fmt.Sprintf("%s %s %s %v", e.Type, tm.Name, tm.Status.Role, tm.Status.Coaches)
		case <-time.After(10 * time.Second):
			return "nothing within 10 s"
		}
	}
	g.Expect(next()).To(Equal("ADDED coached-one Coach [hanna]"))
	// The coach takes on a second team: it appears; gives up the first: it goes.
	coach.Status.Teams = []string{"coached-one", "coached-two"}
	g.Expect(env.Client.Status().Update(ctx, coach)).To(Succeed())
	g.Expect(next()).To(Equal("ADDED coached-two Coach [hanna]"))
	coach.Status.Teams = []string{"coached-two"}
	g.Expect(env.Client.Status().Update(ctx, coach)).To(Succeed())
	g.Expect(next()).To(Equal("DELETED coached-one  []"))
}
