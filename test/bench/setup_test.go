//go:build bench

package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/buurt-dev/buurt/internal/countingproxy"
	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/operatorprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
	"github.com/buurt-dev/buurt/internal/webhook"
)

// clusterName names the local cluster; `pgrep -f buurt-bench` finds what a
// run left behind, since every path of the run contains it.
const clusterName = "buurt-bench"

// adminSecretName is the Secret with the shared server's admin connection.
const adminSecretName = "pg-admin"

// floorServiceAccount is who the floor's client acts as: a ServiceAccount
// with cluster-admin, so that its requests authenticate with a bearer token,
// which the counting proxy passes on, like the operator's.
const floorServiceAccount = "buurt-bench-floor"

// tokenTTL is how long the operator's and the floor's tokens are valid:
// longer than any run.
const tokenTTL = 24 * time.Hour

// env is what the benchmark runs on: the local cluster, PostgreSQL, the
// counting proxies and the operator binary, ready to start.
type env struct {
	workDir string
	cluster *localcluster.Cluster
	pg      *testpg.Server
	// admin reaches the apiserver directly as the cluster's admin, without a
	// rate limit: the benchmark's own requests (creating teams, watching
	// them) do not pass the proxies and are not counted.
	admin       client.Client
	adminConfig *rest.Config
	// operatorProxy counts the operator's requests, floorProxy the floor's.
	operatorProxy, floorProxy *countingproxy.Proxy
	// floorConfig is the floor's client configuration, through floorProxy.
	floorConfig *rest.Config
	operator    *operatorprocess.Process
	// cleanups undo the set-up, last first.
	cleanups []func()
}

// nodesFor is how many fake nodes hold the pods of teams: kwok's nodes
// take 110 pods each, and the steady phase adds about a quarter more teams
// to the burst's.
func nodesFor(teams, appsPerTeam int) int {
	return max(3, int(math.Ceil(1.5*float64(teams*appsPerTeam)/110))+1)
}

// setUp starts the local cluster and PostgreSQL, installs buurt as an
// installation would (CRDs, RBAC, policies, webhook configuration), builds
// the operator and puts a counting proxy in front of the apiserver for it
// and one for the floor. The operator is not started: the floor runs first.
func setUp(ctx context.Context, p params) (e *env, err error) {
	binDir := os.Getenv("KUBEBUILDER_ASSETS")
	if binDir == "" {
		return nil, testenv.ErrNoAssets
	}
	e = &env{}
	defer func() {
		if err != nil {
			e.tearDown(true)
		}
	}()
	if e.workDir, err = os.MkdirTemp("", clusterName+"-"); err != nil {
		return e, err
	}
	e.cleanups = append(e.cleanups, func() { _ = os.RemoveAll(e.workDir) })

	nodes := nodesFor(p.teams, p.apps)
	say("set-up: a local cluster with %d fake nodes, PostgreSQL and the operator's build (about a minute)", nodes)
	e.cluster, err = localcluster.Create(ctx, localcluster.Options{Name: clusterName, BinDir: binDir, WorkDir: e.workDir, Nodes: nodes})
	if err != nil {
		return e, err
	}
	e.cleanups = append(e.cleanups, func() {
		if err := e.cluster.Delete(context.Background()); err != nil {
			say("failed to delete the local cluster; stop its processes with `pgrep -af %s`: %v", clusterName, err)
		}
	})
	if e.pg, err = testpg.Start(ctx); err != nil {
		return e, err
	}
	e.cleanups = append(e.cleanups, func() { _ = e.pg.Stop() })

	if e.adminConfig, err = e.cluster.Config(); err != nil {
		return e, err
	}
	unlimited(e.adminConfig)
	if e.admin, err = client.New(e.adminConfig, client.Options{Scheme: testenv.Scheme}); err != nil {
		return e, err
	}
	root := testenv.RepoRoot()
	if err := localcluster.InstallCRDs(ctx, e.admin, root); err != nil {
		return e, err
	}
	operatorConfig, err := localcluster.InstallOperator(ctx, e.admin, e.adminConfig, root, tokenTTL)
	if err != nil {
		return e, err
	}
	if err := localcluster.ApplyAdminSecret(ctx, e.admin, adminSecretName, map[string]string{
		"host": e.pg.Host, "port": strconv.Itoa(e.pg.Port), "user": testpg.AdminUser, "password": e.pg.Password, "sslmode": "disable",
	}); err != nil {
		return e, err
	}

	proxyOptions := countingproxy.Options{Anonymous: benchTeam}
	if e.operatorProxy, err = countingproxy.Start(operatorConfig, proxyOptions); err != nil {
		return e, err
	}
	e.cleanups = append(e.cleanups, e.operatorProxy.Close)
	if e.floorProxy, err = countingproxy.Start(operatorConfig, proxyOptions); err != nil {
		return e, err
	}
	e.cleanups = append(e.cleanups, e.floorProxy.Close)
	if e.floorConfig, err = e.floorClientConfig(ctx); err != nil {
		return e, err
	}

	webhookPort, err := freeport.Get()
	if err != nil {
		return e, err
	}
	if err := localcluster.ApplyFile(ctx, e.admin, filepath.Join(root, "config", "webhook", "manifests.yaml"),
		webhook.LocalConfiguration(webhookPort, false)); err != nil {
		return e, err
	}
	// The operator is as a pod would run it: its ServiceAccount's token,
	// the default client settings, its webhooks called by the apiserver;
	// only the address of the apiserver is the counting proxy's.
	bin := filepath.Join(e.workDir, "manager")
	if err := operatorprocess.Build(ctx, bin); err != nil {
		return e, err
	}
	if e.operator, err = operatorprocess.New(operatorprocess.Options{
		Bin: bin, Config: e.operatorProxy.ClientConfig(operatorConfig), Dir: e.workDir, WebhookPort: webhookPort, Profiles: true,
		MyTeamsAPI: true,
	}); err != nil {
		return e, err
	}
	e.cleanups = append(e.cleanups, e.operator.Stop)
	return e, nil
}

// benchTeam is true for the name of one of the benchmark's teams, buurt's
// or the floor's, or of a namespace or an object of one: the proxies count
// their requests under placeholders, so that a thousand teams' requests
// add up to a few kinds.
func benchTeam(name string) bool {
	return strings.Contains(name, buurtTeamPrefix) || strings.Contains(name, floorTeamPrefix)
}

// unlimited lifts client-go's default rate limit of a kubeconfig (5
// requests per second), as the operator does: neither the floor nor the
// benchmark's own client may be the bottleneck.
func unlimited(cfg *rest.Config) {
	cfg.QPS = -1
	cfg.Burst = 0
}

// floorClientConfig makes the floor's ServiceAccount, a cluster admin, and
// returns a configuration that reaches the apiserver as it through
// floorProxy.
func (e *env) floorClientConfig(ctx context.Context) (*rest.Config, error) {
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: localcluster.OperatorNamespace, Name: floorServiceAccount}},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: floorServiceAccount},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{
				Kind: rbacv1.ServiceAccountKind, Namespace: localcluster.OperatorNamespace, Name: floorServiceAccount,
			}},
		},
	} {
		if err := e.admin.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("failed to make the floor's identity: %w", err)
		}
	}
	cfg, err := localcluster.ServiceAccountConfig(ctx, e.adminConfig, localcluster.OperatorNamespace, floorServiceAccount, tokenTTL)
	if err != nil {
		return nil, err
	}
	cfg = e.floorProxy.ClientConfig(cfg)
	unlimited(cfg)
	return cfg, nil
}

// tearDown stops everything setUp started, last first. With keepLogs, the
// cluster's and the operator's logs are copied where they can be read
// afterwards.
func (e *env) tearDown(keepLogs bool) {
	if keepLogs && e.cluster != nil {
		dir := filepath.Join(os.TempDir(), "buurt-test-logs", "bench-"+time.Now().Format("20060102-150405"))
		if err := e.cluster.ExportLogs(context.Background(), dir); err != nil {
			say("could not keep the cluster's logs: %v", err)
		}
		if e.operator != nil {
			if data, err := os.ReadFile(e.operator.Log()); err == nil {
				_ = os.WriteFile(filepath.Join(dir, "operator.log"), data, 0o600) //nolint:gosec // a directory of this run's own
			}
		}
		say("the local cluster's and the operator's logs are in %s", dir)
	}
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}
