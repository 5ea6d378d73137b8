//go:build bench

package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/freeport"
	"github.com/buurt-dev/buurt/internal/kinds"
	"github.com/buurt-dev/buurt/internal/myapiprocess"
	"github.com/buurt-dev/buurt/internal/operatorprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// floorPerTeam is about what the floor took per team on a two-core machine
// (241 s for 1,000 Shared teams, issue 16): the estimates printed as a phase
// starts are made from it until the floor has been measured.
const floorPerTeam = 250 * time.Millisecond

// teamController is the name controller-runtime gives the team controller
// (the kind it is for, in lower case), the label of its reconcile counter.
const teamController = "neighbourhoodteam"

// burstTimeout is how long n teams may take to become Ready (or their
// Deployments Available) before the run gives up.
func burstTimeout(n int) time.Duration {
	return 10*time.Minute + time.Duration(n)*2*time.Second
}

// floorBurst makes the floor's teams, all at once, measures them, and
// removes them again.
func (b *bench) floorBurst(ctx context.Context, blueprint *teamsv1alpha1.TeamBlueprint) error {
	n := b.p.teams
	database := ""
	if b.p.database == teamsv1alpha1.DatabaseClassShared {
		database = " and a role and a database on the shared server"
	}
	say("phase 1/7, floor: a plain client creates the objects buurt makes for %s%s, %d teams at a time, "+
		"and waits until every Deployment is Available; %s",
		plural(n, "team"), database, b.p.concurrency, about(time.Duration(n)*floorPerTeam))
	f, err := newFloor(ctx, b.env, blueprint, b.p.concurrency)
	if err != nil {
		return err
	}
	defer f.close()
	f.applies = b.p.floorApplies
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	available, err := watchFirstTimes(watchCtx, b.env.adminConfig, &appsv1.Deployment{}, deploymentAvailable)
	if err != nil {
		return err
	}
	teams := make([]*teamsv1alpha1.NeighbourhoodTeam, n)
	for i, name := range teamNames(floorTeamPrefix, n) {
		teams[i] = newTeam(name)
	}

	var mu sync.Mutex
	var deployments []string
	var lastCreated time.Time
	objectsPerTeam := map[int]int{}
	cpuBefore, err := readCPU(b.env.workDir)
	if err != nil {
		return err
	}
	requestsBefore := b.env.floorProxy.Snapshot()
	begin := time.Now()
	if err := forEach(ctx, b.p.concurrency, n, func(ctx context.Context, i int) error {
		m, err := f.makeTeam(ctx, teams[i])
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		deployments = append(deployments, m.deployments...)
		objectsPerTeam[m.objects]++
		lastCreated = time.Now()
		return nil
	}); err != nil {
		return err
	}
	lastAvailable, err := available.waitFor(ctx, deployments, burstTimeout(n))
	if err != nil {
		return fmt.Errorf("floor: the Deployments did not become Available: %w", err)
	}
	cpuAfter, err := readCPU(b.env.workDir)
	if err != nil {
		return err
	}
	end := lastCreated
	if lastAvailable.After(end) {
		end = lastAvailable
	}
	b.r.floor = burst{
		wall:     end.Sub(begin),
		cpu:      cpuAfter.since(cpuBefore),
		requests: b.env.floorProxy.Snapshot().Since(requestsBefore),
	}
	if len(objectsPerTeam) != 1 {
		return fmt.Errorf("floor: the teams got different numbers of objects (objects: teams) %v; the blueprint is the same for all", objectsPerTeam)
	}
	for objects := range objectsPerTeam {
		b.r.floorObjects = objects
	}
	say("floor: %s in %s (%.2f teams/s), %d objects each, %s (machine), %s (this run's processes)",
		plural(n, "team"), b.r.floor.wall.Round(100*time.Millisecond), b.r.floorRate(), b.r.floorObjects,
		cpuSeconds(b.r.floor.cpu.machine), cpuSeconds(b.r.floor.cpu.ours))
	stopWatching()
	return b.removeFloor(ctx, f, teams)
}

// removeFloor deletes the floor's teams and waits until their namespaces
// are gone, so that buurt starts on a cluster that holds none of them.
func (b *bench) removeFloor(ctx context.Context, f *floor, teams []*teamsv1alpha1.NeighbourhoodTeam) error {
	n := len(teams)
	say("floor: deleting its namespaces, RBAC and databases and waiting until the namespaces are gone; %s",
		about(time.Duration(n)*floorPerTeam))
	if err := forEach(ctx, b.p.concurrency, n, func(ctx context.Context, i int) error {
		return f.remove(ctx, teams[i])
	}); err != nil {
		return err
	}
	timeout := 10*time.Minute + time.Duration(n)*time.Second
	deadline := time.Now().Add(timeout)
	prefix := teamsv1alpha1.NamespacePrefix + floorTeamPrefix
	for {
		namespaces := &corev1.NamespaceList{}
		if err := b.env.admin.List(ctx, namespaces); err != nil {
			return err
		}
		left := 0
		for _, ns := range namespaces.Items {
			if strings.HasPrefix(ns.Name, prefix) {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("floor: %d of its namespaces still exist %s after they were deleted; "+
				"see the kube-controller-manager's log for the namespace controller", left, timeout)
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
	}
}

// startOperator starts the operator, waits until its webhooks answer,
// makes the teams' blueprint and waits until the operator is quiet.
func (b *bench) startOperator(ctx context.Context, blueprint *teamsv1alpha1.TeamBlueprint) error {
	say("operator: starting it, waiting for its webhooks and making blueprint %s; about 20 s", blueprint.Name)
	if err := b.env.operator.Start(); err != nil {
		return err
	}
	b.memory = &memorySampler{pid: b.env.operator.PID}
	go b.memory.run(ctx)
	if err := operatorprocess.WaitForWebhooks(ctx, b.env.admin); err != nil {
		return err
	}
	var err error
	if b.ready, err = watchFirstTimes(ctx, b.env.adminConfig, &teamsv1alpha1.NeighbourhoodTeam{}, teamReady); err != nil {
		return err
	}
	if err := b.env.admin.Create(ctx, blueprint); err != nil {
		return err
	}
	_, err = b.env.waitQuiet(ctx, time.Now(), false, 2*time.Minute)
	return err
}

// buurtBurst creates buurt's teams, all at once, and measures them until
// every one is Ready, then counts what the operator sent until it was
// quiet.
func (b *bench) buurtBurst(ctx context.Context) error {
	n := b.p.teams
	if b.p.noFloor {
		// On a machine of two cores, about 0.25 s a team with an app or a
		// database (1,000 Shared teams) and 0.1 s without (2,000 None).
		perTeam := 100 * time.Millisecond
		if b.p.apps > 0 || b.p.database != teamsv1alpha1.DatabaseClassNone {
			perTeam = 250 * time.Millisecond
		}
		say("phase 2/7, buurt: %s of blueprint bench created, %d at a time, until every one is Ready; %s",
			plural(n, "team"), b.p.concurrency, about(time.Duration(n)*perTeam))
	} else {
		say("phase 2/7, buurt: %s of blueprint bench created, %d at a time, until every one is Ready; %s (the floor took %s)",
			plural(n, "team"), b.p.concurrency, about(b.r.floor.wall*3/2), b.r.floor.wall.Round(time.Second))
	}
	names := teamNames(buurtTeamPrefix, n)
	cpuBefore, err := readCPU(b.env.workDir)
	if err != nil {
		return err
	}
	requestsBefore := b.env.operatorProxy.Snapshot()
	reconcilesBefore, err := readReconciles(ctx, b.env.operator)
	if err != nil {
		return err
	}
	// A CPU profile of the operator over the first 30 s of the burst.
	go b.keepProfile(ctx, "profile?seconds=30", "cpu")
	begin := time.Now()
	if err := forEach(ctx, b.p.concurrency, n, func(ctx context.Context, i int) error {
		return b.env.admin.Create(ctx, newTeam(names[i]))
	}); err != nil {
		return err
	}
	lastReady, err := b.ready.waitFor(ctx, names, burstTimeout(n))
	if err != nil {
		return fmt.Errorf("buurt: the teams did not become Ready: %w", err)
	}
	cpuAfter, err := readCPU(b.env.workDir)
	if err != nil {
		return err
	}
	b.r.buurt = burst{wall: lastReady.Sub(begin), cpu: cpuAfter.since(cpuBefore)}
	say("buurt: %s Ready in %s (%s the floor), %s (machine); counting what the operator sends until it is quiet for %s",
		plural(n, "team"), b.r.buurt.wall.Round(100*time.Millisecond), times(b.r.buurt.wall.Seconds(), b.r.floor.wall.Seconds()),
		cpuSeconds(b.r.buurt.cpu.machine), quietFor)
	if _, err := b.env.waitQuiet(ctx, lastReady, false, 5*time.Minute); err != nil {
		say("buurt: %v; counting what it sent so far", err)
	}
	b.r.buurt.requests = b.env.operatorProxy.Snapshot().Since(requestsBefore)
	reconcilesAfter, err := readReconciles(ctx, b.env.operator)
	if err != nil {
		return err
	}
	b.r.burstReconciles = reconcilesAfter.since(reconcilesBefore)
	if _, ok := reconcilesAfter[teamController]; !ok {
		return fmt.Errorf("the operator's metrics have no reconcile counter for controller %q (it has %v): "+
			"update teamController to the team controller's name", teamController, reconcilesAfter)
	}
	if b.r.memoryAfterBurst, err = b.memory.now(ctx, b.env.operator); err != nil {
		return err
	}
	b.keepProfile(ctx, "heap", "heap")
	b.keepProfile(ctx, "goroutine", "goroutine")
	b.r.buurtObjects, b.r.buurtObjectKinds, err = b.countObjects(ctx, names[0])
	if err != nil {
		return err
	}
	if !b.p.noFloor && b.r.buurtObjects != b.r.floorObjects {
		say("WARNING: buurt made %d objects for team %s (%s), the floor %d: the floor no longer makes what buurt makes; "+
			"change floor.makeTeam", b.r.buurtObjects, names[0], b.r.buurtObjectKinds, b.r.floorObjects)
	}
	return nil
}

// countObjects counts the objects labelled as team's, of the kinds buurt
// makes for teams, and says how many of each kind.
func (b *bench) countObjects(ctx context.Context, team string) (int, string, error) {
	total := 0
	var byKind []string
	for _, obj := range append(kinds.TeamChildren(), &corev1.Secret{}) {
		gvk, err := apiutil.GVKForObject(obj, testenv.Scheme)
		if err != nil {
			return 0, "", err
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := b.env.admin.List(ctx, list, client.MatchingLabels{teamsv1alpha1.TeamLabel: team}); err != nil {
			return 0, "", err
		}
		if len(list.Items) > 0 {
			total += len(list.Items)
			byKind = append(byKind, fmt.Sprintf("%d %s", len(list.Items), gvk.Kind))
		}
	}
	return total, strings.Join(byKind, ", "), nil
}

// steadyRate creates teams one by one at 80% of the floor's throughput and
// times each from its create to Ready.
func (b *bench) steadyRate(ctx context.Context) error {
	rate := 0.8 * b.r.floorRate()
	count := max(1, int(math.Round(rate*b.p.steady.Seconds())))
	say("phase 3/7, steady: %s at %.2f/s (80%% of the floor's throughput) for %s, each timed from create to Ready; %s",
		plural(count, "team"), rate, b.p.steady, about(b.p.steady+30*time.Second))
	names := teamNames(buurtTeamPrefix+"steady-", count)
	created := make([]time.Time, count)
	interval := time.Duration(float64(time.Second) / rate)
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for i := range count {
		if err := sleep(ctx, time.Until(begin.Add(time.Duration(i)*interval))); err != nil {
			break
		}
		wg.Go(func() {
			created[i] = time.Now()
			if err := b.env.admin.Create(ctx, newTeam(names[i])); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := b.ready.waitFor(ctx, names, b.p.steady+burstTimeout(count)); err != nil {
		return fmt.Errorf("steady: the teams did not become Ready: %w", err)
	}
	latencies := make([]time.Duration, count)
	for i, name := range names {
		at, _ := b.ready.when(name)
		latencies[i] = at.Sub(created[i])
	}
	b.r.steady = steady{rate: rate, teams: count,
		p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: percentile(latencies, 1)}
	say("steady: create→Ready p50 %s, p99 %s, max %s", b.r.steady.p50.Round(time.Millisecond),
		b.r.steady.p99.Round(time.Millisecond), b.r.steady.max.Round(time.Millisecond))
	return nil
}

// idleWindow waits until the operator is quiet and then watches it at
// rest: it should write nothing and reconcile nothing.
func (b *bench) idleWindow(ctx context.Context) error {
	teams := b.p.teams + b.r.steady.teams
	say("phase 4/7, idle: waiting until the operator is quiet, then %s with %s in which it should write and reconcile nothing; %s",
		b.p.idle, plural(teams, "team"), about(b.p.idle+30*time.Second))
	if _, err := b.env.waitQuiet(ctx, time.Now(), false, 10*time.Minute); err != nil {
		say("idle: %v; watching it anyway", err)
	}
	requestsBefore := b.env.operatorProxy.Snapshot()
	reconcilesBefore, err := readReconciles(ctx, b.env.operator)
	if err != nil {
		return err
	}
	if err := sleep(ctx, b.p.idle); err != nil {
		return err
	}
	reconcilesAfter, err := readReconciles(ctx, b.env.operator)
	if err != nil {
		return err
	}
	b.r.idle = idle{teams: teams, window: b.p.idle,
		requests:   b.env.operatorProxy.Snapshot().Since(requestsBefore),
		reconciles: reconcilesAfter.since(reconcilesBefore).sum()}
	say("idle: %d writes, %.0f reconciles, %d reads in %s", b.r.idle.requests.Mutating(), b.r.idle.reconciles,
		b.r.idle.requests.Total()-b.r.idle.requests.Mutating(), b.p.idle)
	return nil
}

// restart stops the operator as Kubernetes stops a pod and starts it
// again: with every team unchanged it should write nothing, and be idle
// soon.
func (b *bench) restart(ctx context.Context) error {
	teams := b.p.teams + b.r.steady.teams
	say("phase 5/7, restart: stopping the operator (SIGTERM) and starting it again with %s unchanged; "+
		"counting what it sends until it is idle (%s without a reconcile or a write); %s",
		plural(teams, "team"), quietFor, about(30*time.Second+time.Duration(teams)*30*time.Millisecond))
	b.env.operator.Stop()
	requestsBefore := b.env.operatorProxy.Snapshot()
	if err := b.env.operator.Start(); err != nil {
		return err
	}
	last, err := b.env.waitQuiet(ctx, b.env.operator.Started(), true, 10*time.Minute+time.Duration(teams)*100*time.Millisecond)
	if err != nil {
		say("restart: %v", err)
	}
	b.r.restart = restart{teams: teams, idle: err == nil, idleAfter: last.Sub(b.env.operator.Started()),
		requests: b.env.operatorProxy.Snapshot().Since(requestsBefore)}
	// A new process counts its reconciles from zero.
	reconciles, err := readReconciles(ctx, b.env.operator)
	if err != nil {
		return err
	}
	b.r.restart.reconciles = reconciles.sum()
	if b.r.memoryAfterRestart, err = b.memory.now(ctx, b.env.operator); err != nil {
		return err
	}
	say("restart: %d writes, %.0f reconciles, last activity %s after the start",
		b.r.restart.requests.Mutating(), b.r.restart.reconciles, b.r.restart.idleAfter.Round(100*time.Millisecond))
	return nil
}

// topKinds are the n most frequent kinds of request in kinds, most first.
func topKinds(kinds map[string]int64, n int) []string {
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if kinds[keys[i]] != kinds[keys[j]] {
			return kinds[keys[i]] > kinds[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys[:min(n, len(keys))]
}

// keepProfile saves one of the operator's profiles next to the results
// (BENCH_OUT), as bench-<name>.pprof, for `go tool pprof`; a profile that
// cannot be had is said and skipped.
func (b *bench) keepProfile(ctx context.Context, path, name string) {
	if b.p.out == "" || b.env.operator.PprofURL() == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.env.operator.PprofURL()+path, nil)
	if err != nil {
		say("no %s profile: %v", name, err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		say("no %s profile: %v", name, err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		say("no %s profile: %v (HTTP %d)", name, err, resp.StatusCode)
		return
	}
	file := filepath.Join(filepath.Dir(b.p.out), "bench-"+name+".pprof")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		say("no %s profile: %v", name, err)
		return
	}
	say("the operator's %s profile is in %s", name, file)
}

// myTeams starts buurt-api over every team, registered as an installation
// registers it, and measures how soon it serves and how long listing
// my.buurt.dev teams through the apiserver takes: as Anna, a member of
// every team (the most a member can have), as the cluster's admin (a
// platform engineer: every team), and as someone in no team; then its
// memory.
func (b *bench) myTeams(ctx context.Context) error {
	teams := b.p.teams + b.r.steady.teams
	say("phase 6/7, my teams: starting buurt-api over %s, listing my.buurt.dev teams %d times as each of three people; about 30 s",
		plural(teams, "team"), myTeamsLists)
	dir := filepath.Join(b.env.workDir, "buurt-api")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	bin := filepath.Join(dir, "buurt-api")
	if err := myapiprocess.Build(ctx, testenv.RepoRoot(), bin); err != nil {
		return err
	}
	host, err := myapiprocess.HostAddress()
	if err != nil {
		return err
	}
	port, err := freeport.Get()
	if err != nil {
		return err
	}
	if _, err := myapiprocess.Register(ctx, b.env.admin, testenv.RepoRoot(), host, int32(port)); err != nil { //nolint:gosec // a TCP port
		return err
	}
	if err := myapiprocess.WaitForCA(ctx, b.env.admin, time.Minute); err != nil {
		return err
	}
	started := time.Now()
	api, err := myapiprocess.Start(ctx, myapiprocess.Options{Bin: bin, Admin: b.env.adminConfig, Dir: dir, Host: host, Port: port,
		CertDir: operatorprocess.CertDir(b.env.workDir)})
	if err != nil {
		return err
	}
	defer api.Stop()
	people := []struct {
		who    string
		config *rest.Config
	}{
		{"a member of every team", testenv.ConfigAs(b.env.adminConfig, "anna@care.example.org", "system:authenticated")},
		{"a platform engineer", b.env.adminConfig},
		{"someone in no team", testenv.ConfigAs(b.env.adminConfig, "pieter@care.example.org", "system:authenticated")},
	}
	b.r.myTeams = myTeams{teams: teams}
	scheme := runtime.NewScheme()
	if err := myv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	for i, person := range people {
		c, err := client.New(person.config, client.Options{Scheme: scheme})
		if err != nil {
			return err
		}
		var times []time.Duration
		items := 0
		for len(times) < myTeamsLists {
			list := &myv1alpha1.TeamList{}
			begin := time.Now()
			if err := c.List(ctx, list); err != nil {
				// Until it serves, the apiserver says the API is unavailable.
				if i > 0 || time.Since(started) > 2*time.Minute {
					return fmt.Errorf("buurt-api did not list teams for %s: %w (its log: %s)", person.who, err, api.Log)
				}
				if err := sleep(ctx, 100*time.Millisecond); err != nil {
					return err
				}
				continue
			}
			if i == 0 && len(times) == 0 {
				b.r.myTeams.servingAfter = time.Since(started)
			}
			times = append(times, time.Since(begin))
			items = len(list.Items)
		}
		slices.Sort(times)
		b.r.myTeams.lists = append(b.r.myTeams.lists, listTimes{who: person.who, items: items,
			p50: times[len(times)/2], max: times[len(times)-1]})
	}
	rss, _, err := readMemory(api.PID())
	if err != nil {
		return err
	}
	b.r.myTeams.rssMiB = float64(rss) / 1024
	say("my teams: serving after %s; %d lists each; RSS %.0f MiB", b.r.myTeams.servingAfter.Round(100*time.Millisecond),
		myTeamsLists, b.r.myTeams.rssMiB)
	return nil
}

// myTeamsLists is how many times each person lists their teams.
const myTeamsLists = 20
