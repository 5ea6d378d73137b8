package team_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
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
	"github.com/buurt-dev/buurt/controllers/team"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
)

var (
	env        *testenv.Env
	pg         *testpg.Server
	reconciler *team.Reconciler
	// logs holds everything the manager logged, to search for secrets.
	logs syncBuffer
	// writes counts the mutating requests the manager sends.
	writes atomic.Int64
	// secretReads counts the manager's reads of Secrets in team
	// namespaces, by namespace.
	secretReads sync.Map
)

// secretReadsIn is how many times the manager read a Secret in namespace.
func secretReadsIn(namespace string) int64 {
	n, _ := secretReads.LoadOrStore(namespace, new(atomic.Int64))
	return n.(*atomic.Int64).Load()
}

const timeout = 30 * time.Second

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	pg, err = testpg.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = pg.Stop() }()
	ctrl.SetLogger(zap.New(zap.WriteTo(&logs), zap.UseDevMode(true)))

	// The manager runs with exactly the permissions an installation grants
	// it (config/rbac), so a missing RBAC marker fails these tests.
	if err := testenv.InstallOperatorRBAC(context.Background(), env.Client); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := testenv.OperatorManager(env.Config, func(req *http.Request) {
		switch req.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			writes.Add(1)
		case http.MethodGet:
			if namespace, name, ok := strings.Cut(strings.TrimPrefix(req.URL.Path, "/api/v1/namespaces/"), "/secrets/"); ok && name != "" {
				n, _ := secretReads.LoadOrStore(namespace, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	reconciler = team.NewReconciler(mgr, operatorNamespace)
	reconciler.ServerRetry = time.Second
	reconciler.ServerWatchInterval = time.Second
	reconciler.DatabaseSizeInterval = 2 * time.Second
	if err := reconciler.SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return testenv.RunWithManager(mgr, m)
}

// operatorNamespace is the operator's own namespace in these tests.
const operatorNamespace = testenv.OperatorNamespace

// syncBuffer is a buffer the manager's goroutines may write to at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// designBlueprint is the blueprint of DESIGN.md.
var designBlueprint = testenv.DesignBlueprint

func newTeam(name, blueprint string, members ...teamsv1alpha1.Subject) *teamsv1alpha1.NeighbourhoodTeam {
	return &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside",
			Blueprint:     blueprint,
			Members:       members,
		},
	}
}

func user(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: name}
}

func group(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindGroup, Name: name}
}

// create makes obj and deletes it when the test ends.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	NewWithT(t).Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
}

// eventuallyCondition waits until the team's condition has the status and
// reason, and returns the team as it then is.
func eventuallyCondition(t *testing.T, name, conditionType string, status metav1.ConditionStatus, reason string) *teamsv1alpha1.NeighbourhoodTeam {
	t.Helper()
	g := NewWithT(t)
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: name}, team)).To(Succeed())
		c := meta.FindStatusCondition(team.Status.Conditions, conditionType)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(status), c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
		g.Expect(c.ObservedGeneration).To(Equal(team.Generation))
	}).WithTimeout(timeout).Should(Succeed())
	return team
}

// cond is one of the team's conditions; the test fails when it is missing.
func cond(team *teamsv1alpha1.NeighbourhoodTeam, conditionType string) metav1.Condition {
	c := meta.FindStatusCondition(team.Status.Conditions, conditionType)
	if c == nil {
		return metav1.Condition{Type: conditionType, Reason: "Missing"}
	}
	return *c
}

// edit changes obj as change says with a merge patch, which does not conflict
// with the controller's status writes as an update would.
func edit(t *testing.T, obj client.Object, change func()) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	base := obj.DeepCopyObject().(client.Object)
	change()
	g.Expect(env.Client.Patch(context.Background(), obj, client.MergeFrom(base))).To(Succeed())
}
