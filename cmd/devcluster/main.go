// Command devcluster creates, or starts again, the local cluster behind
// `make dev`: a kwok cluster with fake nodes, buurt's CRDs and the samples.
//
//	devcluster up --bin-dir DIR     create or reuse the cluster, install CRDs and samples
//	devcluster down --bin-dir DIR   delete the cluster
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"

	"github.com/buurt-dev/buurt/internal/localcluster"
)

// clusterName is the one local cluster `make dev` uses.
const clusterName = "buurt-dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "devcluster: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "up" && args[0] != "down") {
		return fmt.Errorf("usage: devcluster up|down --bin-dir DIR [--work-dir DIR]")
	}
	fs := flag.NewFlagSet("devcluster "+args[0], flag.ContinueOnError)
	binDir := fs.String("bin-dir", os.Getenv("KUBEBUILDER_ASSETS"), "directory with the binaries `hack/tools.sh cluster` built")
	workDir := fs.String("work-dir", defaultWorkDir(), "where the cluster's files live")
	nodes := fs.Int("nodes", 3, "number of fake nodes")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := localcluster.Options{Name: clusterName, BinDir: *binDir, WorkDir: *workDir, Nodes: *nodes}

	if args[0] == "down" {
		c := localcluster.Existing(opts)
		if err := c.Delete(ctx); err != nil {
			return err
		}
		fmt.Printf("Deleted local cluster %s\n", clusterName)
		return nil
	}

	fmt.Printf("Starting local cluster %s with %d fake nodes\n", clusterName, *nodes)
	c, err := localcluster.Create(ctx, opts)
	if err != nil {
		return err
	}
	kubectl := func(args ...string) error {
		cmd := exec.CommandContext(ctx, filepath.Join(*binDir, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig()}, args...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("kubectl %v: %w", args, err)
		}
		return nil
	}
	fmt.Println("Installing buurt's CRDs")
	if err := kubectl("apply", "--server-side", "-f", "config/crd/bases"); err != nil {
		return err
	}
	if err := kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", "config/crd/bases"); err != nil {
		return err
	}
	fmt.Println("Installing the roles buurt binds for members and coaches")
	if err := kubectl("apply", "--server-side", "-f", "config/rbac/team_roles.yaml"); err != nil {
		return err
	}
	fmt.Println("Applying the samples")
	if err := kubectl("apply", "--server-side", "-k", "config/samples"); err != nil {
		return err
	}
	fmt.Printf("\nLocal cluster ready. Explore it with:\n  export KUBECONFIG=%s\n  %s get buurt\n\n",
		c.Kubeconfig(), filepath.Join(*binDir, "kubectl"))
	return nil
}

func defaultWorkDir() string {
	if dir := os.Getenv("XDG_DATA_HOME"); dir != "" {
		return filepath.Join(dir, "buurt", "dev")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "buurt", "dev")
}
