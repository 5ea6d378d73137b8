package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/buurt-dev/buurt/internal/operator"
)

// OperatorManager makes a manager as cmd/manager does (operator.NewManager),
// acting as OperatorUser, so that it has exactly the permissions
// InstallOperatorRBAC grants. onRequest, when not nil, sees every request it
// sends; with, when given, changes the manager's options. Adding controllers
// is the caller's part.
func OperatorManager(cfg *rest.Config, onRequest func(*http.Request), with ...func(*ctrl.Options)) (ctrl.Manager, error) {
	cfg = ConfigAs(cfg, OperatorUser)
	if onRequest != nil {
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return observer{next: rt, see: onRequest} }
	}
	opts := ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	}
	for _, change := range with {
		change(&opts)
	}
	return operator.NewManager(cfg, opts)
}

type observer struct {
	next http.RoundTripper
	see  func(*http.Request)
}

func (o observer) RoundTrip(req *http.Request) (*http.Response, error) {
	o.see(req)
	return o.next.RoundTrip(req)
}

// RunWithManager starts mgr, runs the tests and stops mgr; it returns the
// tests' exit code, or 1 when the manager failed.
func RunWithManager(mgr ctrl.Manager, m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return code
}
