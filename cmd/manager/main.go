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
	"path/filepath"
	"strings"
	_ "time/tzdata" // teams' sleep schedules name IANA time zones; the image may have no zoneinfo

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/buurt-dev/buurt/internal/operator"
	"github.com/buurt-dev/buurt/internal/webhook"
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
	webhooks                bool
	webhookHost             string
	webhookPort             int
	webhookCertSecret       string
	webhookCertDir          string
	webhookService          string
	webhookCertificates     string
	webhookDNSNames         string
	myTeamsAPIService       string
	kubeAPIQPS              float64
	kubeAPIBurst            int
	concurrency             int
	pprofAddr               string
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
	fs.Float64Var(&o.kubeAPIQPS, "kube-api-qps", -1,
		"Requests per second the operator may send the apiserver. Zero or less (the default) sets no limit in the "+
			"operator, whether it runs in a pod or from a kubeconfig, and leaves it to the apiserver's API Priority and Fairness.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 0,
		"Requests the operator may send at once above --kube-api-qps, when that is set.")
	fs.IntVar(&o.concurrency, "max-concurrent-reconciles", 4,
		"Teams reconciled at once: one waiting on a slow database server does not hold up the others.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "",
		"Address a Go pprof endpoint listens on, for profiling; empty (the default) turns it off.")
	fs.BoolVar(&o.webhooks, "enable-webhooks", true,
		"Serve the admission webhooks that keep teams within their blueprints and members to their own fields.")
	fs.StringVar(&o.webhookHost, "webhook-host", "", "Address the webhook server listens on; empty for all.")
	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "Port the webhook server listens on.")
	fs.StringVar(&o.webhookService, "webhook-service", "buurt-webhook-service",
		"Name of the Service in front of the webhooks; the certificate is for <service>.<namespace>.svc.")
	fs.StringVar(&o.webhookDNSNames, "webhook-dns-names", "",
		"More names for the self-issued webhook certificate, comma-separated (localhost for an operator outside the cluster).")
	fs.StringVar(&o.myTeamsAPIService, "my-teams-api-service", "",
		"The APIService of buurt-api (v1alpha1.my.buurt.dev), which serves the webhook certificate too: buurt injects "+
			"the CA into it. Its Service's name goes in --webhook-dns-names. Empty when buurt-api is not installed.")
	fs.StringVar(&o.webhookCertSecret, "webhook-cert-secret", "buurt-webhook-server-cert",
		"Secret in the operator's namespace that holds the webhook serving certificate (ca.crt, tls.crt, tls.key).")
	fs.StringVar(&o.webhookCertDir, "webhook-cert-dir", filepath.Join(os.TempDir(), "buurt-webhook-certs"),
		"A writable directory where the certificate is kept for the rotator.")
	fs.StringVar(&o.webhookCertificates, "webhook-certificates", "self",
		"Who issues the webhook certificate: \"self\" (buurt makes a CA and rotates the certificate, and injects the CA "+
			"into its webhook configuration) or \"cert-manager\" (cert-manager fills the Secret and injects the CA).")
	o.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q; see --help", fs.Args())
	}
	if o.concurrency < 1 {
		return nil, fmt.Errorf("--max-concurrent-reconciles must be at least 1, not %d", o.concurrency)
	}
	if o.webhookCertificates != "self" && o.webhookCertificates != "cert-manager" {
		return nil, fmt.Errorf("--webhook-certificates must be self or cert-manager, not %q", o.webhookCertificates)
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
	limitClient(cfg, o)
	mgr, err := newManager(ctx, cfg, o)
	if err != nil {
		return err
	}
	log.Info("Starting buurt", "namespace", o.namespace, "leaderElection", o.leaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("manager stopped: %w", err)
	}
	return nil
}

// The secure metrics endpoint asks the apiserver who a scraper is and
// whether it may GET /metrics.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func newManager(ctx context.Context, cfg *rest.Config, o *options) (ctrl.Manager, error) {
	metrics := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.metricsSecure}
	if o.metricsSecure {
		// Only a client the apiserver authenticates and authorizes for
		// GET /metrics may read them.
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	opts := ctrl.Options{
		Metrics:                       metrics,
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       o.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		PprofBindAddress:              o.pprofAddr,
	}
	var webhooks *webhook.Webhooks
	if o.webhooks {
		if err := os.MkdirAll(o.webhookCertDir, 0o700); err != nil { //nolint:gosec // a directory the operator is told to use
			return nil, fmt.Errorf("failed to make --webhook-cert-dir %s: %w", o.webhookCertDir, err)
		}
		webhooks = webhook.New(webhook.Options{
			Namespace: o.namespace, CertSecret: o.webhookCertSecret, CertDir: o.webhookCertDir,
			DNSNames:          dnsNames(o),
			ManageCertificate: o.webhookCertificates == "self",
			APIServices:       nonEmpty(o.myTeamsAPIService),
		})
		opts.WebhookServer = webhooks.Server(o.webhookHost, o.webhookPort)
	}
	mgr, err := operator.NewManager(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := setupControllers(mgr, o.namespace, o.concurrency); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("failed to add health check: %w", err)
	}
	ready := healthz.Checker(healthz.Ping)
	if webhooks != nil {
		if o.webhookCertificates == "self" {
			// The rotator fills this Secret; it only updates one.
			c, err := client.New(cfg, client.Options{})
			if err != nil {
				return nil, err
			}
			if err := webhook.EnsureCertSecret(ctx, c, o.namespace, o.webhookCertSecret, dnsNames(o)); err != nil {
				return nil, fmt.Errorf("%w; does namespace %s exist? (--namespace)", err, o.namespace)
			}
		}
		if err := webhooks.Setup(mgr); err != nil {
			return nil, err
		}
		ready = webhooks.Ready
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return nil, fmt.Errorf("failed to add readiness check: %w", err)
	}
	return mgr, nil
}

// dnsNames are the names the webhook certificate is for: the Service's first.
func dnsNames(o *options) []string {
	names := []string{o.webhookService + "." + o.namespace + ".svc"}
	for _, n := range strings.Split(o.webhookDNSNames, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// nonEmpty is s alone, or nothing when it is empty.
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
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

// limitClient sets the client's rate limit from the flags, the same however
// the configuration was found: client-go's own default for a kubeconfig (5
// requests per second) would make an operator started from one, as make dev
// and the tests start it, slower than the one a pod runs.
func limitClient(cfg *rest.Config, o *options) {
	cfg.QPS = float32(o.kubeAPIQPS)
	if o.kubeAPIQPS <= 0 {
		cfg.QPS = -1
	}
	cfg.Burst = o.kubeAPIBurst
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
