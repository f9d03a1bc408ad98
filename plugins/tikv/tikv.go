// Package tikv is the demohost subject for a TiKV cluster (PD + stores)
// under Docker: it watches PD's HTTP API and probes each store's status port
// directly, kills a store container with SIGKILL through the Docker Engine
// API and starts it again. It only ever touches containers of the
// configured compose project / label selector.
//
// Verified on the build machines against recorded PD answers and the TEST
// FIXTURE cluster in ./fixture, never against a real TiKV; compose.yaml
// starts a real one.
package tikv

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/demohost/demohost/plugins/tikv/pd"
	"github.com/demohost/demohost/plugins/tikv/storeprobe"
	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/docker"
)

// Version is reported by Describe.
const Version = "1.0.0"

// StartHint is how a user starts the real cluster this subject expects.
const StartHint = "docker compose -f plugins/tikv/compose.yaml up -d"

// RoleLabel marks a container's part in the cluster (pd, store, load);
// compose.yaml sets it, and the load chapter starts role=load containers.
const RoleLabel = "demohost.tikv.role"

// Subject is the TiKV subject. Create it with New.
type Subject struct {
	now func() time.Time

	mu      sync.Mutex
	opts    sdk.Options // from Configure, which always comes first
	scope   docker.Scope
	changed func() // SetupRequest.HealthChanged
	target  *docker.Target
	pd      *pd.Client
	prober  *storeprobe.Prober
	stop    context.CancelFunc
	stopped chan struct{}

	stores    []storeRef             // from PD's last answer
	probes    map[uint64]probeResult // from the prober
	rates     map[uint64]rateSample  // request counters, for req/s
	downSince map[string]time.Time   // violation key -> first seen
	killed    *killRecord            // the store the last injection hit
}

type killRecord struct {
	storeID   uint64
	name      string
	container string
	at        time.Time
}

// New returns a TiKV subject.
func New() *Subject {
	return &Subject{
		now:       time.Now,
		changed:   func() {},
		probes:    map[uint64]probeResult{},
		rates:     map[uint64]rateSample{},
		downSince: map[string]time.Time{},
	}
}

// Describe is static: it works with no cluster.
func (s *Subject) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "tikv",
		Version: Version,
		Description: "A TiKV cluster (PD + 3 stores) under Docker loses a store: PD's view against a direct " +
			"probe of each store, SIGKILL through the Docker API, recovery. Start the cluster with `" + StartHint + "`.",
		Faults: []sdk.FaultKind{{
			Kind:        sdk.ContainerKill,
			Description: "SIGKILL a store container through the Docker Engine API; revert starts it again",
			Target:      "a store: PD store id, container or compose service name; empty for target_store, else a random running store",
		}},
		Options: []sdk.Option{
			{Name: "pd", Type: sdk.String, Default: "127.0.0.1:2379", Help: "PD's HTTP address as reached from this machine"},
			{Name: "selector", Type: sdk.String, Default: "demohost-tikv", Help: "compose project of the cluster, or a label selector key=value[,key=value]; only these containers are ever touched"},
			{Name: "target_store", Type: sdk.String, Default: "", Help: "store to kill: PD store id, container or compose service name (default: a random store)"},
			{Name: "probe_interval", Type: sdk.Duration, Default: "250ms", Help: "how often each store's /status is probed; also the probe's timeout (50ms-10s)"},
			{Name: "countdown", Type: sdk.Duration, Default: "5s", Help: "countdown before the store is killed"},
			{Name: "pd_wait", Type: sdk.Duration, Default: "45s", Help: "how long to watch PD mark the store Disconnected and leaders move (PD waits 20s)"},
		},
	}, nil
}

// Configure checks and keeps the options.
func (s *Subject) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	opts := req.Options
	if strings.TrimSpace(opts.String("pd")) == "" {
		return fmt.Errorf("option pd is empty: give PD's address, e.g. --set pd=127.0.0.1:2379")
	}
	scope, err := parseSelector(opts.String("selector"))
	if err != nil {
		return err
	}
	if d := opts.Duration("probe_interval"); d < 50*time.Millisecond || d > 10*time.Second {
		return fmt.Errorf("option probe_interval=%s: want 50ms to 10s", d)
	}
	if opts.Duration("countdown") < 0 || opts.Duration("pd_wait") <= 0 {
		return fmt.Errorf("options countdown and pd_wait: want countdown >= 0 and pd_wait > 0, e.g. 5s and 45s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts, s.scope = opts, scope
	return nil
}

// parseSelector reads a compose project name ("demohost-tikv") or a label
// selector ("key=value,...").
func parseSelector(sel string) (docker.Scope, error) {
	sel = strings.TrimSpace(sel)
	if sel == "" {
		return nil, fmt.Errorf("option selector is empty: give the compose project (demohost-tikv) or labels key=value")
	}
	if !strings.Contains(sel, "=") {
		return docker.ComposeProject(sel), nil
	}
	scope, err := docker.ParseScope(sel)
	if err != nil {
		return nil, fmt.Errorf("option selector: %w", err)
	}
	return scope, nil
}

// options returns the options Configure kept and the scope they select.
func (s *Subject) options() (sdk.Options, docker.Scope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts, s.scope
}

// dockerTarget returns the scoped Docker target, connecting on first use
// (RevertChaos may run in a fresh plugin process that never ran Setup).
func (s *Subject) dockerTarget(ctx context.Context) (*docker.Target, error) {
	_, scope := s.options()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.target != nil {
		return s.target, nil
	}
	tg, err := docker.New(scope)
	if err != nil {
		return nil, err
	}
	if err := tg.Ping(ctx); err != nil {
		_ = tg.Close()
		return nil, err
	}
	s.target = tg
	return tg, nil
}

// Setup attaches to the running cluster: PD must answer and its stores must
// be containers in scope. A store container left stopped or paused (by a
// crashed earlier run) is started again. Then the store prober starts; it
// calls HealthChanged whenever a store's probe turns up or down.
func (s *Subject) Setup(ctx context.Context, req sdk.SetupRequest) error {
	progress := req.Progress
	opts, scope := s.options()
	pdc := pd.NewClient(opts.String("pd"), 3*time.Second)
	stores, err := pdc.Stores(ctx)
	if err != nil {
		return fmt.Errorf("no TiKV cluster answers at PD %s (%s): start one with `%s`, or point --set pd=HOST:PORT at yours",
			opts.String("pd"), shortErr(err), StartHint)
	}
	progress.Info(fmt.Sprintf("PD %s answers: %d stores", opts.String("pd"), len(stores.Stores)))
	tg, err := s.dockerTarget(ctx)
	if err != nil {
		return fmt.Errorf("tikv needs the Docker engine to reach its store containers: %v", oneLine(err))
	}
	containers, err := tg.List(ctx)
	if err != nil {
		return err
	}
	refs := matchStores(stores, containers)
	matched := 0
	for _, r := range refs {
		if r.container.ID != "" {
			matched++
		}
	}
	if matched == 0 {
		return fmt.Errorf("PD %s lists stores %s, but no container with labels %s is one of them: set --set selector=<compose project or key=value>",
			opts.String("pd"), storeAddrs(refs), scope)
	}
	progress.Info(fmt.Sprintf("%d of %d stores are containers in scope %s", matched, len(refs), scope))
	if err := s.reconcile(ctx, tg, refs, progress); err != nil {
		return err
	}

	s.mu.Lock()
	if req.HealthChanged != nil {
		s.changed = req.HealthChanged
	}
	s.pd, s.stores = pdc, refs
	s.prober = storeprobe.New(opts.Duration("probe_interval"))
	probeCtx, cancel := context.WithCancel(context.Background())
	s.stop, s.stopped = cancel, make(chan struct{})
	s.mu.Unlock()
	s.probeOnce(probeCtx)
	go s.probeLoop(probeCtx, opts.Duration("probe_interval"))
	progress.Info("probing each store's /status every " + opts.Duration("probe_interval").String())
	return nil
}

// reconcile starts store containers an earlier run left killed or paused.
func (s *Subject) reconcile(ctx context.Context, tg *docker.Target, refs []storeRef, progress sdk.Progress) error {
	for _, r := range refs {
		c := r.container
		if c.ID == "" || (c.Running && !c.Paused) {
			continue
		}
		if err := tg.Start(ctx, c.ID); err != nil {
			return fmt.Errorf("restart store container %s left %s by an earlier run: %w", c.Name, c.State, err)
		}
		progress.Warning(fmt.Sprintf("started %s again (an earlier run left it %s)", c.Name, c.State))
	}
	return nil
}

// Teardown stops probing. The cluster itself belongs to the user and is
// left running; a process that never ran Setup has nothing to remove.
func (s *Subject) Teardown(_ context.Context, req sdk.TeardownRequest) error {
	s.mu.Lock()
	stop, stopped, tg := s.stop, s.stopped, s.target
	s.stop, s.stopped, s.target = nil, nil, nil
	s.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
	if tg != nil {
		_ = tg.Close()
	}
	req.Progress.Info("stopped probing; the cluster is left running (stop it with `docker compose -f plugins/tikv/compose.yaml down`)")
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

var _ sdk.Subject = (*Subject)(nil)
