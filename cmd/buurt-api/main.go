// Command buurt-api serves the my.buurt.dev API: each person's own teams,
// for `kubectl get myteams` and any client, registered with the cluster's
// apiserver by an APIService. It reads NeighbourhoodTeams and Coaches from
// a cache and changes nothing; it authenticates and authorizes every
// request through the cluster's apiserver (its front-proxy headers,
// TokenReviews and SubjectAccessReviews).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/myapi"
)

func main() {
	ctx := ctrl.SetupSignalHandler()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "buurt-api: %v\n", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, args []string) error {
	o := myapi.NewOptions()
	fs := pflag.NewFlagSet("buurt-api", pflag.ContinueOnError)
	o.SecureServing.AddFlags(fs)
	o.Authentication.AddFlags(fs)
	o.Authorization.AddFlags(fs)
	kubeconfig := fs.String("kubeconfig", "",
		"The kubeconfig to read teams and coaches with; in a pod, the pod's ServiceAccount")
	hosts := fs.StringSlice("certificate-hosts", []string{"buurt-api.buurt-system.svc"},
		"Names and addresses a self-signed serving certificate is made for, when --tls-cert-file is not given")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, "buurt-api serves each person's own teams (my.buurt.dev) through the cluster's apiserver.\n\n"+
			"Usage: buurt-api [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New())

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("failed to read the kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := teamsv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	// Without their managed fields, which buurt-api never reads: the
	// cache holds every team.
	teams, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{&teamsv1alpha1.NeighbourhoodTeam{}: {}, &teamsv1alpha1.Coach{}: {}},
	})
	if err != nil {
		return fmt.Errorf("failed to make the cache of teams: %w", err)
	}
	for _, obj := range []client.Object{&teamsv1alpha1.NeighbourhoodTeam{}, &teamsv1alpha1.Coach{}} {
		if _, err := teams.GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("failed to watch %T: %w", obj, err)
		}
	}
	go func() {
		if err := teams.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "buurt-api: the cache of teams stopped: %v\n", err)
		}
	}()
	fmt.Fprintln(os.Stderr, "buurt-api: reading the teams and coaches (seconds; a minute for 10,000 teams)")
	if !teams.WaitForCacheSync(ctx) {
		return errors.New("the cache of teams did not sync")
	}
	var names []string
	var ips []net.IP
	for _, h := range *hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	server, err := myapi.New(o, teams, names, ips)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "buurt-api: serving my.buurt.dev on port %d\n", o.SecureServing.BindPort)
	return server.Run(ctx)
}
