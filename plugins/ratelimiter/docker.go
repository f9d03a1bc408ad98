package ratelimiter

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/docker"
	"github.com/demohost/demohost/sdk/leftovers"
	"github.com/demohost/demohost/sdk/process"
	dockerclient "github.com/docker/docker/client"
	"github.com/redis/go-redis/v9"
)

// dockerScope labels everything of this subject; pausing and unpausing
// act on nothing else. A run's own scope narrows it to its plugin process
// (docker.Owned), so Setup removes only what crashed runs left and demos
// running at the same time keep their own containers.
var dockerScope = docker.Scope{"demohost.plugin": "ratelimiter"}

const (
	nodePort  = 8080
	redisPort = 6379
)

// dockerCluster runs Redis and the nodes as containers on a private network,
// published on loopback for the plugin.
type dockerCluster struct {
	target     *docker.Target // this run's scope
	cli        *dockerclient.Client
	prefix     string // names of this run's containers, network and images
	nodeBinary string
	redisImage string
	settings   nodeSettings
	nodeCount  int

	mu        sync.Mutex
	redisID   string
	redisAddr string
	refs      []nodeRef
}

func newDockerCluster(ctx context.Context, s *Subject, opts sdk.Options, progress sdk.Progress) (cluster, error) {
	target, err := docker.New(docker.Owned(dockerScope, s.owner))
	if err != nil {
		return nil, err
	}
	if err := target.Ping(ctx); err != nil {
		target.Close()
		return nil, err
	}
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		target.Close()
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if err := docker.ReapLeftovers(ctx, dockerScope, progress.Warning); err != nil {
		target.Close()
		cli.Close()
		return nil, err
	}
	return &dockerCluster{
		target: target, cli: cli, prefix: "demohost-ratelimiter-" + leftovers.OwnerID(s.owner),
		nodeBinary: s.NodeBinary, redisImage: opts.String("redis_image"),
		settings: s.settings(opts), nodeCount: opts.Int("nodes"),
	}, nil
}

func (c *dockerCluster) redisName() string       { return c.prefix + "-redis" }
func (c *dockerCluster) networkName() string     { return c.prefix }
func (c *dockerCluster) nodeImage() string       { return c.prefix + "-node:local" }
func (c *dockerCluster) builtRedisImage() string { return c.prefix + "-redis:local" }

func (c *dockerCluster) Kind() string { return "docker containers" }

func (c *dockerCluster) Start(ctx context.Context, progress sdk.Progress) error {
	if _, err := c.target.CreateNetwork(ctx, c.networkName()); err != nil {
		return err
	}
	redisImage, redisCmd, err := c.ensureRedisImage(ctx, progress)
	if err != nil {
		return err
	}
	if err := buildRootfsImage(ctx, c.cli, c.target.Scope(), c.nodeImage(), c.nodeBinary); err != nil {
		return fmt.Errorf("node image: %w", err)
	}
	progress.Info("built node image " + c.nodeImage() + " FROM scratch with the plugin binary")

	rc, err := c.target.Run(ctx, docker.ContainerSpec{
		Name: c.redisName(), Image: redisImage, Cmd: redisCmd, Network: c.networkName(), Publish: []int{redisPort},
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.redisID, c.redisAddr = rc.ID, rc.HostPorts[fmt.Sprintf("%d/tcp", redisPort)]
	c.mu.Unlock()
	rdb := redis.NewClient(&redis.Options{Addr: c.redisAddr, MaxRetries: -1, DisableIdentity: true})
	defer rdb.Close()
	if err := process.WaitReady(ctx, nil, 20*time.Second, func(ctx context.Context) error { return rdb.Ping(ctx).Err() }); err != nil {
		return fmt.Errorf("redis container on %s: %w", c.redisAddr, err)
	}
	progress.Info(fmt.Sprintf("redis container %s answering on %s", c.redisName(), c.redisAddr))

	for i := 1; i <= c.nodeCount; i++ {
		id := fmt.Sprintf("node-%d", i)
		nc, err := c.target.Run(ctx, docker.ContainerSpec{
			Name: c.containerName(id), Image: c.nodeImage(), Network: c.networkName(), Publish: []int{nodePort},
			Cmd: c.settings.args(id, fmt.Sprintf("0.0.0.0:%d", nodePort), fmt.Sprintf("%s:%d", c.redisName(), redisPort)),
		})
		if err != nil {
			return err
		}
		ref := nodeRef{ID: id, Addr: nc.HostPorts[fmt.Sprintf("%d/tcp", nodePort)]}
		c.mu.Lock()
		c.refs = append(c.refs, ref)
		c.mu.Unlock()
		if err := process.WaitReady(ctx, nil, 20*time.Second, httpProbe("http://"+ref.Addr+"/health")); err != nil {
			return fmt.Errorf("%s container on %s: %w", id, ref.Addr, err)
		}
		progress.Info(fmt.Sprintf("%s container serving on %s", id, ref.Addr))
	}
	return nil
}

// ensureRedisImage returns the Redis image to run and its command: the
// redis_image option when the engine has it, else an image built FROM
// scratch from the installed redis-server (nothing can be pulled here).
func (c *dockerCluster) ensureRedisImage(ctx context.Context, progress sdk.Progress) (string, []string, error) {
	args := []string{"--save", "", "--appendonly", "no", "--protected-mode", "no"}
	if _, err := c.cli.ImageInspect(ctx, c.redisImage); err == nil {
		return c.redisImage, append([]string{"redis-server"}, args...), nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("redis image %s is not on this engine and redis-server is not installed to build one: "+
			"run `docker pull %s`, set redis_image to a local image, or install redis-server", c.redisImage, c.redisImage)
	}
	if err := buildRootfsImage(ctx, c.cli, c.target.Scope(), c.builtRedisImage(), bin); err != nil {
		return "", nil, fmt.Errorf("redis image: %w", err)
	}
	progress.Warning(fmt.Sprintf("%s is not on this engine: built %s FROM scratch from %s and its libraries (docker pull %s to use it instead)",
		c.redisImage, c.builtRedisImage(), bin, c.redisImage))
	return c.builtRedisImage(), args, nil
}

func (c *dockerCluster) containerName(id string) string { return c.prefix + "-" + id }

func (c *dockerCluster) Stop(ctx context.Context, progress sdk.Progress) error {
	if err := c.target.RemoveAll(ctx); err != nil {
		return err
	}
	progress.Info("removed the ratelimiter containers, network and images")
	c.target.Close()
	c.cli.Close()
	return nil
}

func (c *dockerCluster) RedisAddr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.redisAddr
}

func (c *dockerCluster) Nodes() []nodeRef {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]nodeRef(nil), c.refs...)
}

func (c *dockerCluster) RedisState(ctx context.Context) sdk.NodeState {
	rc, err := c.target.Inspect(ctx, c.redisName())
	switch {
	case err != nil:
		return sdk.Unknown
	case rc.Paused:
		return sdk.Paused
	case rc.Running:
		return sdk.Up
	}
	return sdk.Down
}

func (c *dockerCluster) PauseRedis(ctx context.Context) (string, string, error) {
	c.mu.Lock()
	id, addr := c.redisID, c.redisAddr
	c.mu.Unlock()
	if err := c.target.Pause(ctx, id); err != nil {
		return "", "", err
	}
	return redisPausePrefix + "docker:" + id, fmt.Sprintf("paused Redis at %s: docker pause %s", addr, c.redisName()), nil
}

func (c *dockerCluster) KillNode(ctx context.Context, id string) (string, error) {
	if _, err := nodeIndex(c.Nodes(), id); err != nil {
		return "", err
	}
	if err := c.target.Kill(ctx, c.containerName(id)); err != nil {
		return "", err
	}
	return fmt.Sprintf("killed %s: docker kill %s", id, c.containerName(id)), nil
}

// StartNode starts a killed node container again; its published port may
// change, so the new one is read back.
func (c *dockerCluster) StartNode(ctx context.Context, id string) (string, error) {
	i, err := nodeIndex(c.Nodes(), id)
	if err != nil {
		return "", err
	}
	if err := c.target.Start(ctx, c.containerName(id)); err != nil {
		return "", err
	}
	nc, err := c.target.WaitState(ctx, c.containerName(id), func(nc docker.Container) bool {
		return nc.Running && nc.HostPorts[fmt.Sprintf("%d/tcp", nodePort)] != ""
	})
	if err != nil {
		return "", err
	}
	addr := nc.HostPorts[fmt.Sprintf("%d/tcp", nodePort)]
	c.mu.Lock()
	c.refs[i].Addr = addr
	c.mu.Unlock()
	if err := process.WaitReady(ctx, nil, 20*time.Second, httpProbe("http://"+addr+"/health")); err != nil {
		return "", err
	}
	return fmt.Sprintf("started %s again (container %s, now on %s)", id, nc.Name, addr), nil
}

// unpauseDockerRedis reverts "redis-pause:docker:<id>": it unpauses that
// container only if it carries this subject's label.
func unpauseDockerRedis(ctx context.Context, id string) (string, error) {
	target, err := docker.New(dockerScope)
	if err != nil {
		return "", err
	}
	defer target.Close()
	rc, err := target.Inspect(ctx, id)
	switch {
	case err != nil && strings.Contains(err.Error(), "no such container"):
		return "the Redis container is gone: nothing left paused", nil
	case err != nil:
		return "", err
	case !rc.Paused:
		return fmt.Sprintf("Redis container %s was not paused", rc.Name), nil
	}
	if err := target.Unpause(ctx, rc.ID); err != nil {
		return "", err
	}
	return fmt.Sprintf("docker unpause %s", rc.Name), nil
}
