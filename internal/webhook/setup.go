package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/teamevents"
)

// ConfigurationName is the ValidatingWebhookConfiguration that points the
// apiserver at buurt's webhooks (config/webhook, with kustomize's buurt-
// prefix); buurt injects its CA into it when it manages its certificate.
const ConfigurationName = "buurt-validating-webhook-configuration"

// Options say how the webhooks serve.
type Options struct {
	// Namespace is the operator's namespace, where the certificate Secret is.
	Namespace string
	// CertSecret is the Secret that holds the CA and serving certificate.
	CertSecret string
	// CertDir is where the webhook server reads tls.crt and tls.key.
	CertDir string
	// DNSNames are the names the certificate is for; the first is the
	// webhook Service's, <service>.<namespace>.svc.
	DNSNames []string
	// ManageCertificate makes buurt create and rotate a self-signed CA and
	// serving certificate and inject the CA into ConfigurationName. Off when
	// cert-manager provides the certificate and injects the CA.
	ManageCertificate bool
	// RotatorName names the certificate rotator's controller; empty is its
	// default. Two managers in one process (tests) need two names.
	RotatorName string
	// APIServices are the APIServices (v1alpha1.my.buurt.dev, buurt-api's)
	// the CA is injected into too, when buurt manages its certificate:
	// buurt-api serves the same certificate, which names its Service too
	// (DNSNames).
	APIServices []string
}

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=update,resourceNames=buurt-validating-webhook-configuration
// +kubebuilder:rbac:groups=apiregistration.k8s.io,resources=apiservices,verbs=get;list;watch
// +kubebuilder:rbac:groups=apiregistration.k8s.io,resources=apiservices,verbs=update,resourceNames=v1alpha1.my.buurt.dev
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=teams.buurt.dev,resources=neighbourhoodteams,verbs=manage
// +kubebuilder:rbac:groups="",namespace=buurt-system,resources=secrets,verbs=create;update

// Webhooks are buurt's admission webhooks and the certificate they serve.
type Webhooks struct {
	opts Options
	cert *certificate
}

// New prepares the webhooks.
func New(o Options) *Webhooks {
	return &Webhooks{opts: o, cert: &certificate{dir: o.CertDir}}
}

// Server is the webhook server for the manager's options. It serves the
// certificate from the Secret, so it starts before there is one (the
// apiserver's calls fail until then; they concern buurt's kinds only).
func (w *Webhooks) Server(host string, port int) webhook.Server {
	return webhook.NewServer(webhook.Options{
		Host: host, Port: port,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.GetCertificate = w.cert.get }},
	})
}

// Setup registers the webhooks with the manager, whose webhook server must
// come from Server, and what keeps their certificate current.
func (w *Webhooks) Setup(mgr ctrl.Manager) error {
	o := w.opts
	if err := ctrl.NewWebhookManagedBy(mgr, &teamsv1alpha1.NeighbourhoodTeam{}).WithValidator(&TeamValidator{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: teamevents.New(mgr.GetEventRecorder("buurt-admission"), mgr.GetClient(), mgr.GetAPIReader()),
	}).Complete(); err != nil {
		return fmt.Errorf("failed to register the NeighbourhoodTeam webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &teamsv1alpha1.TeamBlueprint{}).WithValidator(&BlueprintValidator{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
	}).Complete(); err != nil {
		return fmt.Errorf("failed to register the TeamBlueprint webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &teamsv1alpha1.TeamSplit{}).WithValidator(&SplitValidator{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
	}).Complete(); err != nil {
		return fmt.Errorf("failed to register the TeamSplit webhook: %w", err)
	}
	// The certificate always comes from the Secret, kept by buurt's rotator
	// or by cert-manager.
	w.cert.reader = mgr.GetAPIReader()
	w.cert.key = types.NamespacedName{Namespace: o.Namespace, Name: o.CertSecret}
	if err := mgr.Add(w.cert); err != nil {
		return err
	}
	if !o.ManageCertificate {
		return nil
	}
	if err := rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:      w.cert.key,
		CertDir:        o.CertDir,
		CAName:         "buurt-ca",
		CAOrganization: "buurt",
		DNSName:        o.DNSNames[0],
		ExtraDNSNames:  o.DNSNames[1:],
		IsReady:        make(chan struct{}),
		Webhooks:       w.injectInto(),
		FieldOwner:     "buurt",
		ControllerName: o.RotatorName,
		ExtKeyUsages:   &[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Every replica serves webhooks, so every replica needs the
		// certificate, leader or not.
		RequireLeaderElection: false,
	}); err != nil {
		return fmt.Errorf("failed to set up the webhook certificate: %w", err)
	}
	return nil
}

// injectInto are the objects the rotator injects the CA into.
func (w *Webhooks) injectInto() []rotator.WebhookInfo {
	out := []rotator.WebhookInfo{{Name: ConfigurationName, Type: rotator.Validating}}
	for _, name := range w.opts.APIServices {
		out = append(out, rotator.WebhookInfo{Name: name, Type: rotator.APIService})
	}
	return out
}

// Ready is a readiness check: it fails until the webhooks have a
// certificate to serve, so that a replica gets traffic only once it can
// answer.
func (w *Webhooks) Ready(*http.Request) error {
	if w.cert.current.Load() == nil {
		return fmt.Errorf("no webhook certificate yet in Secret %s", w.cert.key)
	}
	return nil
}

// certificate is the serving certificate, read from the Secret. It is also
// written to dir, where the rotator looks for it before it injects the CA.
type certificate struct {
	reader  client.Reader
	key     types.NamespacedName
	dir     string
	current atomic.Pointer[tls.Certificate]
	pem     []byte
}

// certPoll is how often the Secret is read again; certificates are renewed
// long before they expire.
const certPoll = 10 * time.Second

func (c *certificate) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("webhook-certificate")
	for {
		wait := certPoll
		if err := c.sync(ctx); err != nil {
			log.Error(err, "Failed to load the webhook certificate", "secret", c.key)
			wait = time.Second
		} else if c.current.Load() == nil {
			// Not issued yet: the rotator or cert-manager is on it.
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// NeedLeaderElection is false: every replica serves webhooks.
func (c *certificate) NeedLeaderElection() bool { return false }

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.current.Load(); cert != nil {
		return cert, nil
	}
	return nil, fmt.Errorf("no webhook certificate yet in Secret %s", c.key)
}

// sync loads the Secret's certificate when it changed, and writes it to dir.
func (c *certificate) sync(ctx context.Context) error {
	secret := &corev1.Secret{}
	if err := c.reader.Get(ctx, c.key, secret); err != nil {
		return client.IgnoreNotFound(err)
	}
	crt, key := secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(key) == 0 || (bytes.Equal(crt, c.pem) && c.current.Load() != nil) {
		return nil
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return fmt.Errorf("secret %s holds no valid certificate and key: %w", c.key, err)
	}
	if c.dir != "" {
		for name, data := range map[string][]byte{corev1.TLSPrivateKeyKey: key, corev1.TLSCertKey: crt} {
			path := filepath.Join(c.dir, name)
			if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
				return err
			}
			if err := os.Rename(path+".tmp", path); err != nil {
				return err
			}
		}
	}
	c.pem = crt
	c.current.Store(&pair)
	ctrl.LoggerFrom(ctx).Info("Serving the webhook certificate", "secret", c.key)
	return nil
}

// EnsureCertSecret makes the empty Secret the certificate rotator fills, if
// it does not exist: the rotator only updates one. When the Secret holds a
// certificate that does not name each of dnsNames (an installation from
// before buurt-api, whose Service the certificate names now, or names
// changed by --webhook-dns-names), the certificate and its key are removed
// from it, so that the rotator issues a new one from the same CA: the
// rotator itself checks only the first name.
func EnsureCertSecret(ctx context.Context, c client.Client, namespace, name string, dnsNames []string) error {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{
		teamsv1alpha1.ManagedByLabel: teamsv1alpha1.ManagedByValue,
	}}}
	// Looked up first: a restart, which finds it, writes nothing.
	current := &corev1.Secret{}
	switch err := c.Get(ctx, client.ObjectKeyFromObject(secret), current); {
	case err == nil:
		if namesAll(current.Data[corev1.TLSCertKey], dnsNames) {
			return nil
		}
		delete(current.Data, corev1.TLSCertKey)
		delete(current.Data, corev1.TLSPrivateKeyKey)
		if err := c.Update(ctx, current); err != nil {
			return fmt.Errorf("failed to clear the webhook certificate in Secret %s/%s, which does not name %v, for a new one: %w",
				namespace, name, dnsNames, err)
		}
		ctrl.LoggerFrom(ctx).Info("The webhook certificate did not name every DNS name: a new one is issued",
			"secret", client.ObjectKeyFromObject(current), "dnsNames", dnsNames)
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("failed to read the webhook certificate Secret %s/%s: %w", namespace, name, err)
	}
	if err := c.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create the webhook certificate Secret %s/%s: %w", namespace, name, err)
	}
	return nil
}

// namesAll says whether the PEM certificate names each of dnsNames; no
// certificate yet (the rotator is to issue it) counts as naming them.
func namesAll(certPEM []byte, dnsNames []string) bool {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return true
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return true // the rotator replaces what it cannot read
	}
	for _, n := range dnsNames {
		if !slices.Contains(cert.DNSNames, n) {
			return false
		}
	}
	return true
}
