package ratelimiter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/plugins/ratelimiter/limiter"
	"github.com/demohost/demohost/sdk"
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
// tears it down when the test ends.
func setUp(t *testing.T, opts map[string]string) (*Subject, *progressLog) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil && opts["redis_binary"] != "embedded" {
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	s := New()
	s.NodeBinary = pluginBinary
	s.StateDir = t.TempDir()
	configure(t, s, opts)
	log := &progressLog{}
	if err := s.Setup(context.Background(), log.add); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Teardown(context.Background(), func(string) {}); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	waitHealth(t, s, 15*time.Second, "every node UP", func(h *sdk.HealthSnapshot) bool { return allUp(h) })
	return s, log
}

func configure(t *testing.T, s *Subject, opts map[string]string) {
	t.Helper()
	d, _ := s.Describe(context.Background())
	resolved, err := sdk.ResolveOptions(d.Options, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Configure(context.Background(), resolved); err != nil {
		t.Fatal(err)
	}
}

type progressLog struct {
	mu    sync.Mutex
	lines []string
}

func (p *progressLog) add(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, msg)
}

func (p *progressLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitHealth polls Health until cond holds, failing the test at the deadline
// with the last snapshot.
func waitHealth(t *testing.T, s *Subject, d time.Duration, what string, cond func(*sdk.HealthSnapshot) bool) *sdk.HealthSnapshot {
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

func describeHealth(h *sdk.HealthSnapshot) string {
	if h == nil {
		return "none"
	}
	var b strings.Builder
	for _, n := range h.Nodes {
		fmt.Fprintf(&b, "%s=%s(%s) ", n.Id, n.State, n.Detail)
	}
	for _, m := range h.Metrics {
		fmt.Fprintf(&b, "%s=%.1f ", m.Name, m.Value)
	}
	for _, v := range h.Violations {
		fmt.Fprintf(&b, "[%s %s: %s] ", v.Invariant, v.Target, v.Message)
	}
	return b.String()
}

func allUp(h *sdk.HealthSnapshot) bool {
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

func violation(inv string) func(*sdk.HealthSnapshot) bool {
	return func(h *sdk.HealthSnapshot) bool {
		for _, v := range h.Violations {
			if v.Invariant == inv {
				return true
			}
		}
		return false
	}
}

func noViolations(h *sdk.HealthSnapshot) bool { return len(h.Violations) == 0 }

func metric(h *sdk.HealthSnapshot, name string) float64 {
	for _, m := range h.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	return -1
}

func TestRedisPauseFailOpenOverAdmitsAndIsDetected(t *testing.T) {
	s, _ := setUp(t, nil)
	waitHealth(t, s, 10*time.Second, "the hot tenant to be throttled", func(h *sdk.HealthSnapshot) bool { return metric(h, "denied") > 0 })
	if h, _ := s.Health(context.Background()); !noViolations(h) {
		t.Fatalf("violations before any fault: %s", describeHealth(h))
	}

	inj, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.RedisPause})
	if err != nil {
		t.Fatal(err)
	}
	reverted := false
	defer func() {
		if !reverted {
			_ = s.RevertChaos(context.Background(), inj.Handle, nil)
		}
	}()
	waitHealth(t, s, 5*time.Second, "the kernel to report Redis stopped", func(*sdk.HealthSnapshot) bool {
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

	if err := s.RevertChaos(context.Background(), inj.Handle, nil); err != nil {
		t.Fatal(err)
	}
	reverted = true
	if err := s.RevertChaos(context.Background(), inj.Handle, nil); err != nil {
		t.Fatalf("reverting twice: %v", err)
	}
	waitHealth(t, s, 5*time.Second, "counter_drift once Redis answers", violation(invCounterDrift))
	waitHealth(t, s, 5*time.Second, "redis_unreachable to clear", func(h *sdk.HealthSnapshot) bool { return !violation(invRedisUnreachable)(h) })
	waitHealth(t, s, 20*time.Second, "every violation to clear", noViolations)
}

func TestFailClosedDoesNotOverAdmit(t *testing.T) {
	s, _ := setUp(t, map[string]string{"fail_policy": "closed"})
	inj, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.RedisPause})
	if err != nil {
		t.Fatal(err)
	}
	defer s.RevertChaos(context.Background(), inj.Handle, nil)
	waitHealth(t, s, 5*time.Second, "redis_unreachable", violation(invRedisUnreachable))
	before := s.stats.denied.Load()
	waitHealth(t, s, 5*time.Second, "checks denied while Redis is paused", func(*sdk.HealthSnapshot) bool { return s.stats.denied.Load() > before+20 })
	h, _ := s.Health(context.Background())
	if violation(invOverLimit)(h) || metric(h, "fail_open_admits") != 0 {
		t.Fatalf("fail closed over-admitted: %s", describeHealth(h))
	}
}

func TestStaleCacheGhostAllowsAndIsDetected(t *testing.T) {
	s, _ := setUp(t, map[string]string{"cache_ttl": "3s"})
	var status progressLog
	if err := s.blockTenant(context.Background(), status.add); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(status.String(), "still applies limit 20") {
		t.Fatalf("no node reported a stale limit:\n%s", status.String())
	}
	inj, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.BurstTraffic, Target: blockedKey, BurstMultiplier: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.RevertChaos(context.Background(), inj.Handle, nil)
	h := waitHealth(t, s, 5*time.Second, "ghost_allowing", violation(invGhostAllowing))
	if metric(h, "ghost_admits") <= 0 {
		t.Fatalf("ghost_allowing without ghost admissions: %s", describeHealth(h))
	}
	waitHealth(t, s, 5*time.Second, "the burst to end", func(*sdk.HealthSnapshot) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.lastBurst != nil
	})
	// node-1 took the change and refuses; the stale nodes let through up to
	// the old limit.
	if b := s.lastBurst; b.Allowed == 0 || b.Allowed > 20 || b.Sources["limit_zero"] == 0 {
		t.Fatalf("burst of the blocked tenant: %+v", *b)
	}
	// Once every cache has expired the blocked tenant is denied everywhere.
	waitHealth(t, s, 20*time.Second, "ghost_allowing to clear", func(h *sdk.HealthSnapshot) bool { return !violation(invGhostAllowing)(h) })
}

func TestNodeKillIsDetectedAndRevertStartsItAgain(t *testing.T) {
	s, _ := setUp(t, nil)
	inj, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.ContainerKill, Target: "node-2"})
	if err != nil {
		t.Fatal(err)
	}
	h := waitHealth(t, s, 5*time.Second, "node_down", violation(invNodeDown))
	if h.Violations[0].Target != "node-2" {
		t.Fatalf("node_down on %s, want node-2", h.Violations[0].Target)
	}
	before := s.stats.allowed.Load()
	waitHealth(t, s, 5*time.Second, "the other nodes to keep admitting", func(*sdk.HealthSnapshot) bool { return s.stats.allowed.Load() > before+10 })
	if err := s.RevertChaos(context.Background(), inj.Handle, nil); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, s, 10*time.Second, "all nodes UP again", allUp)
	if _, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.ContainerKill, Target: "node-9"}); err == nil || !strings.Contains(err.Error(), "node-1") {
		t.Fatalf("killing an unknown node: err = %v, want one naming the nodes", err)
	}
}

func TestSetupReconcilesLeftoversOfACrashedRun(t *testing.T) {
	crashed, _ := setUp(t, nil)
	// File the crashed run's record under a plugin process that is gone
	// (this test process is, of course, still alive).
	old := (&stateFile{dir: crashed.StateDir, owner: crashed.owner}).path()
	crashed.owner.Start++
	if err := os.Rename(old, (&stateFile{dir: crashed.StateDir, owner: crashed.owner}).path()); err != nil {
		t.Fatal(err)
	}
	inj, err := crashed.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.RedisPause})
	if err != nil {
		t.Fatal(err)
	}
	leftRedis, err := process.ParseIdentity(strings.TrimPrefix(inj.Handle, redisPausePrefix+"local:"))
	if err != nil {
		t.Fatal(err)
	}
	leftNode := crashed.cl.(*localCluster).nodes[0].Identity()

	// A fresh plugin process (same state file) sets up while the first one's
	// paused Redis and its nodes are still there.
	fresh := New()
	fresh.NodeBinary, fresh.StateDir = pluginBinary, crashed.StateDir
	configure(t, fresh, nil)
	var log progressLog
	if err := fresh.Setup(context.Background(), log.add); err != nil {
		t.Fatal(err)
	}
	defer fresh.Teardown(context.Background(), func(string) {})
	if !strings.Contains(log.String(), fmt.Sprintf("leftover redis (pid %d) from an earlier run that did not finish; it was still paused", leftRedis.Pid)) {
		t.Fatalf("setup did not report the paused leftover Redis:\n%s", log.String())
	}
	if leftRedis.Alive() || leftNode.Alive() {
		t.Fatalf("leftovers still alive: redis %v, node-1 %v", leftRedis.Alive(), leftNode.Alive())
	}
	waitHealth(t, fresh, 15*time.Second, "the fresh cluster UP", allUp)
	// The stale handle reverts without error and touches nothing new.
	if err := fresh.RevertChaos(context.Background(), inj.Handle, nil); err != nil {
		t.Fatalf("reverting the crashed run's handle: %v", err)
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
	if err := other.Setup(context.Background(), log.add); err != nil {
		t.Fatal(err)
	}
	defer other.Teardown(context.Background(), func(string) {})
	if strings.Contains(log.String(), "leftover") {
		t.Fatalf("a second demo stopped the first one's processes:\n%s", log.String())
	}
	if !running.cl.(*localCluster).redis.Identity().Alive() {
		t.Fatal("the first demo's Redis is gone")
	}
}

func TestConfigureRejectsBadOptions(t *testing.T) {
	s := New()
	d, _ := s.Describe(context.Background())
	for opt, want := range map[string]string{
		"nodes=1":                    "want 2 to 9",
		"limit=0":                    "want 1 or more",
		"window=10ms":                "want 100ms or more",
		"base_port=80":               "1024 to 65000",
		"redis_binary=/no/such/file": "apt-get install redis-server",
	} {
		k, v, _ := strings.Cut(opt, "=")
		opts, err := sdk.ResolveOptions(d.Options, map[string]string{k: v})
		if err == nil {
			err = s.Configure(context.Background(), opts)
		}
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
	if !strings.Contains(log.String(), "embedded Redis-compatible server (miniredis)") {
		t.Fatalf("setup did not announce the embedded server:\n%s", log)
	}
	waitHealth(t, s, 10*time.Second, "the hot tenant throttled by the script", func(h *sdk.HealthSnapshot) bool { return metric(h, "denied") > 0 })
	inj, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.RedisPause})
	if err != nil {
		t.Fatal(err)
	}
	defer s.RevertChaos(context.Background(), inj.Handle, nil)
	waitHealth(t, s, 5*time.Second, "redis_unreachable", violation(invRedisUnreachable))
	waitHealth(t, s, 5*time.Second, "over_limit", violation(invOverLimit))
}

// With Redis healthy, a burst of 3 × the limit over the three node
// processes admits exactly the limit, and the audit sees no over-admission.
func TestBurstWithHealthyRedisAdmitsTheLimit(t *testing.T) {
	s, _ := setUp(t, nil)
	inj, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.BurstTraffic, Target: "tenant:burst", BurstMultiplier: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.RevertChaos(context.Background(), inj.Handle, nil)
	waitHealth(t, s, 10*time.Second, "the burst to end", func(*sdk.HealthSnapshot) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.lastBurst != nil
	})
	b := s.lastBurst
	if b.Sent != 60 || b.Allowed != 20 || b.Sources["redis"] != 60 {
		t.Fatalf("burst of 60 over 3 nodes, limit 20: %+v", *b)
	}
	h := waitHealth(t, s, 5*time.Second, "the audit to count the burst", func(h *sdk.HealthSnapshot) bool {
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

// The node API a user reaches by hand: the nodes list each other through
// their Redis heartbeats, and /metrics counts decisions by source.
func TestNodeAPIListsNodesAndServesMetrics(t *testing.T) {
	s, _ := setUp(t, nil)
	node := s.cl.Nodes()[0]
	waitHealth(t, s, 5*time.Second, "GET /api/nodes to list all three nodes", func(*sdk.HealthSnapshot) bool {
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
