// Package myapiprocess runs buurt-api (my.buurt.dev) as a local process
// against a local cluster, registered as config/my-teams registers it: for
// make dev and the end-to-end tests, whose clusters run no real pods.
package myapiprocess

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/manifests"
)

// Service and APIService are buurt-api's, as config/my-teams names them.
const (
	Service    = "buurt-api"
	APIService = "v1alpha1.my.buurt.dev"
)

// HostAddress is an address of this machine that is not loopback: the
// apiserver reaches an aggregated API server at its endpoints' addresses,
// which may not be loopback.
func HostAddress() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("this machine has no IPv4 address but loopback: the apiserver cannot reach buurt-api")
}

// Register creates what config/my-teams installs but the Deployment, in
// the cluster c is of: who may ask, buurt-api's ServiceAccount and roles,
// its Service and APIService; the Service leads to host:port. It returns
// what it created, for the caller to delete.
func Register(ctx context.Context, c client.Client, root, host string, port int32) ([]client.Object, error) {
	var objects []*unstructured.Unstructured
	for _, file := range []string{"user_role.yaml", "rbac.yaml", "api.yaml"} {
		err := manifests.Each(filepath.Join(root, "config", "my-teams", file), func(obj *unstructured.Unstructured) error {
			if obj.GetKind() == "Service" {
				// No pods: the endpoints below lead to this machine.
				unstructured.RemoveNestedField(obj.Object, "spec", "selector")
				if err := unstructured.SetNestedSlice(obj.Object, []any{map[string]any{
					"name": "https", "port": int64(443), "targetPort": int64(port), "protocol": "TCP",
				}}, "spec", "ports"); err != nil {
					return err
				}
			}
			objects = append(objects, obj)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slice, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{Namespace: localcluster.OperatorNamespace, Name: Service,
			Labels: map[string]string{discoveryv1.LabelServiceName: Service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	})
	if err != nil {
		return nil, err
	}
	objects = append(objects, &unstructured.Unstructured{Object: slice})
	out := make([]client.Object, 0, len(objects))
	for _, obj := range objects {
		// Applied: make dev registers it again on a cluster it reuses.
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("buurt-local"), client.ForceOwnership); err != nil {
			return nil, fmt.Errorf("failed to apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// WaitForCA waits until the operator has injected its CA into the
// APIService, as it does in an installation.
func WaitForCA(ctx context.Context, c client.Client, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		api := &unstructured.Unstructured{}
		api.SetAPIVersion("apiregistration.k8s.io/v1")
		api.SetKind("APIService")
		err := c.Get(ctx, client.ObjectKey{Name: APIService}, api)
		if ca, _, _ := unstructured.NestedString(api.Object, "spec", "caBundle"); err == nil && ca != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("the operator did not inject its CA into APIService %s within %s: is it running with --my-teams-api-service?",
				APIService, limit), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Options say how buurt-api runs.
type Options struct {
	// Bin is the buurt-api binary (Build).
	Bin string
	// Admin is a cluster admin's configuration: buurt-api runs as its
	// ServiceAccount, with a token from it.
	Admin *rest.Config
	// Dir holds buurt-api's kubeconfig and its log (buurt-api.log).
	Dir string
	// Host and Port are where it listens: the Service's endpoint.
	Host string
	Port int
	// CertDir holds the certificate it serves (tls.crt, tls.key): the
	// operator's webhook certificate, which names buurt-api's Service.
	CertDir string
}

// Build builds buurt-api from this checkout (root) into bin.
func Build(ctx context.Context, root, bin string) error {
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/buurt-api") //nolint:gosec // the caller's path
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("failed to build buurt-api: %w\n%s", err, out)
	}
	return nil
}

// Start starts buurt-api as its ServiceAccount; stop it with Stop.
func Start(ctx context.Context, o Options) (*Process, error) {
	cfg, err := localcluster.ServiceAccountConfig(ctx, o.Admin, localcluster.OperatorNamespace, Service, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(o.Dir, "buurt-api.kubeconfig")
	if err := localcluster.WriteKubeconfig(cfg, kubeconfig); err != nil {
		return nil, err
	}
	p := &Process{Log: filepath.Join(o.Dir, "buurt-api.log"), done: make(chan struct{})}
	logs, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(o.Bin, "--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, //nolint:gosec // the binary Build made
		"--authorization-kubeconfig", kubeconfig, "--bind-address", o.Host, "--secure-port", strconv.Itoa(o.Port),
		"--tls-cert-file", filepath.Join(o.CertDir, "tls.crt"), "--tls-private-key-file", filepath.Join(o.CertDir, "tls.key"))
	p.cmd.Stdout, p.cmd.Stderr = logs, logs
	if err := p.cmd.Start(); err != nil {
		_ = logs.Close()
		return nil, fmt.Errorf("failed to start buurt-api: %w", err)
	}
	go func() {
		_ = p.cmd.Wait()
		_ = logs.Close()
		close(p.done)
	}()
	return p, nil
}

// Process is a running buurt-api.
type Process struct {
	// Log is where it writes its log.
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Stop stops it and waits until it has; stopping it again does nothing.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// PID is its process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when it has exited.
func (p *Process) Done() <-chan struct{} { return p.done }
