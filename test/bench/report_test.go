//go:build bench

package bench

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/buurt-dev/buurt/internal/countingproxy"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// results are what a run measured.
type results struct {
	p params
	// about says what was measured, on what: commit, machine, load.
	about string

	floor, buurt burst
	// floorObjects and buurtObjects are the objects each made per team
	// (buurt's counted on one team by its label), and buurtObjectKinds
	// buurt's by kind.
	floorObjects, buurtObjects int
	buurtObjectKinds           string
	// burstReconciles are the operator's reconciles during the burst, by
	// controller.
	burstReconciles reconcileCounts

	steady  steady
	idle    idle
	restart restart
	myTeams myTeams

	memoryAfterBurst, memoryAfterRestart memoryNow
	peakMiB                              float64
}

// burst is one burst of teams: from the first create until the last is
// Ready (buurt) or its Deployment Available (floor).
type burst struct {
	wall time.Duration
	cpu  cpuTimes
	// requests are the ones the client sent, until it was quiet.
	requests countingproxy.Counts
}

type steady struct {
	rate          float64
	teams         int
	p50, p99, max time.Duration
}

type idle struct {
	teams      int
	window     time.Duration
	requests   countingproxy.Counts
	reconciles float64
}

type restart struct {
	teams int
	// idle is false when the operator did not become idle in time;
	// idleAfter is then when it was last seen busy.
	idle       bool
	idleAfter  time.Duration
	requests   countingproxy.Counts
	reconciles float64
}

// myTeams is what buurt-api did over every team: how soon it served, how
// long a list took through the apiserver for each requester, and its
// memory then.
type myTeams struct {
	teams        int
	servingAfter time.Duration
	lists        []listTimes
	rssMiB       float64
}

// listTimes are the times of one requester's lists.
type listTimes struct {
	who      string
	items    int
	p50, max time.Duration
}

func newResults(p params) *results {
	return &results{p: p, about: describeRun()}
}

// floorRate is the floor's throughput, in teams per second.
func (r *results) floorRate() float64 {
	return float64(r.p.teams) / r.floor.wall.Seconds()
}

// describeRun says what is measured on what: the commit, the machine's
// CPUs and its load when the run began (another run on the machine shows
// there).
func describeRun() string {
	commit := "unknown commit"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	load := "unknown"
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if fields := strings.Fields(string(data)); len(fields) >= 3 {
			load = strings.Join(fields[:3], " ")
		}
	}
	return fmt.Sprintf("buurt %s, %d CPUs, load average %s at the start, %s", commit, runtime.NumCPU(), load,
		time.Now().Format("2006-01-02 15:04"))
}

// report is the table of docs/performance.md, in Markdown, with what the
// run was and, below, where the requests went.
func (r *results) report() string {
	n := r.p.teams
	what := fmt.Sprintf("%s %s teams", thousands(n), r.p.database)
	if r.p.apps == 0 {
		what += " (no apps)"
	}
	var b strings.Builder
	floor := "the floor creates its objects"
	switch {
	case r.p.floorApplies:
		floor = "the floor applies its objects (server-side apply)"
	case r.p.noFloor:
		floor = "no floor and no steady phase (BENCH_FLOOR=none)"
	}
	fmt.Fprintf(&b, "\n%s; %d created at a time; %s; %s.\n\n", what, r.p.concurrency, floor, r.about)
	b.WriteString("| figure | buurt | floor | ratio | goal |\n|---|---|---|---|---|\n")
	row := func(figure, buurt, floor, ratio, goal string) {
		if r.p.noFloor && floor != "—" {
			floor, ratio = "not run", "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", figure, buurt, floor, ratio, goal)
	}
	row(what+", first create → all Ready",
		seconds(r.buurt.wall), seconds(r.floor.wall), times(r.buurt.wall.Seconds(), r.floor.wall.Seconds()), "≤ 1.1× floor")
	row("requests per team at creation",
		perTeam(r.buurt.requests, n), perTeam(r.floor.requests, n),
		times(float64(r.buurt.requests.Total()), float64(r.floor.requests.Total())), "≤ 20 in total")
	row("cluster CPU for the burst (all processes)",
		cpuSeconds(r.buurt.cpu.machine), cpuSeconds(r.floor.cpu.machine), times(r.buurt.cpu.machine, r.floor.cpu.machine), "≤ 1.2× floor")
	row("… of this run's processes only (cluster, PostgreSQL, operator, benchmark)",
		fmt.Sprintf("%s (benchmark %s)", cpuSeconds(r.buurt.cpu.ours), cpuSeconds(r.buurt.cpu.bench)),
		fmt.Sprintf("%s (benchmark %s)", cpuSeconds(r.floor.cpu.ours), cpuSeconds(r.floor.cpu.bench)),
		times(r.buurt.cpu.ours, r.floor.cpu.ours), "≤ 1.2× floor")
	row("… by process", byProcess(r.buurt.cpu), byProcess(r.floor.cpu), "—", "—")
	row("reconciles per new team",
		fmt.Sprintf("%.1f", r.burstReconciles[teamController]/float64(n)), "—", "—", "≤ 1.5")
	steady := fmt.Sprintf("%s (p50 %s, %s)", seconds(r.steady.p99), seconds(r.steady.p50), plural(r.steady.teams, "team"))
	if r.p.noFloor {
		steady = "not run (its rate is the floor's)"
	}
	row(fmt.Sprintf("steady %.1f teams/s, create→Ready p99", r.steady.rate), steady, "—", "—", "≤ 1 s at 80% of the floor's throughput")
	idleAfter := "idle after " + seconds(r.restart.idleAfter)
	if !r.restart.idle {
		idleAfter = "not idle, busy until " + seconds(r.restart.idleAfter)
	}
	row(fmt.Sprintf("restart with %s unchanged teams", thousands(r.restart.teams)),
		fmt.Sprintf("%.1f writes per team (%d), %s", perTeamOf(r.restart.requests.Mutating(), r.restart.teams),
			r.restart.requests.Mutating(), idleAfter),
		"—", "—", "0 writes, idle ≤ 10 s at 1,000 teams")
	row(fmt.Sprintf("operator memory (RSS) at %s teams", thousands(n)),
		fmt.Sprintf("%s, peak %.0f MiB", r.memoryAfterBurst, r.peakMiB), "—", "—", "≤ 100 MiB; ≤ 300 MiB at 10,000")
	row(fmt.Sprintf("… after the restart, %s teams", thousands(r.restart.teams)),
		r.memoryAfterRestart.String(), "—", "—", "—")
	row(fmt.Sprintf("idle, %s teams, %s", thousands(r.idle.teams), window(r.idle.window)),
		fmt.Sprintf("%d writes, %.0f reconciles", r.idle.requests.Mutating(), r.idle.reconciles), "—", "—", "keep")
	var lists []string
	for _, l := range r.myTeams.lists {
		lists = append(lists, fmt.Sprintf("%s (%s) p50 %s, max %s", l.who, plural(l.items, "team"),
			l.p50.Round(time.Millisecond), l.max.Round(time.Millisecond)))
	}
	row(fmt.Sprintf("buurt-api over %s teams: my.buurt.dev list through the apiserver", thousands(r.myTeams.teams)),
		strings.Join(lists, "; "), "—", "—", "≤ 0.5 s")
	row("… serving after its start; its memory (RSS)",
		fmt.Sprintf("%s; %.0f MiB", seconds(r.myTeams.servingAfter), r.myTeams.rssMiB), "—", "—", "≤ 10 s; ≤ 100 MiB")
	row("objects per team (the floor makes buurt's)",
		fmt.Sprintf("%d (%s)", r.buurtObjects, r.buurtObjectKinds), fmt.Sprintf("%d", r.floorObjects), "—", "the same")

	b.WriteString("\nReconciles in the burst, by controller: ")
	b.WriteString(formatReconciles(r.burstReconciles))
	b.WriteString(".\n")
	section := func(title string, c countingproxy.Counts, teams int) {
		fmt.Fprintf(&b, "\n%s (requests: per team, and in all):\n\n", title)
		kinds := c.Kinds()
		for _, k := range topKinds(kinds, 40) {
			fmt.Fprintf(&b, "    %7.2f %7d  %s\n", perTeamOf(kinds[k], teams), kinds[k], k)
		}
	}
	section("buurt's burst", r.buurt.requests, n)
	if !r.p.noFloor {
		section("the floor's burst", r.floor.requests, n)
	}
	section("the restart", r.restart.requests, r.restart.teams)
	section("the idle window", r.idle.requests, r.idle.teams)
	return b.String()
}

// writeReport writes the report to path, making its directory.
func writeReport(path, report string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(report), 0o600)
}

// perTeam is the requests of c per team, by class.
func perTeam(c countingproxy.Counts, teams int) string {
	per := func(cl countingproxy.Class) float64 { return perTeamOf(c.Of(cl), teams) }
	return fmt.Sprintf("%.1f (%.1f writes, %.1f GETs, %.1f reviews, %.1f Events; %.1f LISTs, %.1f WATCHes)",
		perTeamOf(c.Total(), teams), per(countingproxy.ClassWrite), per(countingproxy.ClassGet),
		per(countingproxy.ClassReview), per(countingproxy.ClassEvent), per(countingproxy.ClassList), per(countingproxy.ClassWatch))
}

func perTeamOf(n int64, teams int) float64 {
	if teams == 0 {
		return 0
	}
	return float64(n) / float64(teams)
}

func seconds(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f s", d.Seconds())
}

func cpuSeconds(s float64) string {
	if s < 100 {
		return fmt.Sprintf("%.1f CPU·s", s)
	}
	return fmt.Sprintf("%.0f CPU·s", s)
}

// window is a length of time as the issue writes it: "2 min", "10 s".
func window(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}

// times is the ratio a/b as the table writes it.
func times(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func formatReconciles(r reconcileCounts) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r)) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, r[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// byProcess names the processes that used the most CPU, with their CPU
// seconds: where a difference to the floor went.
func byProcess(c cpuTimes) string {
	names := slices.Collect(maps.Keys(c.byProcess))
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(c.byProcess[b], c.byProcess[a]) })
	var parts []string
	for _, name := range names[:min(len(names), 6)] {
		parts = append(parts, fmt.Sprintf("%s %.0f", name, c.byProcess[name]))
	}
	return strings.Join(parts, ", ")
}
