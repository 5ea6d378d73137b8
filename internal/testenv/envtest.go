// Package testenv starts the real Kubernetes parts buurt's tests run against:
// an envtest control plane (kube-apiserver and etcd) with buurt's CRDs, and a
// full local cluster (see the localcluster package). The binaries are built from
// source by hack/tools.sh; `make test` exports KUBEBUILDER_ASSETS to them.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	apiruntime "k8s.io/apimachinery/pkg/runtime"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/manifests"
)

// ErrNoAssets says how to get the Kubernetes binaries when they are missing.
var ErrNoAssets = errors.New("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, " +
	"or first run `export KUBEBUILDER_ASSETS=$(hack/tools.sh envtest)` to build kube-apiserver and etcd from source")

// Scheme knows the built-in kinds, CRDs and buurt's kinds.
var Scheme = newScheme()

func newScheme() *apiruntime.Scheme {
	s := apiruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := teamsv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Env is a running envtest control plane with buurt's CRDs installed.
type Env struct {
	// Config reaches the apiserver as a cluster admin.
	Config *rest.Config
	// Client talks to the apiserver directly, without a cache.
	Client client.Client

	env   *envtest.Environment
	admin *envtest.AuthenticatedUser
}

// RepoRoot is the root of the buurt repository, found from this file's
// location so tests work from any package directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start starts kube-apiserver and etcd from KUBEBUILDER_ASSETS and installs
// the CRDs in config/crd/bases.
func Start() (*Env, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, ErrNoAssets
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                Scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start can fail after the processes run (a CRD the apiserver refuses).
		return nil, errors.Join(fmt.Errorf("failed to start kube-apiserver and etcd from %s: %w", assets, err), env.Stop())
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("failed to create client: %w", err), env.Stop())
	}
	admin, err := env.AddUser(envtest.User{Name: "buurt-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("failed to add an admin user: %w", err), env.Stop())
	}
	return &Env{Config: cfg, Client: c, env: env, admin: admin}, nil
}

// Stop stops the control plane and removes its data.
func (e *Env) Stop() error {
	return e.env.Stop()
}

// Kubectl runs the kubectl built beside kube-apiserver against the control
// plane as a cluster admin, with stdin as its input, and returns what it
// printed.
func (e *Env) Kubectl(stdin []byte, args ...string) (stdout, stderr string, err error) {
	k, err := e.admin.Kubectl()
	if err != nil {
		return "", "", fmt.Errorf("failed to configure kubectl: %w", err)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(k.Path, append(slices.Clone(k.Opts), args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// UserConfig adds a user who authenticates with a client certificate the
// control plane trusts (its client CA), and returns their configuration:
// for a server that delegates authentication to this control plane.
func (e *Env) UserConfig(name string, groups ...string) (*rest.Config, error) {
	u, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, fmt.Errorf("failed to add user %s: %w", name, err)
	}
	return u.Config(), nil
}

// StartForTest starts an apiserver for a test, stops it when the test
// ends, and writes a kubeconfig for it; it fails the test when it cannot.
func StartForTest(t testing.TB) (env *Env, kubeconfig string) {
	t.Helper()
	env, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	if kubeconfig, err = env.WriteKubeconfig(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return env, kubeconfig
}

// WriteKubeconfig writes a kubeconfig for a cluster admin of the control
// plane into dir and returns its path, for programs the tests start.
func (e *Env) WriteKubeconfig(dir string) (string, error) {
	data, err := e.admin.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("failed to make a kubeconfig: %w", err)
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// CreateFromFile creates, through c, every object of a multi-document YAML
// file, as `kubectl create -f` would.
func CreateFromFile(ctx context.Context, c client.Client, path string) error {
	return manifests.Each(path, func(obj *unstructured.Unstructured) error {
		if err := c.Create(ctx, obj); err != nil {
			return fmt.Errorf("failed to create %s %s from %s: %w", obj.GetKind(), obj.GetName(), path, err)
		}
		return nil
	})
}

// OperatorNamespace and OperatorUser are where and who the operator runs as
// in the tests: its ServiceAccount in an installation.
const (
	OperatorNamespace = "buurt-system"
	OperatorUser      = "system:serviceaccount:buurt-system:buurt-controller-manager"
)

// InstallOperatorRBAC grants OperatorUser exactly what an installation
// grants the operator (config/rbac), installs the roles buurt binds for
// members and coaches, and makes OperatorNamespace. A manager that
// impersonates OperatorUser then fails where a missing RBAC marker would
// fail in a cluster.
func InstallOperatorRBAC(ctx context.Context, c client.Client) error {
	root := RepoRoot()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}); err != nil {
		return err
	}
	for _, file := range []string{"config/rbac/role.yaml", "config/rbac/team_roles.yaml", "config/rbac/operator_team_role.yaml"} {
		if err := CreateFromFile(ctx, c, filepath.Join(root, file)); err != nil {
			return err
		}
	}
	operator := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: OperatorUser}}
	if err := c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "buurt-manager"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "buurt-manager"},
		Subjects:   operator,
	}); err != nil {
		return err
	}
	return c.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: OperatorNamespace, Name: "buurt-manager"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "buurt-manager"},
		Subjects:   operator,
	})
}

// PlatformEngineerBinding binds user to buurt:platform-engineer, as a
// region binds the people who manage its teams.
func PlatformEngineerBinding(name, user string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "buurt:platform-engineer"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
}
