// Command kubectl-buurt is buurt's kubectl plugin: `kubectl buurt mine`
// lists the teams you are a member of or coach, through buurt's aggregated
// API (my.buurt.dev), and `kubectl buurt reconcile TEAM` asks buurt to look
// at a team again now; both with kubectl's own flags (--context, --as, ...).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/plugin"
)

// timeout bounds every call the plugin makes.
const timeout = 30 * time.Second

func main() {
	if err := command(os.Stdout).Execute(); err != nil {
		os.Exit(1)
	}
}

func command(out io.Writer) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	var output string
	root := &cobra.Command{
		Use:         "buurt",
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl buurt"},
		Short:       "Your buurt teams: the ones you are a member of or coach",
		Long: "kubectl buurt shows the NeighbourhoodTeams you have a part in, through buurt's API my.buurt.dev,\n" +
			"which shows each person only their own teams.",
		SilenceUsage: true,
	}
	flags.AddFlags(root.PersistentFlags())
	mine := &cobra.Command{
		Use:   "mine",
		Short: "List the teams you are a member of or coach (all of them for a platform engineer)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := plugin.ParseFormat(output)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			c, err := clientFor(flags, myv1alpha1.AddToScheme)
			if err != nil {
				return err
			}
			list := &myv1alpha1.TeamList{}
			if err := c.List(ctx, list); err != nil {
				return explain(err)
			}
			return plugin.Mine(out, list, format, plugin.Style{Colour: isTerminal(out)}, time.Now())
		},
	}
	mine.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml; a table when left out")
	var wait time.Duration
	reconcile := &cobra.Command{
		Use:   "reconcile TEAM",
		Short: "Ask buurt to look at your team again now, its database too, and wait until it has",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := clientFor(flags, teamsv1alpha1.AddToScheme)
			if err != nil {
				return err
			}
			return reconcileTeam(cmd.Context(), c, args[0], wait, out)
		},
	}
	reconcile.Flags().DurationVar(&wait, "timeout", time.Minute, "How long to wait for buurt to have looked")
	root.AddCommand(mine, reconcile)
	return root
}

// reconcileTeam sets the team's reconcile-requested-at annotation to now
// and waits until its status says buurt handled it.
func reconcileTeam(ctx context.Context, c client.Client, name string, wait time.Duration, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	team := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: name}}
	requested := time.Now().UTC().Format(time.RFC3339Nano)
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, teamsv1alpha1.ReconcileRequestAnnotation, requested)
	if err := c.Patch(ctx, team, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("failed to ask for a reconcile of team %s: %w", name, err)
	}
	fmt.Fprintf(out, "asked buurt to reconcile team %s; waiting (usually seconds)\n", name)
	for {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, team); err != nil {
			return fmt.Errorf("failed to read team %s: %w", name, err)
		}
		if team.Status.LastHandledReconcileAt == requested {
			ready := meta.FindStatusCondition(team.Status.Conditions, teamsv1alpha1.ReadyCondition)
			if ready == nil {
				_, err := fmt.Fprintf(out, "team %s reconciled\n", name)
				return err
			}
			_, err := fmt.Fprintf(out, "team %s reconciled: Ready %s (%s): %s\n", name, ready.Status, ready.Reason, ready.Message)
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("buurt has not reconciled team %s within %s: is the operator running? "+
				"(kubectl -n buurt-system get pods)", name, wait)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// clientFor reads (and writes) the kinds addToScheme knows with the
// configuration kubectl's flags give.
func clientFor(flags *genericclioptions.ConfigFlags, addToScheme func(*runtime.Scheme) error) (client.Client, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = timeout
	scheme := runtime.NewScheme()
	if err := addToScheme(scheme); err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// explain says what to do when the API is not there.
func explain(err error) error {
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) || apierrors.IsServiceUnavailable(err) {
		return fmt.Errorf("buurt's API my.buurt.dev is not available on this cluster (%w); "+
			"ask a platform engineer whether buurt-api is installed and running "+
			"(kubectl get apiservice v1alpha1.my.buurt.dev)", err)
	}
	return err
}

// isTerminal is true when out is a terminal, which shows colour.
func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
}
