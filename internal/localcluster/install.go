package localcluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/buurt-dev/buurt/internal/manifests"
)

// Where and as whom the operator runs, as an installation makes it.
const (
	OperatorNamespace      = "buurt-system"
	OperatorServiceAccount = "buurt-controller-manager"
)

// fieldOwner applies what these helpers install.
const fieldOwner = "buurt-localcluster"

// ApplyFile applies every object of a multi-document YAML file with
// server-side apply, as `kubectl apply --server-side` would; applying again
// changes nothing.
func ApplyFile(ctx context.Context, c client.Client, path string, change ...func(*unstructured.Unstructured)) error {
	return manifests.Each(path, func(obj *unstructured.Unstructured) error {
		for _, ch := range change {
			ch(obj)
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("failed to apply %s %s from %s: %w", obj.GetKind(), obj.GetName(), path, err)
		}
		return nil
	})
}

// InstallCRDs applies buurt's CRDs from root/config/crd/bases and waits
// until the apiserver serves them.
func InstallCRDs(ctx context.Context, c client.Client, root string) error {
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil {
		return err
	}
	return ApplyCRDs(ctx, c, files)
}

// ApplyCRDs applies the CRDs in files and waits, up to a minute, until the
// apiserver serves every one of them.
func ApplyCRDs(ctx context.Context, c client.Client, files []string) error {
	names := map[string]bool{}
	for _, file := range files {
		if err := ApplyFile(ctx, c, file, func(obj *unstructured.Unstructured) { names[obj.GetName()] = true }); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		crds := &apiextensionsv1.CustomResourceDefinitionList{}
		if err := c.List(ctx, crds); err != nil {
			return err
		}
		established := 0
		for _, crd := range crds.Items {
			for _, cond := range crd.Status.Conditions {
				if names[crd.Name] && cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established++
				}
			}
		}
		if established == len(names) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d CRDs were established within a minute", established, len(names))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// InstallOperator makes the operator's namespace and ServiceAccount, grants
// it exactly config/rbac (the roles an installation binds), installs the
// roles buurt binds for people and the admission policies (config/policies:
// the operator's bounds, the quota count, the tenant rules), and returns a
// client configuration that authenticates as that ServiceAccount with a
// token from the TokenRequest API, valid for ttl. admin is the cluster
// admin's configuration.
func InstallOperator(ctx context.Context, c client.Client, admin *rest.Config, root string, ttl time.Duration) (*rest.Config, error) {
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": OperatorNamespace},
	}}), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
		return nil, err
	}
	if err := applyDir(ctx, c, filepath.Join(root, "config", "rbac"), func(u *unstructured.Unstructured) {
		if u.GetKind() == "Role" || u.GetKind() == "RoleBinding" || u.GetKind() == "ServiceAccount" {
			u.SetNamespace(OperatorNamespace)
		}
	}); err != nil {
		return nil, err
	}
	// The policies, as an installation has them: the operator's own
	// workloads in team namespaces are held to the tenant rules too.
	if err := applyDir(ctx, c, filepath.Join(root, "config", "policies")); err != nil {
		return nil, err
	}
	return ServiceAccountConfig(ctx, admin, OperatorNamespace, OperatorServiceAccount, ttl)
}

// applyDir applies every manifest in a kustomize directory but its
// kustomization.yaml, changed by change.
func applyDir(ctx context.Context, c client.Client, dir string, change ...func(*unstructured.Unstructured)) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		if err := ApplyFile(ctx, c, file, change...); err != nil {
			return err
		}
	}
	return nil
}

// ServiceAccountConfig is a client configuration that authenticates as the
// ServiceAccount namespace/name with a token from the TokenRequest API, valid
// for ttl. admin is the cluster admin's configuration.
func ServiceAccountConfig(ctx context.Context, admin *rest.Config, namespace, name string, ttl time.Duration) (*rest.Config, error) {
	clientset, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, err
	}
	token, err := clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(ttl.Seconds()))}},
		metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("failed to get a token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return &rest.Config{
		Host:            admin.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData, CAFile: admin.CAFile, ServerName: admin.ServerName},
		BearerToken:     token.Status.Token,
	}, nil
}

// WriteKubeconfig writes cfg, a token-authenticated configuration, as a
// kubeconfig file for a process to use.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	caData := cfg.CAData
	if len(caData) == 0 && cfg.CAFile != "" {
		data, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return err
		}
		caData = data
	}
	kubeconfig := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"local": {Server: cfg.Host, CertificateAuthorityData: caData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"operator": {Token: cfg.BearerToken}},
		Contexts:       map[string]*clientcmdapi.Context{"operator": {Cluster: "local", AuthInfo: "operator"}},
		CurrentContext: "operator",
	}
	return clientcmd.WriteToFile(kubeconfig, path)
}

// ApplyAdminSecret makes the Secret of a shared database server's admin
// connection in the operator's namespace, as a platform engineer would.
func ApplyAdminSecret(ctx context.Context, c client.Client, name string, data map[string]string) error {
	encoded := map[string]any{}
	for k, v := range data {
		encoded[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"namespace": OperatorNamespace, "name": name},
		"data":     encoded,
	}}), client.FieldOwner(fieldOwner), client.ForceOwnership)
}
