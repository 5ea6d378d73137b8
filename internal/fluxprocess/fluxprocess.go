// Package fluxprocess runs Flux's source-controller, kustomize-controller
// and helm-controller, as hack/tools.sh builds them, against a local
// cluster: each a process on this machine with a cluster admin's
// kubeconfig, as Flux's own Deployments run with cluster-admin; the
// source-controller serves its artifacts on 127.0.0.1, where the others
// fetch them.
package fluxprocess

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/localcluster"
)

// Namespace is where Flux's objects go, as in a Flux installation.
const Namespace = "flux-system"

// controllers are the Flux controllers run, by their binaries' names.
var controllers = []string{"source-controller", "kustomize-controller", "helm-controller"}

// InstallCRDs applies Flux's CRDs (hack/tools.sh flux puts them in
// binDir/crds) and waits until the apiserver serves them.
func InstallCRDs(ctx context.Context, c client.Client, binDir string) error {
	files, err := filepath.Glob(filepath.Join(binDir, "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no Flux CRDs in %s/crds: run hack/tools.sh flux", binDir)
	}
	return localcluster.ApplyCRDs(ctx, c, files)
}

// Flux is the three running controllers.
type Flux struct {
	dir   string
	procs map[string]*exec.Cmd
	done  map[string]chan struct{}
}

// Start starts the controllers in binDir against the cluster of
// kubeconfig; their logs and the source-controller's artifacts go to dir.
func Start(binDir, kubeconfig, dir string) (*Flux, error) {
	f := &Flux{dir: dir, procs: map[string]*exec.Cmd{}, done: map[string]chan struct{}{}}
	storagePort, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	storage := "127.0.0.1:" + strconv.Itoa(storagePort)
	artifacts := filepath.Join(dir, "artifacts")
	if err := os.MkdirAll(artifacts, 0o750); err != nil {
		return nil, err
	}
	for _, name := range controllers {
		metrics, err := freeport.Get()
		if err != nil {
			return nil, errors.Join(err, f.Stop())
		}
		health, err := freeport.Get()
		if err != nil {
			return nil, errors.Join(err, f.Stop())
		}
		args := []string{
			"--enable-leader-election=false", "--log-level=debug", "--log-encoding=json",
			"--metrics-addr=127.0.0.1:" + strconv.Itoa(metrics), "--health-addr=127.0.0.1:" + strconv.Itoa(health),
		}
		if name == "source-controller" {
			args = append(args, "--storage-path="+artifacts, "--storage-addr="+storage, "--storage-adv-addr="+storage)
		}
		if err := f.start(filepath.Join(binDir, name), name, kubeconfig, args); err != nil {
			return nil, errors.Join(err, f.Stop())
		}
	}
	return f, nil
}

func (f *Flux) start(bin, name, kubeconfig string, args []string) error {
	log, err := os.OpenFile(f.Log(name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...) //nolint:gosec // the binary hack/tools.sh built
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "RUNTIME_NAMESPACE="+Namespace)
	cmd.Stdout, cmd.Stderr = log, log
	// Should the test itself be killed, Flux goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return errors.Join(fmt.Errorf("failed to start Flux's %s: %w", name, err), log.Close())
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(done)
	}()
	f.procs[name], f.done[name] = cmd, done
	return nil
}

// Log is the path of a controller's log.
func (f *Flux) Log(name string) string {
	return filepath.Join(f.dir, name+".log")
}

// Logs are the controllers' logs, by name, for a test that failed.
func (f *Flux) Logs() map[string]string {
	logs := map[string]string{}
	for _, name := range controllers {
		data, _ := os.ReadFile(f.Log(name))
		logs[name] = string(data)
	}
	return logs
}

// Stop ends the controllers as Kubernetes ends pods: SIGTERM, then SIGKILL
// after 10 seconds. It says which had ended before it was asked.
func (f *Flux) Stop() error {
	var ended []error
	for name, cmd := range f.procs {
		select {
		case <-f.done[name]:
			ended = append(ended, fmt.Errorf("flux's %s had ended by itself (%s); see %s", name, cmd.ProcessState, f.Log(name)))
			continue
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.done[name]:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-f.done[name]
		}
	}
	return errors.Join(ended...)
}
