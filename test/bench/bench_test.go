//go:build bench

// Package bench measures buurt at scale on a local cluster (kwok, with the
// control plane built from source) and PostgreSQL, side by side with a
// floor: a plain client that creates the same objects (and role and
// database) for the same number of teams, at the same concurrency. The
// operator is the real binary, run as a pod runs it (its ServiceAccount's
// token, default client settings), behind a counting proxy, so that every
// request it sends is attributed to it exactly. Absolute times are not
// stable on small shared machines; the ratios to the floor, measured in the
// same run, are what to compare. See docs/performance.md.
//
// Run it with `make bench`; the parameters are environment variables
// (params).
package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// buurtTeamPrefix names the teams buurt is given.
const buurtTeamPrefix = "bench-"

// params are the benchmark's settings, from the environment.
type params struct {
	// teams is how many teams the bursts make (BENCH_TEAMS, 1000).
	teams int
	// database is the blueprint's database class (BENCH_DATABASE, Shared
	// or None).
	database teamsv1alpha1.DatabaseClass
	// concurrency is how many teams are created at once, by buurt's
	// clients and by the floor (BENCH_CONCURRENCY, 16).
	concurrency int
	// apps is how many apps each team runs (BENCH_APPS, 1, or 0 for a
	// machine that cannot hold as many Deployments as teams).
	apps int
	// steady is how long teams are created at a steady rate
	// (BENCH_STEADY_SECONDS, 60).
	steady time.Duration
	// idle is how long the operator is watched at rest
	// (BENCH_IDLE_SECONDS, 120).
	idle time.Duration
	// out is a file the results table is written to as well
	// (BENCH_OUT; none when empty).
	out string
	// floorApplies makes the floor apply its objects (server-side apply,
	// as buurt does) rather than create them (BENCH_FLOOR=apply; create by
	// default): what the apiserver's side of applying costs.
	floorApplies bool
	// noFloor leaves the floor out, and with it the steady phase, whose
	// rate comes from the floor (BENCH_FLOOR=none): for a run that is to
	// measure buurt alone at a scale where the floor would double hours.
	noFloor bool
}

func paramsFromEnv() (params, error) {
	p := params{database: teamsv1alpha1.DatabaseClass(envOr("BENCH_DATABASE", "Shared")), out: os.Getenv("BENCH_OUT")}
	if p.database != teamsv1alpha1.DatabaseClassShared && p.database != teamsv1alpha1.DatabaseClassNone {
		return p, fmt.Errorf("BENCH_DATABASE must be Shared or None, not %q", p.database)
	}
	switch floor := envOr("BENCH_FLOOR", "create"); floor {
	case "create":
	case "apply":
		p.floorApplies = true
	case "none":
		p.noFloor = true
	default:
		return p, fmt.Errorf("BENCH_FLOOR must be create, apply or none, not %q", floor)
	}
	var steady, idle int
	for _, v := range []struct {
		name     string
		into     *int
		def, min int
	}{
		{"BENCH_TEAMS", &p.teams, 1000, 1},
		{"BENCH_CONCURRENCY", &p.concurrency, 16, 1},
		{"BENCH_APPS", &p.apps, 1, 0},
		{"BENCH_STEADY_SECONDS", &steady, 60, 1},
		{"BENCH_IDLE_SECONDS", &idle, 120, 1},
	} {
		s := envOr(v.name, strconv.Itoa(v.def))
		n, err := strconv.Atoi(s)
		if err != nil || n < v.min {
			return p, fmt.Errorf("%s must be a whole number of at least %d, not %q", v.name, v.min, s)
		}
		*v.into = n
	}
	if p.apps > 1 {
		return p, fmt.Errorf("BENCH_APPS must be 0 or 1, not %d", p.apps)
	}
	p.steady, p.idle = time.Duration(steady)*time.Second, time.Duration(idle)*time.Second
	return p, nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// TestBench runs every phase and prints the table of docs/performance.md.
func TestBench(t *testing.T) {
	p, err := paramsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	// The benchmark's informers say what goes wrong with them here.
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	// Ctrl-C ends the run through its clean-up, and so does the test's
	// timeout: the run stops a few minutes before it, leaving no cluster,
	// server or operator behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-3*time.Minute))
		defer cancel()
	}
	say("benchmark: %d teams, database %s, %d app(s) per team, %d at a time; steady %s, idle %s",
		p.teams, p.database, p.apps, p.concurrency, p.steady, p.idle)
	e, err := setUp(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	// The run's informers and memory sampler stop before the cluster and
	// the operator do.
	runCtx, stopRun := context.WithCancel(ctx)
	defer func() {
		stopRun()
		e.tearDown(t.Failed())
	}()

	b := &bench{env: e, p: p, r: newResults(p)}
	if err := b.run(runCtx); err != nil {
		t.Fatal(err)
	}
	table := b.r.report()
	fmt.Println(table)
	if p.out != "" {
		if err := writeReport(p.out, table); err != nil {
			t.Fatal(err)
		}
		say("the results are in %s", p.out)
	}
}

// bench is one run: its environment, settings and what it measured.
type bench struct {
	env    *env
	p      params
	r      *results
	memory *memorySampler
	// ready records when each of buurt's teams first became Ready.
	ready *firstTimes
}

// run runs the phases in order. The floor comes first, in the same cluster,
// before the operator starts: both then run on the same apiserver, etcd,
// controller manager and fake nodes, and the operator never sees the
// floor's objects (which carry buurt's labels). A second cluster would
// double what this two-core machine holds or add minutes of set-up, and
// order helps the floor if anything: buurt runs on an etcd that has held
// and deleted the floor's objects, so a ratio errs against buurt.
func (b *bench) run(ctx context.Context) error {
	blueprint := benchBlueprint(b.p)
	if b.p.noFloor {
		say("phase 1/7, floor: left out (BENCH_FLOOR=none), and phase 3/7 with it")
	} else if err := b.floorBurst(ctx, blueprint); err != nil {
		return err
	}
	if err := b.startOperator(ctx, blueprint); err != nil {
		return err
	}
	if err := b.buurtBurst(ctx); err != nil {
		return err
	}
	if !b.p.noFloor {
		if err := b.steadyRate(ctx); err != nil {
			return err
		}
	}
	if err := b.idleWindow(ctx); err != nil {
		return err
	}
	if err := b.restart(ctx); err != nil {
		return err
	}
	if err := b.myTeams(ctx); err != nil {
		return err
	}
	b.r.peakMiB = b.memory.peakMiB()
	say("phase 7/7, memory: the operator's resident memory, read every second: %s after the burst, %s after the restart, peak %.0f MiB",
		b.r.memoryAfterBurst, b.r.memoryAfterRestart, b.r.peakMiB)
	return nil
}

// benchBlueprint is the blueprint of every team, buurt's and the floor's:
// DESIGN.md's, with one small app (using the database when there is one),
// as the tests' fixtures have it.
func benchBlueprint(p params) *teamsv1alpha1.TeamBlueprint {
	bp := testenv.DesignBlueprint("bench")
	if p.database == teamsv1alpha1.DatabaseClassShared {
		bp.Spec.Database = testenv.SharedDatabase(adminSecretName)
	}
	bp.Spec.AllowedRegistries = []string{"registry.example.org/care/"}
	if p.apps > 0 {
		bp.Spec.Apps = []teamsv1alpha1.App{{
			Name: "care-planner", Image: "registry.example.org/care/planner:1.4.2", Port: 8080,
			Database: ptr.To(p.database == teamsv1alpha1.DatabaseClassShared),
		}}
	}
	return bp
}

// newTeam is a team of the bench blueprint with one member.
func newTeam(name string) *teamsv1alpha1.NeighbourhoodTeam {
	return &teamsv1alpha1.NeighbourhoodTeam{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{
			Neighbourhood: "riverside", Blueprint: "bench",
			Members: []teamsv1alpha1.Subject{{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna@care.example.org"}},
		},
	}
}

// teamNames are n team names: prefix and a number.
func teamNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return names
}

// teamReady is the name of a team that is Ready for its current spec.
func teamReady(obj any) (string, bool) {
	team, ok := obj.(*teamsv1alpha1.NeighbourhoodTeam)
	if !ok {
		return "", false
	}
	for _, c := range team.Status.Conditions {
		if c.Type == teamsv1alpha1.ReadyCondition && c.Status == metav1.ConditionTrue && c.ObservedGeneration == team.Generation {
			return team.Name, true
		}
	}
	return "", false
}

// forEach runs do for 0..n-1, concurrency at a time, and returns the first
// error; after one, no new call starts.
func forEach(ctx context.Context, concurrency, n int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(concurrency, n) {
		wg.Go(func() {
			for i := range next {
				if err := do(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// start is when the run began, for the time stamps of say.
var start = time.Now()

// say prints a line of progress at once (the whole run is long), with the
// time since the run began.
func say(format string, args ...any) {
	elapsed := time.Since(start).Round(time.Second)
	fmt.Fprintf(os.Stderr, "[%s %s] %s\n", time.Now().Format("15:04:05"), elapsed, fmt.Sprintf(format, args...))
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return nil
	}
}

// about rounds an estimate for a reader: seconds under two minutes,
// minutes above.
func about(d time.Duration) string {
	if d < 2*time.Minute {
		return fmt.Sprintf("about %d s", int(d.Seconds()+0.5))
	}
	return fmt.Sprintf("about %d min", int(d.Minutes()+0.5))
}

// plural is "1 team", "2 teams".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return thousands(n) + " " + what + "s"
}

// thousands writes n with a comma between thousands, as the table
// does.
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
