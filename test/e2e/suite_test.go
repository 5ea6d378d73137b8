//go:build e2e

// Package e2e runs buurt against a local cluster (kwok, with the control plane
// built from source): Deployments really become Available, the garbage
// collector and the namespace controller really delete, Pod Security and
// quota admission really run. The operator is the real binary, running as
// its ServiceAccount with a token from the TokenRequest API, so it has
// exactly the permissions an installation grants; its webhooks are called by
// the apiserver; Shared databases live on a throwaway PostgreSQL server. It
// reaches the apiserver through a counting proxy, so that a test can count
// what the operator sends.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

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

var (
	// admin is a cluster admin's client of the local cluster.
	admin client.Client
	// adminConfig is its configuration, from which a test impersonates
	// others (as).
	adminConfig *rest.Config
	// adminKubeconfig is the cluster admin's kubeconfig, for kubectl (the
	// commands the docs show).
	adminKubeconfig string
	// pg is the shared database server of the Shared blueprints.
	pg *testpg.Server
	// operator is the running operator process.
	operator *operatorprocess.Process
	// operatorBin is the operator built from this checkout.
	operatorBin string
	// operatorDir holds the operator's kubeconfig, log and certificate.
	operatorDir string
	// operatorProxy counts the requests the operator sends to the
	// apiserver, and only those.
	operatorProxy *countingproxy.Proxy
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	code, err := setUpAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}

func setUpAndRun(m *testing.M) (code int, err error) {
	ctx := context.Background()
	// The tests' clients log nothing worth reading; the operator's log is
	// kept (keepLogs).
	ctrllog.SetLogger(logr.Discard())
	binDir := os.Getenv("KUBEBUILDER_ASSETS")
	if binDir == "" {
		return 0, testenv.ErrNoAssets
	}
	workDir, err := os.MkdirTemp("", "buurt-e2e-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(workDir) }()
	fmt.Fprintln(os.Stderr, "e2e: starting a local cluster, PostgreSQL and the operator")
	cluster, err := localcluster.Create(ctx, localcluster.Options{Name: "e2e", BinDir: binDir, WorkDir: workDir, Nodes: 3})
	if err != nil {
		return 0, err
	}
	defer func() {
		if code != 0 || err != nil {
			keepLogs(cluster, workDir)
		}
		if derr := cluster.Delete(context.Background()); derr != nil {
			fmt.Fprintf(os.Stderr, "failed to delete the local cluster: %v\n", derr)
		}
	}()
	if pg, err = testpg.Start(ctx); err != nil {
		return 0, err
	}
	defer func() { _ = pg.Stop() }()

	cfg, err := cluster.Config()
	if err != nil {
		return 0, err
	}
	adminConfig = cfg
	adminKubeconfig = cluster.Kubeconfig()
	if admin, err = client.New(cfg, client.Options{Scheme: testenv.Scheme}); err != nil {
		return 0, err
	}
	adminConfig = cfg
	root := testenv.RepoRoot()
	if err := localcluster.InstallCRDs(ctx, admin, root); err != nil {
		return 0, err
	}
	operatorCfg, err := localcluster.InstallOperator(ctx, admin, cfg, root, 2*time.Hour)
	if err != nil {
		return 0, err
	}
	if err := localcluster.ApplyAdminSecret(ctx, admin, "pg-admin", map[string]string{
		"host": pg.Host, "port": strconv.Itoa(pg.Port), "user": testpg.AdminUser, "password": pg.Password, "sslmode": "disable",
	}); err != nil {
		return 0, err
	}
	port, err := freeport.Get()
	if err != nil {
		return 0, err
	}
	if err := localcluster.ApplyFile(ctx, admin, filepath.Join(root, "config", "webhook", "manifests.yaml"),
		webhook.LocalConfiguration(port, false)); err != nil {
		return 0, err
	}
	operatorBin = filepath.Join(workDir, "manager")
	operatorDir = workDir
	if err := operatorprocess.Build(ctx, operatorBin); err != nil {
		return 0, err
	}
	if operatorProxy, err = countingproxy.Start(operatorCfg, countingproxy.Options{}); err != nil {
		return 0, err
	}
	defer operatorProxy.Close()
	operator, err = operatorprocess.New(operatorprocess.Options{
		Bin: operatorBin, Config: operatorProxy.ClientConfig(operatorCfg), Dir: workDir, WebhookPort: port, MyTeamsAPI: true,
	})
	if err != nil {
		return 0, err
	}
	if err := operator.Start(); err != nil {
		return 0, err
	}
	defer operator.Stop()
	if err := operatorprocess.WaitForWebhooks(ctx, admin); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// keepLogs copies the cluster's and the operator's logs where a failure can
// be read afterwards.
func keepLogs(cluster *localcluster.Cluster, workDir string) {
	dir := filepath.Join(os.TempDir(), "buurt-test-logs", "e2e-"+time.Now().Format("20060102-150405"))
	if err := cluster.ExportLogs(context.Background(), dir); err != nil {
		fmt.Fprintf(os.Stderr, "could not keep the cluster's logs: %v\n", err)
	}
	if data, err := os.ReadFile(filepath.Join(workDir, "operator.log")); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "operator.log"), data, 0o600)
	}
	fmt.Fprintf(os.Stderr, "the local cluster's and the operator's logs are in %s\n", dir)
}
