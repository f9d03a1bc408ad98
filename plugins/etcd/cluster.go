package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/process"
)

// member is one etcd member of the local runtime.
type member struct {
	id      string // "m1"
	index   int    // 1-based
	ns      string // its network namespace's name (local runtime); "" if none
	ip      net.IP
	client  string // client URL
	peer    string // peer URL
	dataDir string
	node    node
	cli     *clientv3.Client // talks to this member only (health probes)
	status  pb.MaintenanceClient
}

// cluster is a local etcd cluster: members as child processes, each in its
// own network namespace (or all on loopback without root).
type cluster struct {
	cfg      config
	owner    process.Identity // this plugin process
	launcher string           // executable that runs a command in a namespace
	fab      *fabric          // local runtime in namespaces; nil otherwise
	docker   *dockerRuntime   // docker runtime; nil otherwise
	dir      string
	state    *stateFile
	members  []*member
}

// quorum is the number of members a majority needs.
func (c *cluster) quorum() int { return len(c.members)/2 + 1 }

// member returns the member with id.
func (c *cluster) member(id string) (*member, error) {
	for _, m := range c.members {
		if m.id == id {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no member %q: members are m1 to m%d", id, len(c.members))
}

// start brings the cluster up: the fabric (with namespaces), the data
// directories, the members, and waits until a leader is elected.
func (c *cluster) start(ctx context.Context, progress sdk.Progress) error {
	dir, err := os.MkdirTemp(dataRoot(), fmt.Sprintf("demohost-etcd-%d-", c.owner.Pid))
	if err != nil {
		return fmt.Errorf("make a data directory: %w", err)
	}
	c.dir = dir
	if err := c.state.save(func(r *stateRecord) { r.Dir = dir }); err != nil {
		return err
	}
	if c.cfg.runtime == "docker" {
		err = c.startDocker(ctx, progress)
	} else {
		err = c.startLocal(progress)
	}
	if err != nil {
		return err
	}
	for _, m := range c.members {
		if err := c.waitAnswers(ctx, m, 30*time.Second); err != nil {
			return err
		}
		progress.Info(fmt.Sprintf("%s answering on %s (%s)", m.id, m.client, m.node.What()))
	}
	return nil
}

// startLocal starts the members as child processes, each in a namespace
// of its own (or all on loopback).
func (c *cluster) startLocal(progress sdk.Progress) error {
	n := c.cfg.members
	dir := c.dir
	if c.cfg.namespaces {
		net, err := pickNet(c.owner.Pid)
		if err != nil {
			return err
		}
		c.fab = &fabric{owner: c.owner.Pid, net: net, members: n}
		if err := c.state.save(func(r *stateRecord) { r.Fabric = c.fab }); err != nil {
			return err
		}
		if err := c.fab.create(); err != nil {
			return err
		}
		progress.Info(fmt.Sprintf("network: %d namespaces %s{m1..m%d,hub} on %s, bridged in the hub; host link %s",
			n+1, c.fab.prefix(), n, c.fab.subnet(), c.fab.hostLink()))
	}
	var initial []string
	for i := 1; i <= n; i++ {
		m := &member{id: fmt.Sprintf("m%d", i), index: i, dataDir: filepath.Join(dir, fmt.Sprintf("m%d", i))}
		if c.fab != nil {
			m.ns, m.ip = c.fab.memberNS(i), c.fab.memberIP(i)
			m.client = fmt.Sprintf("http://%s:%d", m.ip, clientPort)
			m.peer = fmt.Sprintf("http://%s:%d", m.ip, peerPort)
		} else {
			cp, err := process.FreePort()
			if err != nil {
				return err
			}
			pp, err := process.FreePort()
			if err != nil {
				return err
			}
			m.ip = net.IPv4(127, 0, 0, 1).To4()
			m.client, m.peer = "http://127.0.0.1:"+strconv.Itoa(cp), "http://127.0.0.1:"+strconv.Itoa(pp)
		}
		initial = append(initial, m.id+"="+m.peer)
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.node = &localNode{p: process.New(c.spec(m, strings.Join(initial, ","))), ns: m.ns}
		if err := c.clientFor(m); err != nil {
			return err
		}
	}
	for _, m := range c.members {
		if err := c.startMember(m); err != nil {
			return err
		}
	}
	return nil
}

// clientFor makes the client that probes member m alone.
func (c *cluster) clientFor(m *member) error {
	cli, err := newClient([]string{m.client}, c.cfg.probeTimeout())
	if err != nil {
		return err
	}
	m.cli, m.status = cli, pb.NewMaintenanceClient(cli.ActiveConnection())
	return nil
}

// hostIP is the plugin's address on the members' network (where latency
// proxies listen).
func (c *cluster) hostIP() net.IP {
	if c.docker != nil {
		return c.docker.gateway
	}
	return c.fab.hostIP()
}

// freezeVerb and thawVerb say how a member is frozen and thawed.
func (c *cluster) freezeVerb() string {
	if c.docker != nil {
		return "docker pause"
	}
	return "SIGSTOP"
}

func (c *cluster) thawVerb() string {
	if c.docker != nil {
		return "unpaused"
	}
	return "SIGCONT"
}

// dataRoot is where data directories go: memory (/dev/shm) when there is
// one, so fsyncs of three members on a 2-core machine stay cheap.
func dataRoot() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", "demohost-etcd-probe-"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return os.TempDir()
}

// spec is how member m is started as a child process.
func (c *cluster) spec(m *member, initial string) process.Spec {
	args := c.etcdArgs(m, initial)
	s := process.Spec{Name: m.id, Path: c.cfg.etcdPath, Args: args, LogPath: filepath.Join(c.dir, m.id+".log")}
	if m.ns != "" {
		s.Path = c.launcher
		s.Args = append([]string{launcherCommand, m.ns, c.cfg.etcdPath}, args...)
	}
	return s
}

// etcdArgs are member m's etcd flags.
func (c *cluster) etcdArgs(m *member, initial string) []string {
	return []string{
		"--name", m.id,
		"--data-dir", m.dataDir,
		"--listen-peer-urls", m.peer,
		"--initial-advertise-peer-urls", m.peer,
		"--listen-client-urls", m.client,
		"--advertise-client-urls", m.client,
		"--initial-cluster", initial,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", fmt.Sprintf("demohost-etcd-%d", c.owner.Pid),
		"--heartbeat-interval", strconv.FormatInt(c.cfg.heartbeat().Milliseconds(), 10),
		"--election-timeout", strconv.FormatInt(c.cfg.electionTimeout.Milliseconds(), 10),
		"--pre-vote",
	}
}

// startMember starts (or restarts, on its data directory) member m and
// records it in the state file.
func (c *cluster) startMember(m *member) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.node.Start(ctx); err != nil {
		return err
	}
	ref := m.node.Ref()
	return c.state.save(func(r *stateRecord) {
		if r.Procs == nil {
			r.Procs = map[string]string{}
		}
		r.Procs[m.id] = ref
	})
}

// waitAnswers waits until member m answers a status request.
func (c *cluster) waitAnswers(ctx context.Context, m *member, timeout time.Duration) error {
	var p *process.Process
	if l, ok := m.node.(*localNode); ok {
		p = l.p // stop waiting early if it exits
	}
	err := process.WaitReady(ctx, p, timeout, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := m.status.Status(ctx, &pb.StatusRequest{})
		return err
	})
	if err != nil {
		log := filepath.Join(c.dir, m.id+".log")
		if c.docker != nil {
			log = "docker logs " + c.docker.name(m)
		}
		return fmt.Errorf("etcd %s on %s: %w (log: %s)", m.id, m.client, err, log)
	}
	return nil
}

// running reports whether m runs (frozen or not).
func running(m *member) bool { return m.node != nil && m.node.Running() }

// stop ends every member, removes the fabric and the data, and forgets the
// state file. It runs to the end and reports every failure.
func (c *cluster) stop(progress sdk.Progress) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, m := range c.members {
		if m.cli != nil {
			m.cli.Close()
		}
		if !running(m) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.node.Stop(context.Background()); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(c.members) > 0 {
		progress.Info(fmt.Sprintf("%d etcd members stopped", len(c.members)))
	}
	if c.docker != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := c.docker.tg.RemoveAll(ctx); err != nil {
			errs = append(errs, err)
		} else {
			progress.Info("containers, network and image removed")
		}
		cancel()
		c.docker.close()
	}
	if c.fab != nil {
		if err := c.fab.destroy(); err != nil {
			errs = append(errs, err)
		} else {
			progress.Info("network namespaces, veth pairs and their nftables rules removed")
		}
	}
	if c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.state.clear()
	return nil
}

// newClient is an etcd client for endpoints that gives up on a call at its
// context and reconnects to a restarted member within about a second.
func newClient(endpoints []string, dialTimeout time.Duration) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          dialTimeout,
		DialKeepAliveTime:    time.Second,
		DialKeepAliveTimeout: time.Second,
		Logger:               zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", strings.Join(endpoints, ","), err)
	}
	return cli, nil
}
