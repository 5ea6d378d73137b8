// Package e2e runs buurt against a local cluster (kwok, with the control plane
// built from source): Deployments really become Available, the garbage
// collector really deletes, Pod Security and quota admission really run.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/operator"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// admin is a cluster admin's client of the local cluster.
var admin client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := setUp(m); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func setUp(m *testing.M) (err error) {
	ctx := context.Background()
	binDir := os.Getenv("KUBEBUILDER_ASSETS")
	if binDir == "" {
		return testenv.ErrNoAssets
	}
	workDir, err := os.MkdirTemp("", "buurt-e2e-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(workDir) }()
	cluster, err := localcluster.Create(ctx, localcluster.Options{Name: "e2e", BinDir: binDir, WorkDir: workDir, Nodes: 2})
	if err != nil {
		return err
	}
	failed := true
	defer func() {
		if failed {
			dir := filepath.Join(os.TempDir(), "buurt-test-logs", "e2e")
			if err := cluster.ExportLogs(context.Background(), dir); err == nil {
				fmt.Fprintf(os.Stderr, "the local cluster's logs are in %s\n", dir)
			}
		}
		if err := cluster.Delete(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "failed to delete the local cluster: %v\n", err)
		}
	}()
	cfg, err := cluster.Config()
	if err != nil {
		return err
	}
	if admin, err = client.New(cfg, client.Options{Scheme: testenv.Scheme}); err != nil {
		return err
	}
	if err := installCRDs(ctx); err != nil {
		return err
	}
	if err := testenv.InstallOperatorRBAC(ctx, admin); err != nil {
		return err
	}

	// The operator runs as its ServiceAccount would, with the permissions
	// config/rbac grants.
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	operatorCfg := rest.CopyConfig(cfg)
	operatorCfg.Impersonate = rest.ImpersonationConfig{UserName: testenv.OperatorUser}
	mgr, err := operator.NewManager(operatorCfg, testenv.OperatorNamespace, ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return err
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		return fmt.Errorf("the operator failed: %w", err)
	}
	if code != 0 {
		return fmt.Errorf("e2e tests failed")
	}
	failed = false
	return nil
}

// installCRDs creates buurt's CRDs and waits until the apiserver serves them.
func installCRDs(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil {
		return err
	}
	for _, file := range files {
		if err := testenv.CreateFromFile(ctx, admin, file); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		crds := &apiextensionsv1.CustomResourceDefinitionList{}
		if err := admin.List(ctx, crds); err != nil {
			return err
		}
		established := 0
		for _, crd := range crds.Items {
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					established++
				}
			}
		}
		if established == len(files) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("buurt's CRDs were not established within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
