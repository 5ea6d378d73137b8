// Package localcluster runs a complete Kubernetes cluster on this machine with
// kwokctl's binary runtime: etcd, kube-apiserver (RBAC on), kube-controller-manager,
// kube-scheduler and kwok, which plays the nodes. Pods are scheduled to fake
// nodes and reported Running, so Deployments become Available and namespaces
// really delete, with no container runtime. The binaries are built from source
// by `hack/tools.sh cluster`.
package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options say where the binaries are and what cluster to make.
type Options struct {
	// Name is the cluster's name; one name is one cluster.
	Name string
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler, kubectl, kwok and kwokctl.
	BinDir string
	// WorkDir is kwokctl's work directory: the cluster's certificates, data,
	// logs and kubeconfig live under WorkDir/clusters/Name.
	WorkDir string
	// Nodes is how many fake nodes to create.
	Nodes int
}

// Cluster is a running local cluster.
type Cluster struct {
	opts Options
}

// binaries are the files BinDir must hold, with the kwokctl flag for each.
var binaries = []struct{ name, flag string }{
	{"etcd", "--etcd-binary"},
	{"kube-apiserver", "--kube-apiserver-binary"},
	{"kube-controller-manager", "--kube-controller-manager-binary"},
	{"kube-scheduler", "--kube-scheduler-binary"},
	{"kwok", "--kwok-controller-binary"},
	{"kubectl", ""},
	{"kwokctl", ""},
}

// kwokctlConfig is the kwokctl configuration Create uses. The
// Service range is a /16 rather than the apiserver's default /24 (254
// addresses), which a benchmark of 1,000 teams with an app each would fill;
// it holds the default range, so the kubernetes Service keeps its address.
//
// The apiserver also runs its aggregation layer as kubeadm sets it up:
// requests it proxies to an aggregated API server (buurt-api) carry the
// requester in front-proxy headers, vouched for by its proxy client
// certificate (kwokctl's admin certificate, kwok-admin, from the cluster's
// CA), and it reaches such a server at its endpoints' addresses, there
// being no kube-proxy for a Service's address. %[1]s is the cluster's CA.
const kwokctlConfig = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
componentsPatches:
- name: kube-controller-manager
  extraArgs:
  - key: use-service-account-credentials
    value: "true"
- name: kube-apiserver
  extraArgs:
  - key: service-cluster-ip-range
    value: 10.0.0.0/16
  - key: requestheader-client-ca-file
    value: %[1]s
  - key: requestheader-allowed-names
    value: kwok-admin
  - key: requestheader-username-headers
    value: X-Remote-User
  - key: requestheader-group-headers
    value: X-Remote-Group
  - key: requestheader-extra-headers-prefix
    value: X-Remote-Extra-
  - key: enable-aggregator-routing
    value: "true"
`

// Create starts a new cluster, or starts again the one of that name in
// WorkDir, and waits until it serves and its nodes are Ready.
func Create(ctx context.Context, opts Options) (*Cluster, error) {
	args := []string{"create", "cluster", "--runtime", "binary", "--kubeconfig", "", "--wait", "2m"}
	for _, b := range binaries {
		path := filepath.Join(opts.BinDir, b.name)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("missing %s in %s: run `hack/tools.sh cluster` to build it: %w", b.name, opts.BinDir, err)
		}
		if b.flag != "" {
			args = append(args, b.flag, path)
		}
	}
	// kube-controller-manager runs each controller as its ServiceAccount in
	// kube-system, as kubeadm and managed clusters do, rather than as
	// kwokctl's system:masters admin: admission policies tell the control
	// plane's controllers by those names (buurt's allow only them to write
	// EndpointSlices in team namespaces).
	config := filepath.Join(opts.WorkDir, "kwokctl-config.yaml")
	ca := filepath.Join(opts.WorkDir, "clusters", opts.Name, "pki", "ca.crt")
	// make dev's work directory does not exist on a new machine.
	if err := os.MkdirAll(opts.WorkDir, 0o750); err != nil {
		return nil, err
	}
	if err := os.WriteFile(config, fmt.Appendf(nil, kwokctlConfig, ca), 0o600); err != nil {
		return nil, err
	}
	args = append(args, "--config", config)
	c := &Cluster{opts: opts}
	if _, err := os.Stat(c.Kubeconfig()); err == nil {
		// kwokctl refuses to create a cluster that exists; start it instead.
		args = []string{"start", "cluster", "--wait", "2m"}
	}
	if _, err := c.kwokctl(ctx, args...); err != nil {
		return nil, err
	}
	// kwok's nodes have no ephemeral storage by default, and a blueprint
	// that bounds it (the chart's default and the samples' do) requests
	// some for every container: such pods would never be scheduled.
	if _, err := c.kwokctl(ctx, "scale", "node", "--replicas", strconv.Itoa(opts.Nodes),
		"--param", `.allocatable["ephemeral-storage"]="1Ti"`); err != nil {
		return nil, errors.Join(err, c.Delete(context.WithoutCancel(ctx)))
	}
	return c, nil
}

// Existing is the cluster of opts, as created earlier, for Delete and
// Kubeconfig.
func Existing(opts Options) *Cluster {
	return &Cluster{opts: opts}
}

// Kubeconfig is the path of the cluster's admin kubeconfig.
func (c *Cluster) Kubeconfig() string {
	return filepath.Join(c.opts.WorkDir, "clusters", c.opts.Name, "kubeconfig.yaml")
}

// Config is a client configuration for the cluster's admin.
func (c *Cluster) Config() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return nil, fmt.Errorf("failed to load kubeconfig of local cluster %s: %w", c.opts.Name, err)
	}
	return cfg, nil
}

// ExportLogs copies the logs of every cluster component into dir.
func (c *Cluster) ExportLogs(ctx context.Context, dir string) error {
	_, err := c.kwokctl(ctx, "export", "logs", dir)
	return err
}

// Delete stops the cluster and removes its files.
func (c *Cluster) Delete(ctx context.Context) error {
	_, err := c.kwokctl(ctx, "delete", "cluster")
	return err
}

func (c *Cluster) kwokctl(ctx context.Context, args ...string) ([]byte, error) {
	args = append(args, "--name", c.opts.Name)
	cmd := exec.CommandContext(ctx, filepath.Join(c.opts.BinDir, "kwokctl"), args...)
	cmd.Env = append(os.Environ(),
		"KWOK_WORKDIR="+c.opts.WorkDir,
		"KWOK_KUBECTL_BINARY="+filepath.Join(c.opts.BinDir, "kubectl"),
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("kwokctl %v failed: %w\n%s", args, err, out.String())
	}
	return out.Bytes(), nil
}
