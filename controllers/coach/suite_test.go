package coach_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/controllers/coach"
	"github.com/buurt-dev/buurt/controllers/team"
	"github.com/buurt-dev/buurt/internal/testenv"
)

var (
	env        *testenv.Env
	reconciler *coach.Reconciler
	// requests counts every request the manager sends, but the server
	// watch's reads of admin Secrets.
	requests atomic.Int64
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
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	if err := testenv.InstallOperatorRBAC(context.Background(), env.Client); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The manager runs with exactly the permissions config/rbac grants.
	mgr, err := testenv.OperatorManager(env.Config, func(req *http.Request) {
		// The team controller's server watch reads the shared servers' admin
		// Secrets on its own timer, whatever the coaches do.
		if req.Method == http.MethodGet && strings.HasPrefix(req.URL.Path, "/api/v1/namespaces/"+testenv.OperatorNamespace+"/secrets/") {
			return
		}
		requests.Add(1)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Teams need their namespaces, which the team controller makes.
	reconciler = coach.NewReconciler(mgr)
	if err := team.NewReconciler(mgr, testenv.OperatorNamespace).SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := reconciler.SetupWithManager(mgr); err != nil {
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

func edit(t *testing.T, obj client.Object, change func()) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	base := obj.DeepCopyObject().(client.Object)
	change()
	g.Expect(env.Client.Patch(context.Background(), obj, client.MergeFrom(base))).To(Succeed())
}

func newCoach(name, subject string, maxTeams int32) *teamsv1alpha1.Coach {
	return &teamsv1alpha1.Coach{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: teamsv1alpha1.CoachSpec{
			Subject: teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: subject}, MaxTeams: maxTeams,
		},
	}
}

func newTeam(name, blueprint, coachName string) *teamsv1alpha1.NeighbourhoodTeam {
	return &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside", Blueprint: blueprint, Coach: coachName,
			Members: []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna@care.example.org"}},
		},
	}
}

// eventuallyTeamCondition waits for a team's condition and returns its message.
func eventuallyTeamCondition(t *testing.T, name, conditionType string, status metav1.ConditionStatus, reason string) string {
	t.Helper()
	var message string
	NewWithT(t).Eventually(func(g Gomega) {
		tm := &teamsv1alpha1.NeighbourhoodTeam{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: name}, tm)).To(Succeed())
		c := meta.FindStatusCondition(tm.Status.Conditions, conditionType)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(status), c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
		message = c.Message
	}).WithTimeout(timeout).Should(Succeed())
	return message
}

// eventuallyCoach waits until check holds for the coach and returns it.
func eventuallyCoach(t *testing.T, name string, check func(Gomega, *teamsv1alpha1.Coach)) *teamsv1alpha1.Coach {
	t.Helper()
	c := &teamsv1alpha1.Coach{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: name}, c)).To(Succeed())
		check(g, c)
	}).WithTimeout(timeout).Should(Succeed())
	return c
}
