// Command kubectl-buurt is buurt's kubectl plugin: `kubectl buurt mine`
// lists the teams you are a member of or coach, through buurt's aggregated
// API (my.buurt.dev), with kubectl's own flags (--context, --as, ...).
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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
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
			c, err := myClient(flags)
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
	root.AddCommand(mine)
	return root
}

// myClient reads my.buurt.dev with the configuration kubectl's flags give.
func myClient(flags *genericclioptions.ConfigFlags) (client.Client, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = timeout
	scheme := runtime.NewScheme()
	if err := myv1alpha1.AddToScheme(scheme); err != nil {
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
