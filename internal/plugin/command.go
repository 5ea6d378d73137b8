package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// timeout bounds every call the plugin makes.
const timeout = 30 * time.Second

// Command is kubectl buurt, printing to out; now is the clock ages and
// next sleeps are counted from.
func Command(out io.Writer, now func() time.Time) *cobra.Command {
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
	// printing is the RunE of a command that reads with a client for the
	// kinds addToScheme knows, within the timeout, and prints as -o says.
	printing := func(read func(ctx context.Context, c client.Client, args []string, p printer) error,
		addToScheme ...func(*runtime.Scheme) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			format, err := ParseFormat(output)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			c, err := clientFor(flags, addToScheme...)
			if err != nil {
				return err
			}
			return read(ctx, c, args, printer{out: out, format: format, style: Style{Colour: isTerminal(out)}, now: now()})
		}
	}
	mine := &cobra.Command{
		Use:   "mine",
		Short: "List the teams you are a member of or coach (all of them for a platform engineer)",
		Args:  cobra.NoArgs,
		RunE: printing(func(ctx context.Context, c client.Client, _ []string, p printer) error {
			list := &myv1alpha1.TeamList{}
			if err := c.List(ctx, list); err != nil {
				return explain(err)
			}
			return Mine(p.out, list, p.format, p.style, p.now)
		}, myv1alpha1.AddToScheme),
	}
	describe := &cobra.Command{
		Use:   "describe TEAM",
		Short: "Show a team as a tree: its conditions, namespace, members and their access, quota use, database, apps, coach and hours",
		Args:  cobra.ExactArgs(1),
		RunE: printing(func(ctx context.Context, c client.Client, args []string, p printer) error {
			d, err := describeTeam(ctx, c, args[0])
			if err != nil {
				return err
			}
			return Describe(p.out, d, p.format, p.style, p.now)
		}, teamsv1alpha1.AddToScheme, corev1.AddToScheme),
	}
	coach := &cobra.Command{
		Use:   "coach [NAME]",
		Short: "Show a coach's teams with their health, the teams waiting for the coach, and its capacity (yours without NAME)",
		Args:  cobra.MaximumNArgs(1),
		RunE: printing(func(ctx context.Context, c client.Client, names []string, p printer) error {
			if len(names) == 0 {
				var err error
				if names, err = myCoaches(ctx, c); err != nil {
					return err
				}
			}
			coachings, err := coachings(ctx, c, names)
			if err != nil {
				return err
			}
			return Coach(p.out, coachings, p.format, p.style, p.now)
		}, teamsv1alpha1.AddToScheme, myv1alpha1.AddToScheme),
	}
	for _, cmd := range []*cobra.Command{mine, describe, coach} {
		cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml; for a terminal when left out")
	}
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
	root.AddCommand(mine, describe, coach, reconcile)
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

// printer is where and how a command prints.
type printer struct {
	out    io.Writer
	format Format
	style  Style
	now    time.Time
}

// describeTeam reads a team and its quota, as the requester may.
func describeTeam(ctx context.Context, c client.Client, name string) (Description, error) {
	team := &teamsv1alpha1.NeighbourhoodTeam{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, team); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return Description{}, fmt.Errorf("team %s: not found, or not yours to see; "+
				"kubectl buurt mine lists the teams you have a part in", name)
		}
		return Description{}, fmt.Errorf("failed to read team %s: %w", name, err)
	}
	d := Description{Team: team}
	if team.Status.Namespace == "" {
		d.QuotaProblem = "no namespace yet"
		return d, nil
	}
	quota := &corev1.ResourceQuota{}
	switch err := c.Get(ctx, client.ObjectKey{Namespace: team.Status.Namespace, Name: render.ResourceQuotaName}, quota); {
	case err == nil:
		d.Quota = quota
	case apierrors.IsNotFound(err):
		d.QuotaProblem = "none (the blueprint sets no quota)"
	case apierrors.IsForbidden(err):
		d.QuotaProblem = "not yours to read"
	default:
		d.QuotaProblem = fmt.Sprintf("could not be read: %v", err)
	}
	return d, nil
}

// myCoaches are the Coaches through which the requester coaches a team,
// as buurt's API my.buurt.dev says.
func myCoaches(ctx context.Context, c client.Client) ([]string, error) {
	list := &myv1alpha1.TeamList{}
	if err := c.List(ctx, list); err != nil {
		return nil, explain(err)
	}
	var names []string
	for _, t := range list.Items {
		if t.Status.Role == myv1alpha1.RoleCoach {
			names = append(names, t.Status.Coaches...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// coachings reads each named Coach and its teams, as the requester may:
// a coach may read their own Coach and their teams.
func coachings(ctx context.Context, c client.Client, names []string) ([]Coaching, error) {
	var out []Coaching
	for _, name := range names {
		coach := &teamsv1alpha1.Coach{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, coach); err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
				return nil, fmt.Errorf("coach %s: not found, or not yours to see; a coach sees their own Coach", name)
			}
			return nil, fmt.Errorf("failed to read coach %s: %w", name, err)
		}
		coaching := Coaching{Coach: coach}
		for _, team := range coach.Status.Teams {
			t := teamsv1alpha1.NeighbourhoodTeam{}
			switch err := c.Get(ctx, client.ObjectKey{Name: team}, &t); {
			case err == nil:
				coaching.Teams = append(coaching.Teams, t)
			case apierrors.IsNotFound(err):
				coaching.Unreadable(team, "gone")
			case apierrors.IsForbidden(err):
				coaching.Unreadable(team, "not yours to read")
			default:
				coaching.Unreadable(team, fmt.Sprintf("could not be read: %v", err))
			}
		}
		out = append(out, coaching)
	}
	return out, nil
}

// clientFor reads (and writes) the kinds addToScheme knows with the
// configuration kubectl's flags give.
func clientFor(flags *genericclioptions.ConfigFlags, addToScheme ...func(*runtime.Scheme) error) (client.Client, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = timeout
	scheme := runtime.NewScheme()
	for _, add := range addToScheme {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// explain says what to do when the API is not there, in its own words:
// the apiserver's words for it vary with what its aggregator has seen
// (nothing registered, a failed or stale discovery, a refused connection),
// a member cannot tell these apart, and kubectl get apiservice shows the
// cause to whoever can act on it.
func explain(err error) error {
	if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) {
		return errors.New("buurt's API my.buurt.dev is not answering on this cluster; " +
			"ask a platform engineer whether buurt-api is installed and running (kubectl get apiservice v1alpha1.my.buurt.dev)")
	}
	return err
}

// isTerminal is true when out is a terminal, which shows colour.
func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
}
