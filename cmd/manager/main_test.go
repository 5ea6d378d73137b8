package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/testenv"
)

func TestHelpDescribesTheFlags(t *testing.T) {
	g := NewWithT(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out)
	g.Expect(errors.Is(err, flag.ErrHelp)).To(BeTrue())
	for _, want := range []string{
		"buurt gives every small, self-managed team its own workspace",
		"-metrics-bind-address", "-metrics-secure", "-health-probe-bind-address",
		"-leader-elect", "-leader-election-namespace", "-namespace", "-kubeconfig", "-zap-log-level",
		"-enable-webhooks", "-webhook-port", "-webhook-certificates", "-webhook-cert-secret",
		"-kube-api-qps", "-kube-api-burst", "-max-concurrent-reconciles", "-pprof-bind-address",
	} {
		g.Expect(out.String()).To(ContainSubstring(want))
	}
}

func TestRejectsStrayArguments(t *testing.T) {
	g := NewWithT(t)
	err := run(context.Background(), []string{"serve"}, io.Discard)
	g.Expect(err).To(MatchError(`unexpected arguments ["serve"]; see --help`))
}

// TestManagerServesProbesAndProtectedMetrics runs the manager against a real
// apiserver: probes answer, and metrics answer only a client the apiserver
// authorizes for GET /metrics.
func TestManagerServesProbesAndProtectedMetrics(t *testing.T) {
	g := NewWithT(t)
	env, kubeconfig := testenv.StartForTest(t)

	// The operator's namespace, where its webhook certificate is kept.
	g.Expect(env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "buurt-system"}})).To(Succeed())

	metricsAddr, probeAddr, webhookAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	_, webhookPort, err := net.SplitHostPort(webhookAddr)
	g.Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--kubeconfig", kubeconfig, "--metrics-bind-address", metricsAddr,
			"--health-probe-bind-address", probeAddr, "--webhook-host", "127.0.0.1", "--webhook-port", webhookPort,
			"--webhook-cert-dir", t.TempDir()}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		g.Expect(<-done).To(Succeed())
	})

	for _, path := range []string{"/healthz", "/readyz"} {
		g.Eventually(func() (int, error) { return get("http://"+probeAddr+path, "") }).
			WithTimeout(30 * time.Second).Should(Equal(http.StatusOK))
	}

	metricsURL := "https://" + metricsAddr + "/metrics"
	g.Eventually(func() (int, error) { return get(metricsURL, "") }).
		WithTimeout(30 * time.Second).Should(Equal(http.StatusUnauthorized))

	// The authorizer caches a denial for 30s, so the allowed and the denied
	// client are two ServiceAccounts.
	g.Expect(get(metricsURL, serviceAccountToken(g, env, "stranger"))).To(Equal(http.StatusForbidden))

	reader := serviceAccountToken(g, env, "prometheus")
	ctx2 := context.Background()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	g.Expect(env.Client.Create(ctx2, role)).To(Succeed())
	g.Expect(env.Client.Create(ctx2, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: "default"}},
	})).To(Succeed())
	g.Expect(get(metricsURL, reader)).To(Equal(http.StatusOK))
}

// serviceAccountToken makes a ServiceAccount in default and returns a token
// for it from the TokenRequest API.
func serviceAccountToken(g Gomega, env *testenv.Env, name string) string {
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	g.Expect(env.Client.Create(ctx, sa)).To(Succeed())
	tr := &authenticationv1.TokenRequest{}
	g.Expect(env.Client.SubResource("token").Create(ctx, sa, tr)).To(Succeed())
	g.Expect(tr.Status.Token).NotTo(BeEmpty())
	return tr.Status.Token
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// get fetches url, with a bearer token when one is given, and returns the
// status code. The metrics endpoint serves a self-signed certificate.
func get(url, token string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test against a self-signed local server
	}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestClientSettingsDoNotDependOnHowTheOperatorStarts: an operator started
// from a kubeconfig (make dev, the tests) gets the client limits of the
// flags, not client-go's default for a kubeconfig, as one in a pod does.
func TestClientSettingsDoNotDependOnHowTheOperatorStarts(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	NewWithT(t).Expect(os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600)).To(Succeed())
	for _, tc := range []struct {
		name       string
		args       []string
		qps        float32
		burst      int
		concurrent int
	}{
		{"the defaults leave limits to the apiserver", nil, -1, 0, 4},
		{"set limits", []string{"--kube-api-qps", "50", "--kube-api-burst", "100", "--max-concurrent-reconciles", "8"}, 50, 100, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			o, err := parseFlags(append([]string{"--kubeconfig", kubeconfig}, tc.args...), io.Discard)
			g.Expect(err).NotTo(HaveOccurred())
			cfg, err := restConfig(o.kubeconfig)
			g.Expect(err).NotTo(HaveOccurred())
			limitClient(cfg, o)
			g.Expect([]any{cfg.QPS, cfg.Burst, o.concurrency}).To(Equal([]any{tc.qps, tc.burst, tc.concurrent}))
		})
	}
	_, err := parseFlags([]string{"--max-concurrent-reconciles", "0"}, io.Discard)
	NewWithT(t).Expect(err).To(MatchError("--max-concurrent-reconciles must be at least 1, not 0"))
}
