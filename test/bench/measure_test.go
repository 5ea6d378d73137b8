//go:build bench

package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/buurt-dev/buurt/internal/operatorprocess"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// userHZ is the unit of the CPU times in /proc: clock ticks of 1/100 s on
// every Linux this runs on (the kernel's USER_HZ, fixed by its ABI).
const userHZ = 100

// cpuTimes are CPU seconds used so far: by the whole machine, and by this
// run's processes only (the benchmark with its proxies, the cluster's
// components, PostgreSQL and the operator). The machine's figure is the one
// the goals are stated in; the second stays honest when something else
// runs on the machine at the same time.
type cpuTimes struct {
	machine, ours float64
	// bench is the benchmark's own process, a part of ours: the proxies,
	// its informers and the floor's client. The proxy costs each request
	// the same, so buurt's extra requests cost a little here too, which
	// an installation does not pay.
	bench float64
	// byProcess is ours by process name (etcd, kube-apiserver, manager,
	// postgres…), each process's own time: where the CPU went.
	byProcess map[string]float64
}

func (c cpuTimes) since(before cpuTimes) cpuTimes {
	out := cpuTimes{machine: c.machine - before.machine, ours: c.ours - before.ours, bench: c.bench - before.bench,
		byProcess: map[string]float64{}}
	for name, t := range c.byProcess {
		out.byProcess[name] = t - before.byProcess[name]
	}
	return out
}

// readCPU reads the CPU time used so far. Processes of this run are the
// benchmark and its descendants (PostgreSQL, the operator) and every
// process whose command line names workDir (the cluster's components,
// which kwokctl starts detached).
func readCPU(workDir string) (cpuTimes, error) {
	machine, err := machineBusy()
	if err != nil {
		return cpuTimes{}, err
	}
	ours, byProcess, err := ourProcessesCPU(workDir)
	if err != nil {
		return cpuTimes{}, err
	}
	self, err := readProcStat(os.Getpid())
	if err != nil {
		return cpuTimes{}, err
	}
	return cpuTimes{machine: machine, ours: ours, bench: self.own, byProcess: byProcess}, nil
}

// machineBusy is the CPU time all processes (and the kernel for them) used
// since boot, from the first line of /proc/stat: every column but idle and
// iowait.
func machineBusy() (float64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("unexpected first line of /proc/stat: %q", line)
	}
	var busy float64
	// user nice system idle iowait irq softirq steal; guest time is counted
	// in user already.
	for i, f := range fields[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, err
		}
		busy += v
	}
	return busy / userHZ, nil
}

// procStat is what /proc/<pid>/stat says of a process: its name, its
// parent, the CPU time it used and that with its waited-for children's, in
// seconds.
type procStat struct {
	name     string
	ppid     int
	own, cpu float64
}

func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	// The command name, in parentheses, may hold spaces.
	start, end := strings.IndexByte(string(data), '('), strings.LastIndexByte(string(data), ')')
	if start < 0 || end < start {
		return procStat{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[end+1:]))
	// fields[0] is the state (field 3 of proc(5)); utime, stime, cutime
	// and cstime are fields 14 to 17.
	if len(fields) < 15 {
		return procStat{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return procStat{}, err
	}
	var ticks [4]float64
	for i, f := range fields[11:15] {
		if ticks[i], err = strconv.ParseFloat(f, 64); err != nil {
			return procStat{}, err
		}
	}
	own := ticks[0] + ticks[1]
	return procStat{name: string(data[start+1 : end]), ppid: ppid, own: own / userHZ, cpu: (own + ticks[2] + ticks[3]) / userHZ}, nil
}

// ourProcessesCPU adds up the CPU time of this run's processes, in all and
// by process name. A child's time moves into its parent's once the parent
// waits for it, so a process that ended between two readings is still
// counted, by its parent.
func ourProcessesCPU(workDir string) (float64, map[string]float64, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	self := os.Getpid()
	stats := map[int]procStat{}
	ours := map[int]bool{self: true}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			// It ended while we looked.
			continue
		}
		stats[pid] = st
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(cmdline), workDir) {
			ours[pid] = true
		}
	}
	var total float64
	byName := map[string]float64{}
	for pid, st := range stats {
		if isOurs(pid, stats, ours) {
			total += st.cpu
			byName[st.name] += st.own
		}
	}
	return total, byName, nil
}

// isOurs is true for a process of ours or a descendant of one.
func isOurs(pid int, stats map[int]procStat, ours map[int]bool) bool {
	for range 64 {
		if ours[pid] {
			return true
		}
		st, ok := stats[pid]
		if !ok || st.ppid <= 1 {
			return false
		}
		pid = st.ppid
	}
	return false
}

// memorySampler reads the operator's resident memory every second,
// keeping the highest seen.
type memorySampler struct {
	pid func() int

	mu sync.Mutex
	// peakKiB is the highest VmHWM (the kernel's own peak of VmRSS) of any
	// operator process of the run, in KiB.
	peakKiB int64
}

func (m *memorySampler) run(ctx context.Context) {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		m.sample()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (m *memorySampler) sample() {
	pid := m.pid()
	if pid == 0 {
		return
	}
	_, hwm, err := readMemory(pid)
	if err != nil {
		return
	}
	m.mu.Lock()
	m.peakKiB = max(m.peakKiB, hwm)
	m.mu.Unlock()
}

// peakMiB is the highest resident memory of the operator so far.
func (m *memorySampler) peakMiB() float64 {
	m.sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	return float64(m.peakKiB) / 1024
}

// memoryNow is where the operator's resident memory is now, in MiB: the
// kernel's split of it, and the Go runtime's own figures from its metrics.
type memoryNow struct {
	rss, anon, file float64
	// heap is the Go heap's spans in use (live objects and garbage not yet
	// swept); stacks the goroutines' stacks.
	heap, stacks float64
}

func (m memoryNow) String() string {
	return fmt.Sprintf("%.0f MiB (anonymous %.0f, file-backed %.0f; Go heap in use %.0f, stacks %.0f)",
		m.rss, m.anon, m.file, m.heap, m.stacks)
}

// now reads the operator's resident memory and the Go runtime's figures.
func (m *memorySampler) now(ctx context.Context, operator *operatorprocess.Process) (memoryNow, error) {
	kib, err := readStatus(m.pid(), "VmRSS", "RssAnon", "RssFile")
	if err != nil {
		return memoryNow{}, err
	}
	metrics, err := operator.Metrics(ctx, "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes")
	if err != nil {
		return memoryNow{}, err
	}
	heap, _ := metrics.Sum("go_memstats_heap_inuse_bytes", nil)
	stacks, _ := metrics.Sum("go_memstats_stack_inuse_bytes", nil)
	return memoryNow{rss: float64(kib["VmRSS"]) / 1024, anon: float64(kib["RssAnon"]) / 1024, file: float64(kib["RssFile"]) / 1024,
		heap: heap / (1 << 20), stacks: stacks / (1 << 20)}, nil
}

// readMemory reads VmRSS and VmHWM of a process, in KiB.
func readMemory(pid int) (rss, hwm int64, err error) {
	kib, err := readStatus(pid, "VmRSS", "VmHWM")
	return kib["VmRSS"], kib["VmHWM"], err
}

// readStatus reads the given figures of a process's /proc status, in KiB.
func readStatus(pid int, keys ...string) (map[string]int64, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, err
	}
	kib := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || !slices.Contains(keys, key) {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected %s in /proc/%d/status: %q", key, pid, value)
		}
		kib[key] = n
	}
	for _, key := range keys {
		if _, ok := kib[key]; !ok {
			return nil, fmt.Errorf("/proc/%d/status has no %s", pid, key)
		}
	}
	return kib, nil
}

// reconcileCounts are the operator's reconciles so far, by controller, from
// controller-runtime's controller_runtime_reconcile_total (all results).
type reconcileCounts map[string]float64

// sum is the reconciles of every controller.
func (r reconcileCounts) sum() float64 {
	var n float64
	for _, v := range r {
		n += v
	}
	return n
}

// since is the reconciles between before and r, by controller.
func (r reconcileCounts) since(before reconcileCounts) reconcileCounts {
	out := reconcileCounts{}
	for k, v := range r {
		out[k] = v - before[k]
	}
	return out
}

// readReconciles reads the operator's reconcile counters from its metrics.
func readReconciles(ctx context.Context, operator *operatorprocess.Process) (reconcileCounts, error) {
	m, err := operator.Metrics(ctx, "controller_runtime_reconcile_total")
	if err != nil {
		return nil, err
	}
	return m.SumBy("controller_runtime_reconcile_total", "controller"), nil
}

// firstTimes records when each object was first seen in some state, from
// an informer of the benchmark's own (not through a proxy).
type firstTimes struct {
	// state is the key of an object in the state, and whether it is.
	state func(obj any) (string, bool)

	mu sync.Mutex
	at map[string]time.Time
}

// watchFirstTimes starts an informer for objects of obj's kind, direct to
// the apiserver, that records when each reaches state; it stops with ctx.
func watchFirstTimes(ctx context.Context, cfg *rest.Config, obj client.Object, state func(any) (string, bool)) (*firstTimes, error) {
	f := &firstTimes{state: state, at: map[string]time.Time{}}
	c, err := cache.New(cfg, cache.Options{Scheme: testenv.Scheme})
	if err != nil {
		return nil, err
	}
	informer, err := c.GetInformer(ctx, obj)
	if err != nil {
		return nil, err
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    f.see,
		UpdateFunc: func(_, obj any) { f.see(obj) },
	}); err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, errors.New("the benchmark's informer did not sync")
	}
	return f, nil
}

func (f *firstTimes) see(obj any) {
	now := time.Now()
	key, ok := f.state(obj)
	if !ok {
		return
	}
	f.mu.Lock()
	if _, seen := f.at[key]; !seen {
		f.at[key] = now
	}
	f.mu.Unlock()
}

// when is when key was first seen in the state.
func (f *firstTimes) when(key string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.at[key]
	return t, ok
}

// waitFor waits until every key has been seen in the state, or until
// timeout, and returns the latest time one was first seen. On timeout it
// says how many are missing and names a few.
func (f *firstTimes) waitFor(ctx context.Context, keys []string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		var last time.Time
		var missing []string
		for _, k := range keys {
			t, ok := f.when(k)
			if !ok {
				missing = append(missing, k)
				continue
			}
			if t.After(last) {
				last = t
			}
		}
		if len(missing) == 0 {
			return last, nil
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("%d of %d not there after %s, among them %s",
				len(missing), len(keys), timeout, strings.Join(missing[:min(5, len(missing))], ", "))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return last, err
		}
	}
}

// quietFor is how long the operator must do nothing to count as idle.
const quietFor = 5 * time.Second

// waitQuiet waits until the operator has been quiet for quietFor: no
// reconcile ended and no mutating request was sent. Reads do not count: the
// operator looks at each shared server's admin Secret every few seconds for
// as long as it runs. It returns when the last activity was seen (since,
// when none was). With afterReconcile, quiet counts only once a reconcile
// has been seen, so that a starting operator is not taken for an idle one.
func (e *env) waitQuiet(ctx context.Context, since time.Time, afterReconcile bool, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	last := since
	var previous reconcileCounts
	sawReconcile := false
	for {
		now := time.Now()
		current, err := readReconciles(ctx, e.operator)
		if err == nil {
			if previous != nil && current.sum() != previous.sum() {
				last = now
				sawReconcile = true
			}
			if previous == nil && current.sum() > 0 && afterReconcile {
				// A process started at since has reconciled already.
				last, sawReconcile = now, true
			}
			previous = current
		}
		if m := e.operatorProxy.LastMutation(); m.After(last) {
			last = m
		}
		if now.Sub(last) >= quietFor && (sawReconcile || !afterReconcile) {
			return last, nil
		}
		if now.After(deadline) {
			return last, fmt.Errorf("the operator was not quiet for %s within %s (last activity %s ago)",
				quietFor, timeout, now.Sub(last).Round(time.Second))
		}
		if err := sleep(ctx, quietPoll); err != nil {
			return last, err
		}
	}
}

// quietPoll is how often waitQuiet reads the operator's reconcile counter.
// Each read makes the operator collect all its metrics (about 36 ms of CPU
// at 1,200 teams, BenchmarkScrape): read five times a second, that slowed
// the restart it measured.
const quietPoll = time.Second

// percentile is the p-th percentile (0 < p ≤ 1) of durations, by nearest
// rank.
func percentile(durations []time.Duration, p float64) time.Duration {
	if len(durations) == 0 {
		return 0
	}
	sorted := slices.Clone(durations)
	slices.Sort(sorted)
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("percentile %v: got %s, want %s", tc.p, got, tc.want)
		}
	}
	if got := percentile(d[:1], 0.99); got != 100*time.Millisecond {
		t.Errorf("percentile of one: got %s", got)
	}
}
