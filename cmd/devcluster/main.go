// Command devcluster runs buurt for real on a local cluster, for `make dev`:
// a kwok cluster with fake nodes, a PostgreSQL server for Shared team
// databases, buurt's CRDs, RBAC and webhooks, the operator as a local process
// authenticating as its ServiceAccount, and the samples, waited on until
// Ready.
//
//	devcluster up --bin-dir DIR     create or reuse it all and run the operator until Ctrl-C
//	devcluster down --bin-dir DIR   delete the cluster and the database server
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/myapiprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
	"github.com/buurt-dev/buurt/internal/testpg"
	"github.com/buurt-dev/buurt/internal/webhook"
)

// clusterName is the one local cluster `make dev` uses.
const clusterName = "buurt-dev"

// webhookPort is where the local operator serves its webhooks, and
// myTeamsPort where buurt-api serves.
const (
	webhookPort = 9443
	myTeamsPort = 9444
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	binDir, workDir string
	nodes           int
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return fmt.Errorf("usage: devcluster up|down --bin-dir DIR [--work-dir DIR]")
	}
	fs := flag.NewFlagSet("devcluster "+args[0], flag.ContinueOnError)
	var o options
	fs.StringVar(&o.binDir, "bin-dir", os.Getenv("KUBEBUILDER_ASSETS"), "directory with the binaries `hack/tools.sh cluster` built")
	fs.StringVar(&o.workDir, "work-dir", defaultWorkDir(), "where the cluster's files live")
	fs.IntVar(&o.nodes, "nodes", 3, "number of fake nodes")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if args[0] == "down" {
		return down(ctx, o)
	}
	return up(ctx, o)
}

// pgDir is where the database server lives. It is under the temporary
// directory, which the postgres OS user can reach when this runs as root.
func pgDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("buurt-dev-postgres-%d", os.Getuid()))
}

func down(ctx context.Context, o options) error {
	c := localcluster.Existing(localcluster.Options{Name: clusterName, BinDir: o.binDir, WorkDir: o.workDir})
	if err := c.Delete(ctx); err != nil {
		return err
	}
	fmt.Printf("Deleted local cluster %s\n", clusterName)
	if err := testpg.StopPersistent(ctx, pgDir()); err != nil {
		return err
	}
	fmt.Println("Stopped and removed the PostgreSQL server")
	return nil
}

func up(ctx context.Context, o options) error {
	root := testenv.RepoRoot()
	step := func(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

	step("Starting local cluster %s with %d fake nodes (reused when it exists)", clusterName, o.nodes)
	cluster, err := localcluster.Create(ctx, localcluster.Options{Name: clusterName, BinDir: o.binDir, WorkDir: o.workDir, Nodes: o.nodes})
	if err != nil {
		return err
	}
	admin, err := cluster.Config()
	if err != nil {
		return err
	}
	c, err := client.New(admin, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		return err
	}

	step("Starting PostgreSQL for Shared team databases (reused when it runs)")
	pg, err := testpg.StartPersistent(ctx, pgDir())
	if err != nil {
		return err
	}

	step("Installing buurt's CRDs, RBAC and the operator's ServiceAccount")
	if err := localcluster.InstallCRDs(ctx, c, root); err != nil {
		return err
	}
	operatorCfg, err := localcluster.InstallOperator(ctx, c, admin, root, 24*time.Hour)
	if err != nil {
		return err
	}
	operatorKubeconfig := filepath.Join(o.workDir, "operator.kubeconfig")
	if err := localcluster.WriteKubeconfig(operatorCfg, operatorKubeconfig); err != nil {
		return err
	}
	if err := localcluster.ApplyAdminSecret(ctx, c, "buurt-postgres-admin", map[string]string{
		"host": pg.Host, "port": strconv.Itoa(pg.Port), "user": testpg.AdminUser, "password": pg.Password, "sslmode": "disable",
	}); err != nil {
		return err
	}
	// Unlike an installation, the webhooks let requests through while the
	// operator is stopped, so that the cluster stays usable after Ctrl-C.
	if err := localcluster.ApplyFile(ctx, c, filepath.Join(root, "config", "webhook", "manifests.yaml"),
		webhook.LocalConfiguration(webhookPort, true)); err != nil {
		return err
	}

	step("Building and starting the operator (its log: %s)", filepath.Join(o.workDir, "operator.log"))
	operator, stopped, err := startOperator(ctx, o.workDir, operatorKubeconfig)
	if err != nil {
		return err
	}
	defer func() {
		_ = operator.Process.Signal(syscall.SIGTERM)
		<-stopped
	}()

	step("Building and starting buurt-api, which serves kubectl get myteams (its log: %s)", filepath.Join(o.workDir, "buurt-api.log"))
	api, err := startMyTeamsAPI(ctx, c, admin, o.workDir)
	if err != nil {
		return err
	}
	defer api.Stop()
	// Unregistered when it stops, so that the cluster stays usable after
	// Ctrl-C: namespaces being deleted would wait for it.
	defer func() { _ = unregisterMyTeamsAPI(c) }()

	step("Applying the samples: blueprints, a coach and teams")
	for _, file := range []string{"teams_v1alpha1_teamblueprint.yaml", "teams_v1alpha1_teamblueprint_dedicated.yaml",
		"teams_v1alpha1_coach.yaml", "teams_v1alpha1_neighbourhoodteam.yaml"} {
		if err := applyWhenAdmitted(ctx, c, filepath.Join(root, "config", "samples", file)); err != nil {
			return err
		}
	}
	step("Waiting for the teams to be Ready")
	teams, ready := waitReady(ctx, c, 3*time.Minute)
	printTable(teams)
	if !ready {
		fmt.Printf("\nNot every team is Ready yet; `kubectl describe nt` says why, and the operator's log is %s\n",
			filepath.Join(o.workDir, "operator.log"))
	}
	kubectl := filepath.Join(o.binDir, "kubectl")
	fmt.Printf("\nExplore it with:\n  export KUBECONFIG=%s\n  %s get buurt\n  %s get myteams --as anna@care.example.org\n\n"+
		"The operator and buurt-api run until Ctrl-C; `make dev-down` removes cluster and database.\n",
		cluster.Kubeconfig(), kubectl, kubectl)
	select {
	case <-ctx.Done():
		fmt.Println("\nStopping the operator and buurt-api")
	case <-stopped:
		return fmt.Errorf("the operator stopped; see %s", filepath.Join(o.workDir, "operator.log"))
	case <-api.Done():
		return fmt.Errorf("buurt-api stopped; see %s", api.Log)
	}
	return nil
}

// startMyTeamsAPI builds buurt-api and runs it as a local process,
// registered as config/my-teams registers it, serving the operator's
// certificate.
func startMyTeamsAPI(ctx context.Context, c client.Client, admin *rest.Config, workDir string) (*myapiprocess.Process, error) {
	bin := filepath.Join(workDir, "bin", "buurt-api")
	if err := myapiprocess.Build(ctx, testenv.RepoRoot(), bin); err != nil {
		return nil, err
	}
	host, err := myapiprocess.HostAddress()
	if err != nil {
		return nil, err
	}
	if _, err := myapiprocess.Register(ctx, c, testenv.RepoRoot(), host, myTeamsPort); err != nil {
		return nil, err
	}
	if err := myapiprocess.WaitForCA(ctx, c, time.Minute); err != nil {
		return nil, err
	}
	return myapiprocess.Start(ctx, myapiprocess.Options{
		Bin: bin, Admin: admin, Dir: workDir, Host: host, Port: myTeamsPort, CertDir: filepath.Join(workDir, "webhook-certs"),
	})
}

// unregisterMyTeamsAPI deletes buurt-api's APIService.
func unregisterMyTeamsAPI(c client.Client) error {
	api := &unstructured.Unstructured{}
	api.SetAPIVersion("apiregistration.k8s.io/v1")
	api.SetKind("APIService")
	api.SetName(myapiprocess.APIService)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.IgnoreNotFound(c.Delete(ctx, api))
}

// startOperator builds and starts the operator; stopped is closed when it
// has exited.
func startOperator(ctx context.Context, workDir, kubeconfig string) (cmd *exec.Cmd, stopped <-chan struct{}, err error) {
	bin := filepath.Join(workDir, "bin", "manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/manager")
	build.Dir, build.Stdout, build.Stderr = testenv.RepoRoot(), os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return nil, nil, fmt.Errorf("failed to build the operator: %w", err)
	}
	log, err := os.Create(filepath.Join(workDir, "operator.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd = exec.Command(bin, "--kubeconfig", kubeconfig, "--namespace", localcluster.OperatorNamespace,
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0",
		"--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(webhookPort),
		"--webhook-dns-names", "localhost,"+myapiprocess.Service+"."+localcluster.OperatorNamespace+".svc",
		"--my-teams-api-service", myapiprocess.APIService,
		"--webhook-cert-dir", filepath.Join(workDir, "webhook-certs"), "--zap-devel")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("failed to start the operator: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(done)
	}()
	return cmd, done, nil
}

// applyWhenAdmitted applies a file, trying again while the operator's
// webhooks are starting.
func applyWhenAdmitted(ctx context.Context, c client.Client, path string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := localcluster.ApplyFile(ctx, c, path)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(time.Second)
	}
}

func waitReady(ctx context.Context, c client.Client, limit time.Duration) ([]teamsv1alpha1.NeighbourhoodTeam, bool) {
	deadline := time.Now().Add(limit)
	for {
		teams := &teamsv1alpha1.NeighbourhoodTeamList{}
		if err := c.List(ctx, teams); err == nil && len(teams.Items) > 0 {
			ready := true
			for _, t := range teams.Items {
				ready = ready && meta.IsStatusConditionTrue(t.Status.Conditions, teamsv1alpha1.ReadyCondition)
			}
			if ready || time.Now().After(deadline) || ctx.Err() != nil {
				return teams.Items, ready
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, false
		}
		time.Sleep(time.Second)
	}
}

func printTable(teams []teamsv1alpha1.NeighbourhoodTeam) {
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TEAM\tPHASE\tMEMBERS\tCOACH\tNAMESPACE\tDATABASE\tAPPS")
	for _, t := range teams {
		database := "-"
		if t.Status.Database != nil {
			database = string(t.Status.Database.Class) + " " + t.Status.Database.Name
		}
		available := 0
		for _, a := range t.Status.Apps {
			if a.AvailableReplicas >= a.DesiredReplicas {
				available++
			}
		}
		coach := t.Spec.Coach
		if coach == "" {
			coach = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%d/%d available\n", t.Name, t.Status.Phase, t.Status.MemberCount, coach,
			t.Status.Namespace, database, available, len(t.Status.Apps))
	}
	_ = w.Flush()
}

func defaultWorkDir() string {
	if dir := os.Getenv("XDG_DATA_HOME"); dir != "" {
		return filepath.Join(dir, "buurt", "dev")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "buurt", "dev")
}
