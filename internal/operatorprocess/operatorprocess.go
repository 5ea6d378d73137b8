// Package operatorprocess runs buurt's operator binary against a local
// cluster as the end-to-end tests and the benchmark do: built from this
// checkout, acting as its ServiceAccount, its webhooks on 127.0.0.1 called
// by the apiserver, its metrics served over plain HTTP for the caller to
// read; stopped as Kubernetes stops a pod, killed as a node failure would,
// and started again.
package operatorprocess

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/localcluster"
	"github.com/buurt-dev/buurt/internal/myapiprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// Build builds the operator (cmd/manager of this checkout) into bin, as the
// Dockerfile builds the image's: a static binary without symbol tables,
// whose size is part of the memory the operator holds.
func Build(ctx context.Context, bin string) error {
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/manager") //nolint:gosec // the caller's path
	build.Dir = testenv.RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("failed to build the operator: %w\n%s", err, out)
	}
	return nil
}

// Options say which operator runs, as whom and where.
type Options struct {
	// Bin is the operator binary, from Build or from an earlier checkout.
	Bin string
	// Config is the operator's client configuration: its ServiceAccount's
	// token and the address of the apiserver (or of a proxy in front of
	// it). It is written to a kubeconfig in Dir.
	Config *rest.Config
	// Dir holds the operator's kubeconfig, its log (operator.log, added to
	// by each start) and its webhook certificate.
	Dir string
	// WebhookPort is where the webhooks listen on 127.0.0.1: the port the
	// webhook configuration sends the apiserver to
	// (webhook.LocalConfiguration).
	WebhookPort int
	// Profiles serves the operator's profiles (PprofURL). Off for an
	// operator built from an earlier commit, which may not know the flag.
	Profiles bool
	// MyTeamsAPI makes the webhook certificate name buurt-api's Service too
	// and the operator inject its CA into buurt-api's APIService, as an
	// installation's operator does (CertDir has the certificate for
	// buurt-api). Off for an operator from before buurt-api.
	MyTeamsAPI bool
}

// CertDir is where the operator keeps its webhook certificate (tls.crt,
// tls.key), for an operator made with Options' Dir.
func CertDir(dir string) string { return filepath.Join(dir, "webhook-certs") }

// Process is the operator binary, ready to start, stop and start again.
// Its metrics are served on a free port of 127.0.0.1 (Metrics).
type Process struct {
	bin        string
	args       []string
	log        string
	metricsURL string
	pprofURL   string

	cmd  *exec.Cmd
	done chan struct{}
	// started is when the current process was started.
	started time.Time
	// running is the running process's id, 0 when none runs; a memory
	// sampler may read it while the operator is started again.
	running atomic.Int64
}

// New prepares the operator to run as a pod would: as its ServiceAccount,
// with the default client settings (no --kube-api-qps) and no leader
// election; it is not started yet.
func New(o Options) (*Process, error) {
	kubeconfig := filepath.Join(o.Dir, "operator.kubeconfig")
	if err := localcluster.WriteKubeconfig(o.Config, kubeconfig); err != nil {
		return nil, err
	}
	metricsPort, err := freeport.Get()
	if err != nil {
		return nil, err
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(metricsPort)
	dnsNames := "localhost"
	if o.MyTeamsAPI {
		dnsNames += "," + myapiprocess.Service + "." + localcluster.OperatorNamespace + ".svc"
	}
	p := &Process{
		bin: o.Bin,
		args: []string{
			"--kubeconfig", kubeconfig, "--namespace", localcluster.OperatorNamespace,
			"--metrics-bind-address", metricsAddr, "--metrics-secure=false", "--health-probe-bind-address", "0",
			"--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(o.WebhookPort), "--webhook-dns-names", dnsNames,
			"--webhook-cert-dir", CertDir(o.Dir),
		},
		log:        filepath.Join(o.Dir, "operator.log"),
		metricsURL: "http://" + metricsAddr + "/metrics",
	}
	if o.MyTeamsAPI {
		p.args = append(p.args, "--my-teams-api-service", myapiprocess.APIService)
	}
	if o.Profiles {
		pprofPort, err := freeport.Get()
		if err != nil {
			return nil, err
		}
		pprofAddr := "127.0.0.1:" + strconv.Itoa(pprofPort)
		p.args = append(p.args, "--pprof-bind-address", pprofAddr)
		p.pprofURL = "http://" + pprofAddr + "/debug/pprof/"
	}
	return p, nil
}

// Start starts the operator; its output goes to the log.
func (p *Process) Start() error {
	log, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(p.bin, p.args...) //nolint:gosec // the binary the caller built
	p.cmd.Stdout, p.cmd.Stderr = log, log
	// Should the test itself be killed, the operator goes with it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return errors.Join(err, log.Close())
	}
	p.done = make(chan struct{})
	p.running.Store(int64(p.cmd.Process.Pid))
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		p.running.Store(0)
		_ = log.Close()
		close(done)
	}(p.cmd, p.done)
	return nil
}

// Stop ends the operator as Kubernetes ends a pod: SIGTERM, then SIGKILL
// after 30 seconds. It does nothing when the operator does not run.
func (p *Process) Stop() {
	if !p.isRunning() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.Kill()
	}
}

// Kill ends the operator at once, as an OOM kill or a node failure would.
func (p *Process) Kill() {
	if !p.isRunning() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *Process) isRunning() bool {
	if p.cmd == nil || p.cmd.Process == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// PID is the running operator's process id, 0 when none runs. It may be
// called while the operator is stopped or started.
func (p *Process) PID() int {
	return int(p.running.Load())
}

// Started is when the operator was last started.
func (p *Process) Started() time.Time {
	return p.started
}

// PprofURL is where the operator serves its profiles (net/http/pprof's
// /debug/pprof/), for a benchmark to keep; "" without Options.Profiles.
func (p *Process) PprofURL() string {
	return p.pprofURL
}

// Log is the path of the operator's log.
func (p *Process) Log() string {
	return p.log
}

// WaitForWebhooks waits until the apiserver reaches the operator's
// webhooks: a dry-run change of a blueprint nobody uses is admitted by
// them. It must change the spec: the webhook is not asked about an update
// that leaves it as it was. c is a cluster admin's client.
//
// The blueprint is really created and deleted, and the operator
// reconciles it: a caller counting the operator's writes counts those too.
func WaitForWebhooks(ctx context.Context, c client.Client) error {
	probe := testenv.DesignBlueprint("webhook-probe")
	if err := c.Create(ctx, probe); err != nil {
		return fmt.Errorf("failed to make blueprint %s to probe the webhooks with: %w", probe.Name, err)
	}
	defer func() { _ = c.Delete(context.WithoutCancel(ctx), probe) }()
	changed := probe.Spec.MaxMembers - 1
	const timeout = 2 * time.Minute
	deadline := time.Now().Add(timeout)
	for {
		probe.Spec.MaxMembers = changed
		err := c.Update(ctx, probe, client.DryRunAll)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the apiserver did not reach the operator's webhooks within %s; see the operator's log: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		_ = c.Get(ctx, client.ObjectKeyFromObject(probe), probe)
	}
}
