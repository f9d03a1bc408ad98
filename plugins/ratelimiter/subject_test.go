package ratelimiter

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/plugins/ratelimiter/internal/testredis"
	"github.com/demohost/demohost/plugins/ratelimiter/limiter"
	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/leftovers"
	"github.com/demohost/demohost/sdk/markup"
	"github.com/demohost/demohost/sdk/process"
)

// pluginBinary is the plugin built once for the tests: the local runtime
// runs it in node mode.
var pluginBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ratelimiter-test-")
	if err != nil {
		panic(err)
	}
	pluginBinary = filepath.Join(dir, "demohost-ratelimiter")
	build := exec.Command("go", "build", "-o", pluginBinary, "./cmd/demohost-ratelimiter")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the plugin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// setUp configures and sets up a subject with opts (over the defaults) and
// tears it down when the test ends. The subject's HealthChanged calls are
// counted in s.pushes.
func setUp(t *testing.T, opts map[string]string) (*Subject, *progressLog) {
	t.Helper()
	if opts["redis_binary"] != "embedded" {
		testredis.Need(t)
	}
	s := New()
	s.NodeBinary = pluginBinary
	s.StateDir = t.TempDir()
	configure(t, s, opts)
	log := &progressLog{}
	if err := s.Setup(context.Background(), sdk.SetupRequest{Progress: log.progress(), HealthChanged: log.pushed}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Teardown(context.Background(), sdk.TeardownRequest{}); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	waitHealth(t, s, 15*time.Second, "every node UP", allUp)
	return s, log
}

// configure hands Configure every option, as the host does: the defaults,
// with set over them.
func configure(t *testing.T, s *Subject, set map[string]string) {
	t.Helper()
	if err := s.Configure(context.Background(), sdk.ConfigureRequest{Options: defaults(s, set)}); err != nil {
		t.Fatal(err)
	}
}

func defaults(s *Subject, set map[string]string) sdk.Options {
	d, _ := s.Describe(context.Background())
	opts := sdk.Options{}
	for _, o := range d.Options {
		opts[o.Name] = o.Default
	}
	maps.Copy(opts, set)
	return opts
}

// progressLog keeps the progress lines (with their severity) and counts
// HealthChanged calls.
type progressLog struct {
	mu     sync.Mutex
	lines  []string
	pushes atomic.Int64
}

func (p *progressLog) progress() sdk.Progress {
	return sdk.NewProgress(func(sev sdk.Severity, msg string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.lines = append(p.lines, sev.String()+" "+msg)
	})
}

func (p *progressLog) pushed() { p.pushes.Add(1) }

func (p *progressLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitHealth polls Health until cond holds, failing the test at the deadline
// with the last snapshot.
func waitHealth(t testing.TB, s *Subject, d time.Duration, what string, cond func(sdk.HealthSnapshot) bool) sdk.HealthSnapshot {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		h, err := s.Health(context.Background())
		if err == nil && cond(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last health: %v (err %v)", d, what, describeHealth(h), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func describeHealth(h sdk.HealthSnapshot) string {
	var b strings.Builder
	for _, n := range h.Nodes {
		fmt.Fprintf(&b, "%s=%s(%s) ", n.ID, n.State, n.Detail)
	}
	for _, m := range h.Metrics {
		fmt.Fprintf(&b, "%s=%.1f ", m.Name, m.Value)
	}
	for _, v := range h.Violations {
		fmt.Fprintf(&b, "[%s %s: %s] ", v.Invariant, v.Target, v.Message)
	}
	return b.String()
}

func allUp(h sdk.HealthSnapshot) bool {
	if len(h.Nodes) == 0 {
		return false
	}
	for _, n := range h.Nodes {
		if n.State != sdk.Up {
			return false
		}
	}
	return true
}

func violation(inv string) func(sdk.HealthSnapshot) bool {
	return func(h sdk.HealthSnapshot) bool {
		for _, v := range h.Violations {
			if v.Invariant == inv {
				return true
			}
		}
		return false
	}
}

func noViolations(h sdk.HealthSnapshot) bool { return len(h.Violations) == 0 }

func metric(h sdk.HealthSnapshot, name string) float64 {
	for _, m := range h.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	return -1
}

// inject starts a fault through InjectChaos and reverts it when the test
// ends (reverting twice is no error).
func inject(t testing.TB, s *Subject, f sdk.Fault) sdk.Injected {
	t.Helper()
	inj, err := s.InjectChaos(context.Background(), sdk.InjectRequest{Fault: f})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.RevertChaos(context.Background(), sdk.RevertRequest{Handle: inj.Handle, Fault: f, Target: inj.Target})
	})
	return inj
}

// revert reverts inj and returns the line it says.
func revert(t testing.TB, s *Subject, inj sdk.Injected) string {
	t.Helper()
	rev, err := s.RevertChaos(context.Background(), sdk.RevertRequest{Handle: inj.Handle, Target: inj.Target})
	if err != nil {
		t.Fatal(err)
	}
	return rev.Detail
}

var (
	pauseRedis = sdk.Fault{Kind: sdk.RedisPause}
	killNode2  = sdk.Fault{Kind: sdk.ContainerKill, Target: "node-2"}
)

func burstOf(key, multiplier string) sdk.Fault {
	return sdk.Fault{Kind: sdk.BurstTraffic, Target: key, Params: sdk.Options{"multiplier": multiplier}}
}

func TestRedisPauseFailOpenOverAdmitsAndIsDetected(t *testing.T) {
	s, _ := setUp(t, nil)
	waitHealth(t, s, 10*time.Second, "the hot tenant to be throttled", func(h sdk.HealthSnapshot) bool { return metric(h, "denied") > 0 })
	if h, _ := s.Health(context.Background()); !noViolations(h) {
		t.Fatalf("violations before any fault: %s", describeHealth(h))
	}

	inj := inject(t, s, pauseRedis)
	pid := s.cl.(*localCluster).redis.Pid()
	if want := fmt.Sprintf("SIGSTOP redis-server pid %d", pid); !strings.HasPrefix(inj.Detail, "paused Redis at "+s.cl.RedisAddr()) || !strings.HasSuffix(inj.Detail, want) {
		t.Fatalf("inject detail %q: want where and %q", inj.Detail, want)
	}
	waitHealth(t, s, 5*time.Second, "the kernel to report Redis stopped", func(sdk.HealthSnapshot) bool {
		return s.cl.RedisState(context.Background()) == sdk.Paused
	})
	h := waitHealth(t, s, 5*time.Second, "redis_unreachable", violation(invRedisUnreachable))
	if h.Nodes[0].State != sdk.Paused {
		t.Fatalf("redis shown as %s, want PAUSED", h.Nodes[0].State)
	}
	h = waitHealth(t, s, 5*time.Second, "over_limit", violation(invOverLimit))
	if metric(h, "fail_open_admits") <= 0 {
		t.Fatalf("over_limit without fail-open admissions: %s", describeHealth(h))
	}

	if got, want := revert(t, s, inj), fmt.Sprintf("SIGCONT redis-server pid %d", pid); got != want {
		t.Fatalf("revert says %q, want %q", got, want)
	}
	if got := revert(t, s, inj); got != fmt.Sprintf("SIGCONT redis-server pid %d", pid) {
		t.Fatalf("reverting twice says %q", got)
	}
	waitHealth(t, s, 5*time.Second, "counter_drift once Redis answers", violation(invCounterDrift))
	waitHealth(t, s, 5*time.Second, "redis_unreachable to clear", func(h sdk.HealthSnapshot) bool { return !violation(invRedisUnreachable)(h) })
	waitHealth(t, s, 20*time.Second, "every violation to clear", noViolations)
}

func TestFailClosedDoesNotOverAdmit(t *testing.T) {
	s, _ := setUp(t, map[string]string{"fail_policy": "closed"})
	inject(t, s, pauseRedis)
	waitHealth(t, s, 5*time.Second, "redis_unreachable", violation(invRedisUnreachable))
	before := s.stats.denied.Load()
	waitHealth(t, s, 5*time.Second, "checks denied while Redis is paused", func(sdk.HealthSnapshot) bool { return s.stats.denied.Load() > before+20 })
	h, _ := s.Health(context.Background())
	if violation(invOverLimit)(h) || metric(h, "fail_open_admits") != 0 {
		t.Fatalf("fail closed over-admitted: %s", describeHealth(h))
	}
}

func TestStaleCacheGhostAllowsAndIsDetected(t *testing.T) {
	s, _ := setUp(t, map[string]string{"cache_ttl": "3s"})
	var status progressLog
	if err := s.blockTenant(context.Background(), status.progress()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status.String(), "WARNING node-2 still applies limit 20") {
		t.Fatalf("no node warned of a stale limit:\n%s", status.String())
	}
	inj := inject(t, s, burstOf(blockedKey, "3"))
	h := waitHealth(t, s, 5*time.Second, "ghost_allowing", violation(invGhostAllowing))
	if metric(h, "ghost_admits") <= 0 {
		t.Fatalf("ghost_allowing without ghost admissions: %s", describeHealth(h))
	}
	b := waitBurst(t, s)
	// node-1 took the change and refuses; the stale nodes let through up to
	// the old limit.
	if b.Allowed == 0 || b.Allowed > 20 || b.Sources["limit_zero"] == 0 {
		t.Fatalf("burst of the blocked tenant: %+v", b)
	}
	if got, want := revert(t, s, inj), fmt.Sprintf("the burst for %s had ended: %d sent, %d allowed, %d denied", blockedKey, b.Sent, b.Allowed, b.Denied); got != want {
		t.Fatalf("revert says %q, want %q", got, want)
	}
	// Once every cache has expired the blocked tenant is denied everywhere.
	waitHealth(t, s, 20*time.Second, "ghost_allowing to clear", func(h sdk.HealthSnapshot) bool { return !violation(invGhostAllowing)(h) })
}

// waitBurst waits for the last burst to end and returns what it did.
func waitBurst(t *testing.T, s *Subject) burstResult {
	t.Helper()
	waitHealth(t, s, 10*time.Second, "the burst to end", func(sdk.HealthSnapshot) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.lastBurst != nil
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.lastBurst
}

func TestNodeKillIsDetectedAndRevertStartsItAgain(t *testing.T) {
	s, _ := setUp(t, nil)
	pid := s.cl.(*localCluster).nodes[1].Pid()
	inj := inject(t, s, killNode2)
	if want := fmt.Sprintf("killed node-2: SIGKILL pid %d", pid); inj.Detail != want {
		t.Fatalf("inject detail %q, want %q", inj.Detail, want)
	}
	h := waitHealth(t, s, 5*time.Second, "node_down", violation(invNodeDown))
	if h.Violations[0].Target != "node-2" {
		t.Fatalf("node_down on %s, want node-2", h.Violations[0].Target)
	}
	before := s.stats.allowed.Load()
	waitHealth(t, s, 5*time.Second, "the other nodes to keep admitting", func(sdk.HealthSnapshot) bool { return s.stats.allowed.Load() > before+10 })
	got := revert(t, s, inj)
	if want := fmt.Sprintf("started node-2 again (pid %d)", s.cl.(*localCluster).nodes[1].Pid()); got != want {
		t.Fatalf("revert says %q, want %q", got, want)
	}
	waitHealth(t, s, 10*time.Second, "all nodes UP again", allUp)
	if got := revert(t, s, inj); !strings.HasPrefix(got, "node-2 was running already") {
		t.Fatalf("reverting twice says %q", got)
	}
	if _, err := s.InjectChaos(context.Background(), sdk.InjectRequest{Fault: sdk.Fault{Kind: sdk.ContainerKill, Target: "node-9"}}); err == nil || !strings.Contains(err.Error(), "node-1") {
		t.Fatalf("killing an unknown node: err = %v, want one naming the nodes", err)
	}
}

func TestSetupReconcilesLeftoversOfACrashedRun(t *testing.T) {
	crashed, _ := setUp(t, nil)
	// File the crashed run's record under a plugin process that is gone
	// (this test process is, of course, still alive).
	book := func() string {
		return filepath.Join(crashed.StateDir, "plugin-"+leftovers.OwnerID(crashed.owner)+".state")
	}
	old := book()
	crashed.owner.Start++
	if err := os.Rename(old, book()); err != nil {
		t.Fatal(err)
	}
	inj := inject(t, crashed, pauseRedis)
	leftRedis, err := process.ParseIdentity(strings.TrimPrefix(inj.Handle, redisPausePrefix+"local:"))
	if err != nil {
		t.Fatal(err)
	}
	leftNode := crashed.cl.(*localCluster).nodes[0].Identity()
	testkit.WaitFor(t, 5*time.Second, "the kernel to report the leftover Redis stopped", leftRedis.Stopped)

	// A fresh plugin process (same state file) sets up while the first one's
	// paused Redis and its nodes are still there.
	fresh := New()
	fresh.NodeBinary, fresh.StateDir = pluginBinary, crashed.StateDir
	configure(t, fresh, nil)
	var log progressLog
	if err := fresh.Setup(context.Background(), sdk.SetupRequest{Progress: log.progress()}); err != nil {
		t.Fatal(err)
	}
	defer fresh.Teardown(context.Background(), sdk.TeardownRequest{})
	if !strings.Contains(log.String(), fmt.Sprintf("WARNING stopped leftover redis (pid %d) from an earlier run that did not finish; it was still paused", leftRedis.Pid)) {
		t.Fatalf("setup did not warn of the paused leftover Redis:\n%s", log.String())
	}
	if leftRedis.Alive() || leftNode.Alive() {
		t.Fatalf("leftovers still alive: redis %v, node-1 %v", leftRedis.Alive(), leftNode.Alive())
	}
	waitHealth(t, fresh, 15*time.Second, "the fresh cluster UP", allUp)
	// The stale handle reverts without error, touches nothing new and says so.
	if got, want := revert(t, fresh, inj), fmt.Sprintf("Redis pid %d is gone: nothing left paused", leftRedis.Pid); got != want {
		t.Fatalf("reverting the crashed run's handle says %q, want %q", got, want)
	}
}

func TestSetupLeavesAConcurrentRunAlone(t *testing.T) {
	running, _ := setUp(t, nil)
	other := New()
	other.NodeBinary, other.StateDir = pluginBinary, running.StateDir
	// Another plugin process files its record under its own identity.
	other.owner.Start += 7
	configure(t, other, nil)
	var log progressLog
	if err := other.Setup(context.Background(), sdk.SetupRequest{Progress: log.progress()}); err != nil {
		t.Fatal(err)
	}
	defer other.Teardown(context.Background(), sdk.TeardownRequest{})
	if strings.Contains(log.String(), "leftover") {
		t.Fatalf("a second demo stopped the first one's processes:\n%s", log.String())
	}
	if !running.cl.(*localCluster).redis.Identity().Alive() {
		t.Fatal("the first demo's Redis is gone")
	}
}

func TestConfigureRejectsBadOptions(t *testing.T) {
	s := New()
	for opt, want := range map[string]string{
		"nodes=1":                    "want 2 to 9",
		"limit=0":                    "want 1 or more",
		"window=10ms":                "want 100ms or more",
		"base_port=80":               "1024 to 65000",
		"redis_binary=/no/such/file": "apt-get install redis-server",
	} {
		k, v, _ := strings.Cut(opt, "=")
		err := s.Configure(context.Background(), sdk.ConfigureRequest{Options: defaults(s, map[string]string{k: v})})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want one saying %q", opt, err, want)
		}
	}
}

// TestEmbeddedRedisFallback runs the local runtime on the embedded
// Redis-compatible server (what users without redis-server get): the script
// runs there too, and a SIGSTOP of it is detected the same way.
func TestEmbeddedRedisFallback(t *testing.T) {
	s, log := setUp(t, map[string]string{"redis_binary": "embedded"})
	if !strings.Contains(log.String(), "WARNING redis-server not found: using the embedded Redis-compatible server (miniredis)") {
		t.Fatalf("setup did not warn that it uses the embedded server:\n%s", log)
	}
	waitHealth(t, s, 10*time.Second, "the hot tenant throttled by the script", func(h sdk.HealthSnapshot) bool { return metric(h, "denied") > 0 })
	inject(t, s, pauseRedis)
	waitHealth(t, s, 5*time.Second, "redis_unreachable", violation(invRedisUnreachable))
	waitHealth(t, s, 5*time.Second, "over_limit", violation(invOverLimit))
}

// With Redis healthy, a burst of 3 × the limit over the three node
// processes admits exactly the limit, and the audit sees no over-admission.
func TestBurstWithHealthyRedisAdmitsTheLimit(t *testing.T) {
	s, _ := setUp(t, nil)
	inj := inject(t, s, burstOf("tenant:burst", "3"))
	if want := "burst of 60 checks for tenant:burst across 3 nodes (3 × limit 20)"; inj.Detail != want {
		t.Fatalf("inject detail %q, want %q", inj.Detail, want)
	}
	b := waitBurst(t, s)
	if b.Sent != 60 || b.Allowed != 20 || b.Sources["redis"] != 60 {
		t.Fatalf("burst of 60 over 3 nodes, limit 20: %+v", b)
	}
	h := waitHealth(t, s, 5*time.Second, "the audit to count the burst", func(h sdk.HealthSnapshot) bool {
		for _, c := range h.Counters {
			if c.Key == "tenant:burst" && c.Count == 20 {
				return true
			}
		}
		return false
	})
	if violation(invOverLimit)(h) || violation(invCounterDrift)(h) {
		t.Fatalf("violations after a burst with Redis healthy: %s", describeHealth(h))
	}
}

// The declared multiplier parameter sets the burst's size: half the limit
// sends 10 checks, all admitted; and a value out of range is refused.
func TestBurstMultiplierSetsTheBurstSize(t *testing.T) {
	s, _ := setUp(t, map[string]string{"traffic": "0"})
	inject(t, s, burstOf("tenant:half", "0.5"))
	if b := waitBurst(t, s); b.Sent != 10 || b.Allowed != 10 {
		t.Fatalf("burst at multiplier 0.5, limit 20: %+v; want 10 sent, 10 allowed", b)
	}
	_, err := s.InjectChaos(context.Background(), sdk.InjectRequest{Fault: burstOf("tenant:x", "0")})
	if err == nil || !strings.Contains(err.Error(), "multiplier=0: want 0.1 to 1000") {
		t.Fatalf("multiplier 0: %v", err)
	}
}

// Reverting a burst that still runs stops it and says how far it got.
func TestRevertStopsARunningBurst(t *testing.T) {
	s, _ := setUp(t, map[string]string{"traffic": "0"})
	inj := inject(t, s, burstOf("tenant:big", "1000")) // 20,000 checks
	waitHealth(t, s, 10*time.Second, "the burst to start deciding", func(sdk.HealthSnapshot) bool { return s.stats.allowed.Load() > 0 })
	got := revert(t, s, inj)
	b := waitBurst(t, s)
	if b.Sent >= 20000 || got != fmt.Sprintf("stopped the burst for tenant:big after %d checks (%d allowed, %d denied)", b.Sent, b.Allowed, b.Denied) {
		t.Fatalf("revert says %q; burst %+v", got, b)
	}
}

// A revert in a fresh plugin process (after a crash) of a node kill or a
// burst has nothing to act on, and says so instead of failing.
func TestRevertInAFreshProcessSaysThereIsNothingToDo(t *testing.T) {
	fresh := New()
	configure(t, fresh, nil)
	for handle, want := range map[string]string{
		nodeKillPrefix + "node-2": "node-2 went with the plugin process that ran it: nothing to start",
		burstPrefix + "4":         "no burst 4 runs in this plugin process: nothing to stop",
	} {
		rev, err := fresh.RevertChaos(context.Background(), sdk.RevertRequest{Handle: handle})
		if err != nil || rev.Detail != want {
			t.Errorf("revert %s: %q, %v; want %q", handle, rev.Detail, err, want)
		}
	}
	if _, err := fresh.RevertChaos(context.Background(), sdk.RevertRequest{Handle: "pause:x"}); err == nil || !strings.Contains(err.Error(), "redis-pause:…, node-kill:…, burst:…") {
		t.Errorf("a foreign handle: %v", err)
	}
}

// Chapter actions belong to their chapters: the baseline, pause, block and
// summary chapters carry theirs, the others none; every fault is a
// declared kind with declared parameters; ids are unique.
func TestChaptersCarryTheirActionsAndDeclaredFaults(t *testing.T) {
	for _, policy := range []string{"open", "closed", "local"} {
		s := New()
		configure(t, s, map[string]string{"fail_policy": policy})
		d, _ := s.Describe(context.Background())
		cs, err := s.Chapters(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 12 {
			t.Fatalf("%d chapters, want 12", len(cs))
		}
		var withAction []string
		ids := map[string]bool{}
		for _, c := range cs {
			if ids[c.ID] || c.ID == "" {
				t.Errorf("chapter %q: id %q empty or twice", c.Title, c.ID)
			}
			ids[c.ID] = true
			if err := markup.Check(c.Narration); err != nil {
				t.Errorf("chapter %q: %v", c.Title, err)
			}
			if c.Action != nil {
				withAction = append(withAction, c.ID)
			}
			if c.Fault != nil {
				if err := declared(d, *c.Fault); err != nil {
					t.Errorf("chapter %q: %v", c.Title, err)
				}
			}
		}
		if got := strings.Join(withAction, " "); got != "baseline pause-redis block-tenant summary" {
			t.Errorf("chapters with an action: %s", got)
		}
	}
}

// declared checks f against the kinds d declares.
func declared(d sdk.Description, f sdk.Fault) error {
	for _, k := range d.Faults {
		if k.Kind != f.Kind {
			continue
		}
		for p := range f.Params {
			if !slices.ContainsFunc(k.Params, func(o sdk.Option) bool { return o.Name == p }) {
				return fmt.Errorf("%s has no parameter %q", f.Kind, p)
			}
		}
		return nil
	}
	return fmt.Errorf("fault kind %s is not declared", f.Kind)
}

// With fail_policy=closed the pause chapters hold the absence of
// over-admission (a Holds expectation) instead of waiting for it.
func TestFailClosedChaptersHoldNoOverAdmission(t *testing.T) {
	s := New()
	configure(t, s, map[string]string{"fail_policy": "closed"})
	cs, _ := s.Chapters(context.Background())
	holds := map[string][]string{}
	for _, c := range cs {
		for _, e := range c.Expectations {
			if e.Mode == sdk.ModeHolds && e.Check.Kind == sdk.CheckNoViolation {
				holds[c.ID] = append(holds[c.ID], e.Check.Invariant)
			}
		}
	}
	for id, inv := range map[string]string{"pause-redis": invOverLimit, "over-limit": invOverLimit, "redis-back": invCounterDrift} {
		if !slices.Contains(holds[id], inv) {
			t.Errorf("chapter %s holds no-violation of %v, want %s", id, holds[id], inv)
		}
	}
}

// The monitor pushes health when what it sees changes: Redis stopping to
// answer raises redis_unreachable and a HealthChanged call comes with it,
// without anyone polling Health.
func TestMonitorPushesWhenRedisStopsAnswering(t *testing.T) {
	s, log := setUp(t, nil)
	waitHealth(t, s, 10*time.Second, "no violation", noViolations)
	s.mu.Lock()
	mon := s.mon
	s.mu.Unlock()
	// Note what the monitor last reported, then pause Redis and only watch
	// the pushes.
	quiet := log.pushes.Load()
	paused := time.Now()
	inject(t, s, pauseRedis)
	testkit.WaitFor(t, 5*time.Second, "a push with redis_unreachable", func() bool {
		mon.mu.Lock()
		defer mon.mu.Unlock()
		return log.pushes.Load() > quiet && strings.Contains(mon.lastView, invRedisUnreachable+"/redis")
	})
	if took := time.Since(paused); took < redisGrace {
		t.Fatalf("redis_unreachable pushed %s after the pause, before its %s threshold", took, redisGrace)
	}
	h, _ := s.Health(context.Background())
	if !violation(invRedisUnreachable)(h) {
		t.Fatalf("pushed, but the snapshot has no redis_unreachable: %s", describeHealth(h))
	}
}

// The node API a user reaches by hand: the nodes list each other through
// their Redis heartbeats, and /metrics counts decisions by source.
func TestNodeAPIListsNodesAndServesMetrics(t *testing.T) {
	s, _ := setUp(t, nil)
	node := s.cl.Nodes()[0]
	waitHealth(t, s, 5*time.Second, "GET /api/nodes to list all three nodes", func(sdk.HealthSnapshot) bool {
		var nodes []limiter.NodeInfo
		if err := s.http.getJSON(context.Background(), "http://"+node.Addr+"/api/nodes", &nodes); err != nil {
			return false
		}
		return len(nodes) == 3
	})
	resp, err := http.Get("http://" + node.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `ratelimiter_decisions_total{result="allowed",source="redis"}`) {
		t.Fatalf("/metrics lacks the decision counter:\n%.2000s", body)
	}
}
