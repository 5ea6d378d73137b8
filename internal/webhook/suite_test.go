package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/testenv"
	buurtwebhook "github.com/buurt-dev/buurt/internal/webhook"
)

var (
	env *testenv.Env
	// certificates is what the cold start and the restart in TestMain saw.
	certificates struct {
		first, afterRestart *corev1.Secret
		caBundle            []byte
	}
)

const (
	timeout     = 30 * time.Second
	certSecret  = "buurt-webhook-server-cert" //nolint:gosec // a Secret's name
	serviceName = "buurt-webhook-service.buurt-system.svc"
	// platformEngineer is bound to buurt:platform-engineer.
	platformEngineer = "pia@region.example.org"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer func() {
		if env != nil {
			_ = env.Stop()
		}
		for _, dir := range certDirs {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := setUp(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	mgr, err := startOperator(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	if err := recordRestart(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// recordRestart waits for the restarted operator's webhook and records the
// certificate it serves with.
func recordRestart(ctx context.Context) error {
	if err := waitForWebhook(ctx); err != nil {
		return err
	}
	certificates.afterRestart = &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.OperatorNamespace, Name: certSecret}, certificates.afterRestart); err != nil {
		return err
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: buurtwebhook.ConfigurationName}, vwc); err != nil {
		return err
	}
	certificates.caBundle = vwc.Webhooks[0].ClientConfig.CABundle
	return nil
}

// certDirs are the operators' certificate directories, removed at the end.
var certDirs []string

// managers counts the operators started, to name their rotators apart.
var managers atomic.Int32

// webhookPort is where the operator's webhook server listens; the webhook
// configuration points the apiserver there.
var webhookPort int

func setUp() error {
	var err error
	if env, err = testenv.Start(); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	ctx := context.Background()
	if err := testenv.InstallOperatorRBAC(ctx, env.Client); err != nil {
		return err
	}
	if err := env.Client.Create(ctx, testenv.PlatformEngineerBinding("platform-engineers", platformEngineer)); err != nil {
		return err
	}
	// The policy that counts the members a platform engineer set, as an
	// installation ships it.
	if err := testenv.CreateFromFile(ctx, env.Client, filepath.Join(testenv.RepoRoot(), "config", "policies", "team-quota.yaml")); err != nil {
		return err
	}
	if webhookPort, err = freeport.Get(); err != nil {
		return err
	}
	if err := installWebhookConfiguration(ctx); err != nil {
		return err
	}

	// Cold start: the first manager makes the certificate; a second one,
	// with a fresh directory, must reuse what the first stored.
	first, err := startOperator(ctx)
	if err != nil {
		return err
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- first.Start(mgrCtx) }()
	if err := waitForWebhook(ctx); err != nil {
		cancel()
		return err
	}
	certificates.first = &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: testenv.OperatorNamespace, Name: certSecret}, certificates.first); err != nil {
		cancel()
		return err
	}
	cancel()
	if err := <-done; err != nil {
		return fmt.Errorf("the first operator failed: %w", err)
	}
	return nil
}

// installWebhookConfiguration installs config/webhook as a cluster would,
// but pointing at the local webhook server by URL, with no CA: the operator
// injects it.
func installWebhookConfiguration(ctx context.Context) error {
	f, err := os.Open(filepath.Join(testenv.RepoRoot(), "config", "webhook", "manifests.yaml"))
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(vwc); err != nil {
		return err
	}
	vwc.Name = buurtwebhook.ConfigurationName
	for i := range vwc.Webhooks {
		url := "https://localhost:" + strconv.Itoa(webhookPort) + *vwc.Webhooks[i].ClientConfig.Service.Path
		vwc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url}
	}
	return env.Client.Create(ctx, vwc)
}

// startOperator makes a manager as the operator runs, acting as its
// ServiceAccount, with the team controller and the webhooks.
func startOperator(ctx context.Context) (ctrl.Manager, error) {
	certDir, err := os.MkdirTemp("", "buurt-webhook-certs-")
	if err != nil {
		return nil, err
	}
	certDirs = append(certDirs, certDir)
	webhooks := buurtwebhook.New(buurtwebhook.Options{
		Namespace: testenv.OperatorNamespace, CertSecret: certSecret, CertDir: certDir,
		DNSNames: []string{serviceName, "localhost"}, ManageCertificate: true,
		RotatorName: fmt.Sprintf("cert-rotator-%d", managers.Add(1)),
	})
	mgr, err := testenv.OperatorManager(env.Config, nil, func(o *ctrl.Options) {
		o.WebhookServer = webhooks.Server("127.0.0.1", webhookPort)
		// Two operators run one after the other in this process.
		o.Controller.SkipNameValidation = ptr.To(true)
	})
	if err != nil {
		return nil, err
	}
	if err := buurtwebhook.EnsureCertSecret(ctx, env.Client, testenv.OperatorNamespace, certSecret, []string{serviceName, "localhost"}); err != nil {
		return nil, err
	}
	return mgr, webhooks.Setup(mgr)
}

// waitForWebhook waits until the apiserver reaches the webhook: a dry-run
// create of a team whose blueprint does not exist comes back with the
// webhook's warning.
func waitForWebhook(ctx context.Context) error {
	c, warnings, err := clientAs("", nil)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		probe := newTeam("webhook-probe", "no-such-blueprint", user("anna"))
		err := c.Create(ctx, probe, client.DryRunAll)
		if err == nil && len(warnings.all()) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(errors.New("the apiserver did not reach the webhook within a minute"), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// warnings collects the warnings the apiserver sends a client.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...)
}

// clientAs is a client acting as user in groups (the admin when user is
// empty), and the warnings it receives.
func clientAs(user string, groups []string) (client.Client, *warnings, error) {
	cfg := rest.CopyConfig(env.Config)
	if user != "" {
		cfg = testenv.ConfigAs(env.Config, user, groups...)
	}
	w := &warnings{}
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	return c, w, err
}

func user(name string) teamsv1alpha1.Subject {
	return teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: name}
}

func newTeam(name, blueprint string, members ...teamsv1alpha1.Subject) *teamsv1alpha1.NeighbourhoodTeam {
	return &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       teamsv1alpha1.NeighbourhoodTeamSpec{Neighbourhood: "riverside", Blueprint: blueprint, Members: members},
	}
}
