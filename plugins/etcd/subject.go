// Package etcd is the etcd subject of demohost: a real etcd Raft cluster of
// 3 or 5 members (Debian's etcd, as child processes), each in a network
// namespace of its own, with real process and network faults — leader kill,
// frozen follower, quorum loss, a partition in nftables, latency through
// toxiproxy — and health read from etcd's own API while a real client
// writes and reads.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/demohost/demohost/sdk"
)

// Version is the subject's version.
const Version = "0.1.0"

// launcherCommand is the argument that makes the plugin's executable run a
// command inside a network namespace (see RunInNamespace).
const launcherCommand = "netns-exec"

// config is the options, checked.
type config struct {
	members         int
	runtime         string
	namespaces      bool   // local members in namespaces of their own
	netFaults       bool   // partition and latency can be injected
	noNetwork       string // why not, when netFaults is false
	etcdPath        string
	electionTimeout time.Duration
	writeRate       int
	staleBound      int
}

func (c config) heartbeat() time.Duration { return c.electionTimeout / 10 }

// probeTimeout bounds each health probe.
func (c config) probeTimeout() time.Duration {
	return min(max(c.electionTimeout/2, 300*time.Millisecond), time.Second)
}

// requestTimeout bounds each request of the load.
func (c config) requestTimeout() time.Duration { return max(c.electionTimeout, 500*time.Millisecond) }

// writesFailingAfter is how long without an acknowledged write raises
// writes_failing.
func (c config) writesFailingAfter() time.Duration {
	return max(c.electionTimeout*7/10, 500*time.Millisecond)
}

// Subject is the etcd subject.
type Subject struct {
	launcher string // executable started as `launcher netns-exec NS CMD…`
	stateDir string

	mu      sync.Mutex
	cfg     config
	cluster *cluster
	mon     *monitor
	latency map[string]*latencyDetour // handle -> proxies of an active latency fault
}

// New returns the subject; its launcher is this executable.
func New() *Subject {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return &Subject{launcher: exe, stateDir: defaultStateDir(), latency: map[string]*latencyDetour{}}
}

// Option names.
const (
	optMembers  = "members"
	optRuntime  = "runtime"
	optNetwork  = "network"
	optElection = "election-timeout"
	optRate     = "write-rate"
	optStale    = "stale-bound"
	optEtcd     = "etcd"
)

// Fault kinds of this subject.
const (
	LeaderKill       = "LEADER_KILL"
	FollowerFreeze   = "FOLLOWER_FREEZE"
	QuorumLoss       = "QUORUM_LOSS"
	NetworkPartition = sdk.NetworkPartition
	NetworkLatency   = sdk.NetworkLatency
)

// paramDelay is NETWORK_LATENCY's parameter.
const paramDelay = "delay"

func (s *Subject) Describe(context.Context) (sdk.Description, error) {
	member := `empty or "leader": the current leader; or a member id (m1, m2, …)`
	return sdk.Description{
		Name:    "etcd",
		Version: Version,
		Description: "A real etcd Raft cluster (Debian's etcd, 3 or 5 members, each in a network namespace or container of its own) " +
			"under leader kill, a frozen follower, quorum loss, a partition and latency, with a live write/read load",
		Options: []sdk.Option{
			{Name: optMembers, Type: sdk.Enum, Default: "3", Choices: []string{"3", "5"}, Help: "cluster size"},
			{Name: optRuntime, Type: sdk.Enum, Default: "local", Choices: []string{"local", "docker"},
				Help: "local: members are child processes of the plugin; docker: containers of an image built here from the etcd binary, on a private network"},
			{Name: optNetwork, Type: sdk.Enum, Default: "auto", Choices: []string{"auto", "namespaces", "loopback"},
				Help: "namespaces: network faults, each local member in a namespace of its own (needs root); loopback: local members all on 127.0.0.1, no network faults; auto: namespaces when root"},
			{Name: optElection, Type: sdk.Duration, Default: "1s", Help: "etcd --election-timeout (heartbeat is a tenth of it)"},
			{Name: optRate, Type: sdk.Int, Default: "50", Help: "requests per second of the load (two writes to one linearizable read)"},
			{Name: optStale, Type: sdk.Int, Default: "50", Help: "revisions a serializable read may lag a linearizable one before stale_read"},
			{Name: optEtcd, Type: sdk.String, Default: "/usr/bin/etcd", Help: "the etcd server binary (Debian: etcd-server)"},
		},
		Faults: []sdk.FaultKind{
			{Kind: LeaderKill, Description: "SIGKILL the leader's etcd process; revert starts it again on its data directory", Target: member},
			{Kind: FollowerFreeze, Description: "SIGSTOP a follower (docker pause on the docker runtime); revert thaws it", Target: `empty or "follower": a follower; or a member id`},
			{Kind: QuorumLoss, Description: "SIGKILL a majority, the leader first; revert starts them again", Target: "empty: the subject picks the members"},
			{Kind: NetworkPartition, Description: "drop every Raft packet to and from a member (nftables in its namespace); revert deletes the rules", Target: member},
			{Kind: NetworkLatency, Description: "send a member's Raft links through toxiproxy with a delay each way; revert removes the detour", Target: member,
				Params: []sdk.Option{{Name: paramDelay, Type: sdk.Duration, Default: "100ms", Help: "added to every packet each way (keep it below the election timeout)"}}},
		},
	}, nil
}

func (s *Subject) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	o := req.Options
	cfg := config{
		members:         o.Int(optMembers),
		runtime:         o.String(optRuntime),
		etcdPath:        o.String(optEtcd),
		electionTimeout: o.Duration(optElection),
		writeRate:       o.Int(optRate),
		staleBound:      o.Int(optStale),
	}
	if cfg.electionTimeout < 200*time.Millisecond || cfg.electionTimeout > 10*time.Second {
		return fmt.Errorf("%s=%s is out of range: use 200ms to 10s", optElection, cfg.electionTimeout)
	}
	if cfg.writeRate < 1 || cfg.writeRate > 1000 {
		return fmt.Errorf("%s=%d is out of range: use 1 to 1000", optRate, cfg.writeRate)
	}
	if cfg.staleBound < 1 {
		return fmt.Errorf("%s=%d is out of range: use 1 or more", optStale, cfg.staleBound)
	}
	missing := namespacesMissing()
	switch o.String(optNetwork) {
	case "namespaces":
		if missing != "" {
			return fmt.Errorf("network=namespaces: %s; run demohost as root or --set network=loopback", missing)
		}
		cfg.netFaults = true
	case "loopback":
		cfg.noNetwork = "network=loopback"
	default:
		cfg.netFaults = missing == ""
		cfg.noNetwork = missing
	}
	// Local members get namespaces of their own; containers have theirs.
	cfg.namespaces = cfg.netFaults && cfg.runtime == "local"
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
	return nil
}

// namespacesMissing says what this process lacks to make network
// namespaces and nftables rules, or "" if nothing.
func namespacesMissing() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "cannot read /proc/self/status to check capabilities"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				break
			}
			const netAdmin, sysAdmin = 12, 21
			var lack []string
			if caps&(1<<netAdmin) == 0 {
				lack = append(lack, "CAP_NET_ADMIN")
			}
			if caps&(1<<sysAdmin) == 0 {
				lack = append(lack, "CAP_SYS_ADMIN")
			}
			if len(lack) > 0 {
				return "not root: network namespaces and nftables need " + strings.Join(lack, " and ")
			}
			return ""
		}
	}
	return "cannot read this process' capabilities"
}

func (s *Subject) config() config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

func (s *Subject) Setup(ctx context.Context, req sdk.SetupRequest) error {
	cfg := s.config()
	if st, err := os.Stat(cfg.etcdPath); err != nil || st.IsDir() {
		return fmt.Errorf("etcd not found at %s: install Debian's etcd-server (apt-get install etcd-server) or --set %s=PATH", cfg.etcdPath, optEtcd)
	}
	st := &stateFile{dir: s.stateDir, owner: self()}
	if n, err := st.reap(req.Progress); err != nil {
		return fmt.Errorf("remove what an earlier run left: %w", err)
	} else if n > 0 {
		req.Progress.Info(fmt.Sprintf("cleaned up after %d earlier plugin process(es) that did not finish", n))
	}
	if cfg.runtime == "docker" {
		if err := reapDockerOrphans(ctx, req.Progress); err != nil {
			return fmt.Errorf("remove containers an earlier run left: %w", err)
		}
	}
	s.mu.Lock()
	if s.cluster != nil {
		s.mu.Unlock()
		return errors.New("setup: the cluster is already up; tear it down first")
	}
	c := &cluster{cfg: cfg, owner: st.owner, launcher: s.launcher, state: st}
	s.cluster = c
	s.mu.Unlock()
	switch {
	case cfg.netFaults:
	case cfg.runtime == "local":
		req.Progress.Warning("no network namespaces (" + cfg.noNetwork + "): members run on loopback; the partition and latency chapters are skipped")
	default:
		req.Progress.Warning("no network faults (" + cfg.noNetwork + "): the partition and latency chapters are skipped")
	}
	if err := c.start(ctx, req.Progress); err != nil {
		return err
	}
	var endpoints []string
	for _, m := range c.members {
		endpoints = append(endpoints, m.client)
	}
	loadCli, err := newClient(endpoints, cfg.probeTimeout())
	if err != nil {
		return err
	}
	mon := newMonitor(c, loadCli, req.HealthChanged)
	mon.start()
	s.mu.Lock()
	s.mon = mon
	s.mu.Unlock()
	// Ready when a leader has a quorum behind it and writes are acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := mon.health()
		if leader := leaderOf(h); leader != "" && !hasViolation(h, invWritesFailing) && mon.load.stats().writesOK > 0 {
			req.Progress.Info(fmt.Sprintf("%d members elected %s; the load writes at %d req/s (election timeout %s)", len(c.members), leader, cfg.writeRate, cfg.electionTimeout))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the cluster did not elect a leader and accept writes within 30s (logs in %s)", c.dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// leaderOf is the node a snapshot shows as leader: the one that leads with
// a quorum behind it ("" for none).
func leaderOf(h sdk.HealthSnapshot) string {
	for _, n := range h.Nodes {
		if n.Role == "leader" {
			return n.ID
		}
	}
	return ""
}

func hasViolation(h sdk.HealthSnapshot, inv string) bool {
	for _, v := range h.Violations {
		if v.Invariant == inv {
			return true
		}
	}
	return false
}

func (s *Subject) Teardown(ctx context.Context, req sdk.TeardownRequest) error {
	s.mu.Lock()
	c, mon, lat := s.cluster, s.mon, s.latency
	s.cluster, s.mon, s.latency = nil, nil, map[string]*latencyDetour{}
	s.mu.Unlock()
	for _, d := range lat {
		d.close()
	}
	if mon != nil {
		mon.stop()
		mon.load.cli.Close()
	}
	if c == nil {
		// A fresh process: remove what plugin processes that are gone left.
		st := &stateFile{dir: s.stateDir, owner: self()}
		n, err := st.reap(req.Progress)
		if err != nil {
			return err
		}
		if s.config().runtime == "docker" {
			if err := reapDockerOrphans(ctx, req.Progress); err != nil {
				return err
			}
		}
		if n == 0 {
			req.Progress.Info("nothing left behind by earlier plugin processes")
		}
		return nil
	}
	return c.stop(req.Progress)
}

func (s *Subject) Health(context.Context) (sdk.HealthSnapshot, error) {
	s.mu.Lock()
	mon := s.mon
	s.mu.Unlock()
	if mon == nil {
		return sdk.HealthSnapshot{}, errors.New("the cluster is not set up")
	}
	return mon.health(), nil
}
