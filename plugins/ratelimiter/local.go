package ratelimiter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/demohost/demohost/plugins/ratelimiter/limiter"
	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/leftovers"
	"github.com/demohost/demohost/sdk/process"
	"github.com/redis/go-redis/v9"
)

// localCluster runs Redis and the nodes as child processes on loopback.
type localCluster struct {
	redisBinary string // redis-server path, or "" for the embedded server
	nodeBinary  string // this plugin's executable (run in node mode)
	settings    nodeSettings
	nodeCount   int
	basePort    int // 0: free ports
	dir         string
	book        *leftovers.Book // what this plugin process started, for a crash

	mu        sync.Mutex
	redis     *process.Process
	redisAddr string
	nodes     []*process.Process
	refs      []nodeRef
}

func (c *localCluster) Kind() string { return "local processes" }

func (c *localCluster) port(offset int) (int, error) {
	if c.basePort > 0 {
		return c.basePort + offset, nil
	}
	return process.FreePort()
}

func (c *localCluster) Start(ctx context.Context, progress sdk.Progress) error {
	dir, err := os.MkdirTemp("", "demohost-ratelimiter-")
	if err != nil {
		return fmt.Errorf("make a work directory: %w", err)
	}
	c.dir = dir
	port, err := c.port(0)
	if err != nil {
		return err
	}
	c.redisAddr = "127.0.0.1:" + strconv.Itoa(port)
	if err := c.portFree(c.redisAddr, "Redis"); err != nil {
		return err
	}
	spec := process.Spec{Name: "redis", Dir: dir, LogPath: filepath.Join(dir, "redis.log")}
	if c.redisBinary != "" {
		spec.Path = c.redisBinary
		spec.Args = []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	} else {
		spec.Name = "embedded-redis"
		spec.Path = c.nodeBinary
		spec.Args = []string{"embedded-redis", "--listen", c.redisAddr}
	}
	c.redis = process.New(spec)
	if err := c.startAndRecord(c.redis); err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.redisAddr, MaxRetries: -1, DisableIdentity: true})
	defer rdb.Close()
	if err := process.WaitReady(ctx, c.redis, 10*time.Second, func(ctx context.Context) error { return rdb.Ping(ctx).Err() }); err != nil {
		return fmt.Errorf("%s on %s: %w (log: %s)", spec.Name, c.redisAddr, err, spec.LogPath)
	}
	if err := c.redisIsOurs(ctx, rdb); err != nil {
		return err
	}
	progress.Info(fmt.Sprintf("%s answering on %s (pid %d)", spec.Name, c.redisAddr, c.redis.Pid()))

	for i := 1; i <= c.nodeCount; i++ {
		port, err := c.port(i)
		if err != nil {
			return err
		}
		id := fmt.Sprintf("node-%d", i)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p := process.New(process.Spec{
			Name: id, Path: c.nodeBinary, Dir: dir, LogPath: filepath.Join(dir, id+".log"),
			Args: c.settings.args(id, addr, c.redisAddr),
		})
		c.mu.Lock()
		c.nodes = append(c.nodes, p)
		c.refs = append(c.refs, nodeRef{ID: id, Addr: addr})
		c.mu.Unlock()
		if err := c.startNode(ctx, i-1); err != nil {
			return err
		}
		progress.Info(fmt.Sprintf("%s serving on %s (pid %d)", id, addr, p.Pid()))
	}
	return nil
}

func (c *localCluster) startAndRecord(p *process.Process) error {
	if err := p.Start(); err != nil {
		return err
	}
	return c.book.Add(p.Name(), p.Identity())
}

func (c *localCluster) startNode(ctx context.Context, i int) error {
	c.mu.Lock()
	p, ref := c.nodes[i], c.refs[i]
	c.mu.Unlock()
	if err := c.portFree(ref.Addr, ref.ID); err != nil {
		return err
	}
	if err := c.startAndRecord(p); err != nil {
		return err
	}
	if err := process.WaitReady(ctx, p, 10*time.Second, httpProbe("http://"+ref.Addr+"/health")); err != nil {
		return fmt.Errorf("%s on %s: %w (log: %s)", ref.ID, ref.Addr, err, filepath.Join(c.dir, ref.ID+".log"))
	}
	return nodeIsOurs(ctx, ref, p.Pid())
}

// portFree refuses a fixed port (base_port) another program listens on: the
// readiness check would find that program answering, and the demo would
// send its traffic there (another demo's Redis and nodes).
func (c *localCluster) portFree(addr, what string) error {
	if c.basePort == 0 {
		return nil // a port FreePort found free; the identity checks cover the rest
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("port %s (%s) is in use by another program, another demo perhaps: set base_port to a free range, or to 0 to use free ports", addr, what)
	}
	return l.Close()
}

// redisIsOurs checks that the Redis answering on the cluster's address is
// the process just started: redis-server says its pid (INFO server); the
// embedded stand-in, which does not, must still be running.
func (c *localCluster) redisIsOurs(ctx context.Context, rdb *redis.Client) error {
	if c.redisBinary == "" {
		if c.redis.State() != process.Running {
			return fmt.Errorf("the embedded Redis on %s exited: another program answers there; set base_port to a free range, or to 0", c.redisAddr)
		}
		return nil
	}
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("redis-server on %s: %w", c.redisAddr, err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if pid, _ := strconv.Atoi(v); pid != c.redis.Pid() {
				return fmt.Errorf("the Redis answering on %s is pid %d, not the redis-server just started (pid %d): another demo or service listens there; set base_port to a free range, or to 0", c.redisAddr, pid, c.redis.Pid())
			}
			return nil
		}
	}
	return fmt.Errorf("the Redis answering on %s does not say its pid (INFO server): it may not be the redis-server just started", c.redisAddr)
}

// nodeIsOurs checks that the node answering on ref's address is process
// pid, from its /health.
func nodeIsOurs(ctx context.Context, ref nodeRef, pid int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ref.Addr+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s on %s: %w", ref.ID, ref.Addr, err)
	}
	defer resp.Body.Close()
	var h limiter.Health
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h); err != nil || h.PID != pid {
		return fmt.Errorf("the node answering on %s is not %s just started (pid %d): another demo or service listens there; set base_port to a free range, or to 0", ref.Addr, ref.ID, pid)
	}
	return nil
}

func (c *localCluster) Stop(_ context.Context, progress sdk.Progress) error {
	c.mu.Lock()
	nodes, r := c.nodes, c.redis
	c.mu.Unlock()
	var errs []error
	for _, p := range nodes {
		if p.State() == process.Running || p.State() == process.Stopped {
			errs = append(errs, p.Stop(2*time.Second))
			progress.Info(p.Name() + " stopped")
		}
	}
	if r != nil && (r.State() == process.Running || r.State() == process.Stopped) {
		errs = append(errs, r.Stop(2*time.Second)) // Stop sends SIGCONT first: a paused Redis ends too
		progress.Info(r.Name() + " stopped")
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := c.book.Clear(); err != nil {
		return err
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
	return nil
}

func (c *localCluster) RedisAddr() string { return c.redisAddr }

func (c *localCluster) Nodes() []nodeRef {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]nodeRef(nil), c.refs...)
}

func (c *localCluster) RedisState(context.Context) sdk.NodeState {
	if c.redis == nil {
		return sdk.Unknown
	}
	id := c.redis.Identity()
	switch {
	case id.Stopped():
		return sdk.Paused
	case id.Alive():
		return sdk.Up
	}
	return sdk.Down
}

func (c *localCluster) PauseRedis(context.Context) (string, string, error) {
	if c.redis == nil {
		return "", "", errors.New("pause redis: the cluster is not set up")
	}
	if err := c.redis.Pause(); err != nil {
		return "", "", err
	}
	id := c.redis.Identity()
	return redisPausePrefix + "local:" + id.String(), fmt.Sprintf("paused Redis at %s: SIGSTOP %s pid %d", c.redisAddr, commOf(id.Pid), id.Pid), nil
}

// node returns node id's process and index.
func (c *localCluster) node(id string) (*process.Process, int, error) {
	i, err := nodeIndex(c.Nodes(), id)
	if err != nil {
		return nil, -1, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i], i, nil
}

func (c *localCluster) KillNode(_ context.Context, id string) (string, error) {
	p, _, err := c.node(id)
	if err != nil {
		return "", err
	}
	if p.State() != process.Running && p.State() != process.Stopped {
		return "", fmt.Errorf("kill %s: it is not running", id)
	}
	pid := p.Pid()
	if err := p.Kill(); err != nil {
		return "", err
	}
	return fmt.Sprintf("killed %s: SIGKILL pid %d", id, pid), nil
}

func (c *localCluster) StartNode(ctx context.Context, id string) (string, error) {
	p, i, err := c.node(id)
	if err != nil {
		return "", err
	}
	if p.State() == process.Running {
		return fmt.Sprintf("%s was running already (pid %d)", id, p.Pid()), nil
	}
	if err := c.startNode(ctx, i); err != nil {
		return "", err
	}
	return fmt.Sprintf("started %s again (pid %d)", id, p.Pid()), nil
}

// resumeLocalRedis reverts "redis-pause:local:pid=…,start=…" — only for
// that very process (the start time guards against a reused pid).
func resumeLocalRedis(rest string) (string, error) {
	id, err := process.ParseIdentity(rest)
	if err != nil {
		return "", err
	}
	name := commOf(id.Pid)
	if err := id.Signal(syscall.SIGCONT); err != nil {
		if errors.Is(err, process.ErrGone) {
			return fmt.Sprintf("Redis pid %d is gone: nothing left paused", id.Pid), nil
		}
		return "", fmt.Errorf("resume redis: %w", err)
	}
	return fmt.Sprintf("SIGCONT %s pid %d", name, id.Pid), nil
}

// commOf is the kernel's name for a process ("redis-server"), or "Redis"
// when it cannot be read.
func commOf(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if name := strings.TrimSpace(string(b)); err == nil && name != "" {
		return name
	}
	return "Redis"
}
