// Command manager runs the buurt operator: the controllers that turn
// NeighbourhoodTeams, Coaches and TeamBlueprints into team workspaces.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/buurt-dev/buurt/internal/operator"
)

// leaderElectionID names the Lease that HA replicas compete for.
const leaderElectionID = "buurt.teams.buurt.dev"

// options are the manager's command-line settings.
type options struct {
	kubeconfig              string
	metricsAddr             string
	metricsSecure           bool
	probeAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	namespace               string
	zap                     zap.Options
}

func main() {
	ctx := ctrl.SetupSignalHandler()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "buurt: %v\n", err)
			os.Exit(1)
		}
	}
}

func parseFlags(args []string, output io.Writer) (*options, error) {
	o := &options{zap: zap.Options{}}
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `buurt gives every small, self-managed team its own workspace: a namespace,
member access, quota, network isolation, a database and its apps, from
NeighbourhoodTeam, Coach and TeamBlueprint objects (group teams.buurt.dev).

Usage: manager [flags]

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.kubeconfig, "kubeconfig", "",
		"Path to a kubeconfig. Defaults to $KUBECONFIG, then the in-cluster ServiceAccount, then ~/.kube/config.")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443",
		"Address the Prometheus metrics endpoint listens on; \"0\" turns it off.")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", true,
		"Serve metrics over HTTPS, only to clients the apiserver authenticates and authorizes for GET /metrics.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081",
		"Address the /healthz and /readyz probes listen on.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"Elect a leader, so that only one of several replicas reconciles at a time. Turn it on with more than one replica.")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease. Defaults to the namespace the operator runs in.")
	fs.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", "buurt-system"),
		"The operator's own namespace; the only one it reads database admin Secrets from. Defaults to $POD_NAMESPACE.")
	o.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q; see --help", fs.Args())
	}
	return o, nil
}

func run(ctx context.Context, args []string, output io.Writer) error {
	o, err := parseFlags(args, output)
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap), zap.WriteTo(output)))
	log := ctrl.Log.WithName("setup")

	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	mgr, err := newManager(cfg, o)
	if err != nil {
		return err
	}
	log.Info("Starting buurt", "namespace", o.namespace, "leaderElection", o.leaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("manager stopped: %w", err)
	}
	return nil
}

func newManager(cfg *rest.Config, o *options) (ctrl.Manager, error) {
	metrics := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.metricsSecure}
	if o.metricsSecure {
		// Only a client the apiserver authenticates and authorizes for
		// GET /metrics may read them.
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := operator.NewManager(cfg, o.namespace, ctrl.Options{
		Metrics:                       metrics,
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       o.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add readiness check: %w", err)
	}
	return mgr, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := ctrl.GetConfig()
		if err != nil {
			return nil, fmt.Errorf("failed to find a cluster: set --kubeconfig or $KUBECONFIG, or run in a pod: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("failed to load kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
