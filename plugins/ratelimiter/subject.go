package ratelimiter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/docker"
	"github.com/demohost/demohost/sdk/leftovers"
	"github.com/demohost/demohost/sdk/process"
)

// Version is reported by Describe.
const Version = "1.0.0"

// Subject is the rate-limiter subject. Create it with New.
type Subject struct {
	// NodeBinary is the executable run as `NodeBinary node …` for each
	// limiter node (and `embedded-redis`); New sets it to this process'
	// own executable.
	NodeBinary string
	// StateDir holds the local runtime's books of started processes
	// (sdk/leftovers; default $XDG_STATE_HOME/demohost/ratelimiter).
	StateDir string
	// owner is the plugin process the books and containers are filed
	// under (leftovers.Self()).
	owner process.Identity

	mu        sync.Mutex
	opts      sdk.Options // from Configure, which always comes first
	cl        cluster
	http      *client
	stats     *trafficStats
	mon       *monitor
	stopBg    context.CancelFunc
	bg        sync.WaitGroup
	bursts    map[string]*burstRun // handle -> running or finished burst
	burstSeq  int
	lastBurst *burstResult
	injected  []injection
}

// injection is a fault this plugin injected, for the summary.
type injection struct {
	Kind   string
	Target string
	At     time.Time
}

// New returns the subject, with the plugin's own executable as node binary.
func New() *Subject {
	exe, _ := os.Executable()
	return &Subject{NodeBinary: exe, StateDir: leftovers.DefaultDir("ratelimiter"), owner: leftovers.Self(), bursts: map[string]*burstRun{}}
}

// Describe is static: it works with no cluster.
func (s *Subject) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "ratelimiter",
		Version: Version,
		Description: "A Redis-backed distributed rate limiter (sliding window, one Lua script on Redis time) " +
			"under a real Redis pause, node kill and traffic bursts.",
		Faults: []sdk.FaultKind{
			{Kind: sdk.RedisPause, Description: "freeze Redis (SIGSTOP, or docker pause); revert resumes it",
				Target: `"redis", or empty`},
			{Kind: sdk.ContainerKill, Description: "SIGKILL a limiter node (its process, or docker kill); revert starts it again",
				Target: "a node id (node-1, node-2, …); empty for the last node"},
			{Kind: sdk.BurstTraffic, Description: "one tenant fires many checks at once across every node; revert stops what is left of it",
				Target: "a tenant key (tenant:blocked); empty for tenant:hot",
				Params: []sdk.Option{{Name: "multiplier", Type: sdk.Float, Default: "3",
					Help: "checks sent, as a multiple of the tenant's limit (0.1-1000)"}}},
		},
		Options: []sdk.Option{
			{Name: "nodes", Type: sdk.Int, Default: "3", Help: "limiter nodes (2-9)"},
			{Name: "limit", Type: sdk.Int, Default: "20", Help: "requests admitted per key per window"},
			{Name: "window", Type: sdk.Duration, Default: "2s", Help: "sliding window length"},
			{Name: "fail_policy", Type: sdk.Enum, Default: "open", Choices: []string{"open", "closed", "local"},
				Help: "what nodes do when Redis does not answer: admit, deny, or limit per node"},
			{Name: "cache_ttl", Type: sdk.Duration, Default: "8s", Help: "how long nodes cache a key's limit"},
			{Name: "traffic", Type: sdk.Int, Default: "30", Help: "steady background requests per second (0-500; the pause chapters need traffic to over-admit)"},
			{Name: "runtime", Type: sdk.Enum, Default: "local", Choices: []string{"local", "docker"},
				Help: "local: child processes on loopback; docker: containers on a private network"},
			{Name: "redis_binary", Type: sdk.String, Default: "redis-server",
				Help: "redis-server for the local runtime (when absent, an embedded Redis-compatible server is used)"},
			{Name: "redis_image", Type: sdk.String, Default: "redis:7-alpine", Help: "Redis image for the docker runtime"},
			{Name: "base_port", Type: sdk.Int, Default: "0", Help: "first loopback port (Redis; nodes follow); 0 picks free ports"},
		},
	}, nil
}

// Configure checks the options' ranges.
func (s *Subject) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	opts := req.Options
	switch {
	case opts.Int("nodes") < 2 || opts.Int("nodes") > 9:
		return fmt.Errorf("option nodes=%d: want 2 to 9 (a node is killed while the others carry traffic)", opts.Int("nodes"))
	case opts.Int("limit") < 1:
		return fmt.Errorf("option limit=%d: want 1 or more", opts.Int("limit"))
	case opts.Duration("window") < 100*time.Millisecond:
		return fmt.Errorf("option window=%s: want 100ms or more", opts.Duration("window"))
	case opts.Duration("cache_ttl") < 0:
		return fmt.Errorf("option cache_ttl=%s: want 0 or more", opts.Duration("cache_ttl"))
	case opts.Int("traffic") < 0 || opts.Int("traffic") > 500:
		return fmt.Errorf("option traffic=%d: want 0 to 500 requests per second", opts.Int("traffic"))
	case opts.Int("base_port") != 0 && (opts.Int("base_port") < 1024 || opts.Int("base_port") > 65000):
		return fmt.Errorf("option base_port=%d: want 0 (free ports) or 1024 to 65000", opts.Int("base_port"))
	}
	if opts.String("runtime") == "local" {
		if _, err := s.redisBinary(opts); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = opts
	return nil
}

// redisBinary resolves redis_binary: a path, "" for the embedded server,
// or a name looked up in PATH (the default falls back to the embedded
// server when it is not installed).
func (s *Subject) redisBinary(opts sdk.Options) (string, error) {
	name := opts.String("redis_binary")
	if name == "" || name == "embedded" {
		return "", nil
	}
	path, err := exec.LookPath(name)
	if err == nil {
		return path, nil
	}
	if name == "redis-server" {
		return "", nil
	}
	return "", fmt.Errorf("option redis_binary=%q: not found; install Redis (apt-get install redis-server) or set redis_binary=embedded", name)
}

// options are the options Configure kept.
func (s *Subject) options() sdk.Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// auditSpan is how far back over-admission, drift and ghost admissions are
// looked for: long enough to see a fault's effect after Redis comes back,
// short enough that violations clear soon after recovery.
func auditSpan(window time.Duration) time.Duration { return max(3*window, 4*time.Second) }

func (s *Subject) settings(opts sdk.Options) nodeSettings {
	return nodeSettings{
		Limit: opts.Int("limit"), Window: opts.Duration("window"),
		FailPolicy: opts.String("fail_policy"), CacheTTL: opts.Duration("cache_ttl"),
		Retain: max(30*time.Second, 2*auditSpan(opts.Duration("window"))),
	}
}

// Setup stops leftovers of a crashed run, starts Redis and the nodes, then
// the background traffic and the monitor, which calls HealthChanged
// whenever what it sees changes.
func (s *Subject) Setup(ctx context.Context, req sdk.SetupRequest) error {
	progress := req.Progress
	if err := s.Teardown(ctx, sdk.TeardownRequest{Progress: progress}); err != nil { // a second Setup starts afresh
		return err
	}
	opts := s.options()
	cl, err := s.newCluster(ctx, opts, progress)
	if err != nil {
		return err
	}
	progress.Info(fmt.Sprintf("starting Redis and %d limiter nodes as %s", opts.Int("nodes"), cl.Kind()))
	s.mu.Lock()
	s.cl = cl
	s.mu.Unlock()
	if err := cl.Start(ctx, progress); err != nil {
		_ = cl.Stop(context.Background(), progress)
		return fmt.Errorf("start the cluster: %w", err)
	}
	c := newClient()
	stats := &trafficStats{}
	mon := newMonitor(cl, c, stats, opts.Int("limit"), opts.Duration("window"), auditSpan(opts.Duration("window")), req.HealthChanged)
	bgCtx, stop := context.WithCancel(context.Background())
	s.mu.Lock()
	s.http, s.stats, s.mon, s.stopBg = c, stats, mon, stop
	s.mu.Unlock()
	s.bg.Go(func() { mon.run(bgCtx) })
	s.bg.Go(func() { workload(bgCtx, c, cl.Nodes, opts.Int("traffic"), stats) })
	progress.Info(fmt.Sprintf("steady traffic: %d requests/s over %d tenants; limit %d per %s; fail policy %s",
		opts.Int("traffic"), len(workloadKeys), opts.Int("limit"), opts.Duration("window"), opts.String("fail_policy")))
	return nil
}

func (s *Subject) newCluster(ctx context.Context, opts sdk.Options, progress sdk.Progress) (cluster, error) {
	switch opts.String("runtime") {
	case "docker":
		return newDockerCluster(ctx, s, opts, progress)
	default:
		book := leftovers.OpenFor(s.StateDir, s.owner)
		if err := book.Reap(progress.Warning); err != nil {
			return nil, err
		}
		bin, err := s.redisBinary(opts)
		if err != nil {
			return nil, err
		}
		if bin == "" {
			progress.Warning("redis-server not found: using the embedded Redis-compatible server (miniredis) in a child process; " +
				"for the real thing install Redis (apt-get install redis-server) or set redis_binary=/path/to/redis-server")
		}
		return &localCluster{
			redisBinary: bin, nodeBinary: s.NodeBinary, settings: s.settings(opts),
			nodeCount: opts.Int("nodes"), basePort: opts.Int("base_port"), book: book,
		}, nil
	}
}

// Teardown stops bursts, traffic and monitor, then the cluster. A plugin
// that never set up (a fresh process the host started after a crash)
// removes what plugin processes that are gone left behind instead.
func (s *Subject) Teardown(ctx context.Context, req sdk.TeardownRequest) error {
	progress := req.Progress
	s.mu.Lock()
	cl, stop := s.cl, s.stopBg
	for _, b := range s.bursts {
		b.cancel()
	}
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.bg.Wait()
	if cl == nil {
		return s.removeLeftovers(ctx, progress)
	}
	if err := cl.Stop(ctx, progress); err != nil {
		return fmt.Errorf("stop the cluster: %w", err)
	}
	s.mu.Lock()
	s.cl, s.mon, s.stopBg = nil, nil, nil
	s.mu.Unlock()
	return nil
}

// removeLeftovers stops the processes or containers of earlier runs whose
// plugin process is gone, in the configured runtime.
func (s *Subject) removeLeftovers(ctx context.Context, progress sdk.Progress) error {
	if s.options().String("runtime") == "docker" {
		return docker.ReapLeftovers(ctx, dockerScope, progress.Warning)
	}
	return leftovers.OpenFor(s.StateDir, s.owner).Reap(progress.Warning)
}

// Health is the monitor's latest view.
func (s *Subject) Health(ctx context.Context) (sdk.HealthSnapshot, error) {
	s.mu.Lock()
	mon := s.mon
	s.mu.Unlock()
	if mon == nil {
		return sdk.HealthSnapshot{}, errors.New("the cluster is not set up")
	}
	return mon.snapshot(ctx), nil
}

// running returns the parts a chapter action or chaos needs, or a fatal
// error when Setup has not run: without a cluster there is no demo.
func (s *Subject) running() (cluster, *client, *monitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil || s.mon == nil {
		return nil, nil, nil, sdk.Fatal(errors.New("the cluster is not set up"))
	}
	return s.cl, s.http, s.mon, nil
}
