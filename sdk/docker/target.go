package docker

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// Target lists, kills, starts, pauses and unpauses the containers of one
// Scope. It is safe for concurrent use.
type Target struct {
	cli   *client.Client
	scope Scope
}

// Container is what a Target knows about one container in its scope.
type Container struct {
	ID      string
	Name    string // without the leading "/"
	Image   string
	Labels  map[string]string
	State   string // created, running, paused, exited, dead, …
	Running bool   // true for running and paused containers
	Paused  bool
	// IPs maps each network the container is attached to onto its address
	// there; empty while the container is not running.
	IPs map[string]string
	// HostPorts maps a published container port ("20180/tcp") onto the
	// host address it is published on ("127.0.0.1:49153").
	HostPorts map[string]string
}

// Service is the compose service name of the container, if any.
func (c Container) Service() string { return c.Labels[ComposeServiceLabel] }

// IP is the container's address on one of its networks (the first by
// network name), or "" when it has none.
func (c Container) IP() string {
	names := make([]string, 0, len(c.IPs))
	for n, ip := range c.IPs {
		if ip != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return c.IPs[names[0]]
}

// New connects to the engine from the environment (DOCKER_HOST & co.),
// negotiating the API version, and returns a Target for scope.
func New(scope Scope) (*Target, error) {
	if len(scope) == 0 {
		return nil, fmt.Errorf("docker target: empty scope: give the labels (or compose project) of the plugin's containers")
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Target{cli: cli, scope: scope}, nil
}

// Scope returns the labels the Target acts on.
func (t *Target) Scope() Scope { return t.scope }

// Close releases the engine connection.
func (t *Target) Close() error { return t.cli.Close() }

// Ping checks the engine answers; the error says how to fix it.
func (t *Target) Ping(ctx context.Context) error {
	if _, err := t.cli.Ping(ctx); err != nil {
		return fmt.Errorf("docker engine not reachable (is dockerd running and DOCKER_HOST right?): %w", err)
	}
	return nil
}

// List returns every container in scope, running or not, sorted by name.
func (t *Target) List(ctx context.Context) ([]Container, error) {
	sums, err := t.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: t.labelFilter()})
	if err != nil {
		return nil, fmt.Errorf("list containers %s: %w", t.scope, err)
	}
	out := make([]Container, 0, len(sums))
	for _, s := range sums {
		if !t.scope.Matches(s.Labels) { // the engine filtered; check anyway
			continue
		}
		out = append(out, fromSummary(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Inspect returns the current state of a container in scope, found by id or
// name. A container outside the scope is refused.
func (t *Target) Inspect(ctx context.Context, idOrName string) (Container, error) {
	return t.checked(ctx, "inspect", idOrName)
}

// Kill sends SIGKILL to a container in scope (never a graceful stop: the
// point is an abrupt crash). Killing a container that is not running is not
// an error.
func (t *Target) Kill(ctx context.Context, idOrName string) error {
	c, err := t.checked(ctx, "kill", idOrName)
	if err != nil {
		return err
	}
	if !c.Running {
		return nil
	}
	if err := t.cli.ContainerKill(ctx, c.ID, "KILL"); err != nil {
		return fmt.Errorf("kill container %s: %w", c.Name, err)
	}
	return nil
}

// Start starts a stopped container in scope (unpausing it if paused).
// Starting a running container is not an error.
func (t *Target) Start(ctx context.Context, idOrName string) error {
	c, err := t.checked(ctx, "start", idOrName)
	if err != nil {
		return err
	}
	switch {
	case c.Paused:
		return t.unpause(ctx, c)
	case c.Running:
		return nil
	}
	if err := t.cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", c.Name, err)
	}
	return nil
}

// Pause freezes a running container in scope (cgroup freezer).
func (t *Target) Pause(ctx context.Context, idOrName string) error {
	c, err := t.checked(ctx, "pause", idOrName)
	if err != nil {
		return err
	}
	if c.Paused {
		return nil
	}
	if err := t.cli.ContainerPause(ctx, c.ID); err != nil {
		return fmt.Errorf("pause container %s: %w", c.Name, err)
	}
	return nil
}

// Unpause resumes a paused container in scope; a container that is not
// paused is left alone.
func (t *Target) Unpause(ctx context.Context, idOrName string) error {
	c, err := t.checked(ctx, "unpause", idOrName)
	if err != nil {
		return err
	}
	if !c.Paused {
		return nil
	}
	return t.unpause(ctx, c)
}

func (t *Target) unpause(ctx context.Context, c Container) error {
	if err := t.cli.ContainerUnpause(ctx, c.ID); err != nil {
		return fmt.Errorf("unpause container %s: %w", c.Name, err)
	}
	return nil
}

// WaitState polls a container in scope until want(c) holds or ctx ends.
func (t *Target) WaitState(ctx context.Context, idOrName string, want func(Container) bool) (Container, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := t.Inspect(ctx, idOrName)
		if err == nil && want(c) {
			return c, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return c, fmt.Errorf("wait for container %s: %w (last error: %v)", idOrName, ctx.Err(), err)
			}
			return c, fmt.Errorf("wait for container %s (state %s): %w", idOrName, c.State, ctx.Err())
		case <-tick.C:
		}
	}
}

// checked inspects a container and refuses it unless it is in scope. The
// returned Container carries the full id, so the action that follows hits
// exactly the container that was checked.
func (t *Target) checked(ctx context.Context, action, idOrName string) (Container, error) {
	if strings.TrimSpace(idOrName) == "" {
		return Container{}, fmt.Errorf("%s container: no container named", action)
	}
	resp, err := t.cli.ContainerInspect(ctx, idOrName)
	if err != nil {
		if client.IsErrNotFound(err) {
			return Container{}, fmt.Errorf("%s container %s: no such container (scope %s)", action, idOrName, t.scope)
		}
		return Container{}, fmt.Errorf("%s container %s: inspect: %w", action, idOrName, err)
	}
	c := fromInspect(resp)
	if !t.scope.Matches(c.Labels) {
		return Container{}, outOfScope(action, c.Name, c.ID, t.scope)
	}
	return c, nil
}

func fromSummary(s container.Summary) Container {
	c := Container{
		ID:        s.ID,
		Image:     s.Image,
		Labels:    s.Labels,
		State:     s.State,
		Running:   s.State == container.StateRunning || s.State == container.StatePaused,
		Paused:    s.State == container.StatePaused,
		IPs:       map[string]string{},
		HostPorts: map[string]string{},
	}
	if len(s.Names) > 0 {
		c.Name = strings.TrimPrefix(s.Names[0], "/")
	}
	if s.NetworkSettings != nil {
		for name, ep := range s.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress != "" {
				c.IPs[name] = ep.IPAddress
			}
		}
	}
	for _, p := range s.Ports {
		if p.PublicPort != 0 && (p.IP == "" || !strings.Contains(p.IP, ":")) { // IPv4 binding
			ip := p.IP
			if ip == "" || ip == "0.0.0.0" {
				ip = "127.0.0.1"
			}
			c.HostPorts[strconv.Itoa(int(p.PrivatePort))+"/"+p.Type] = ip + ":" + strconv.Itoa(int(p.PublicPort))
		}
	}
	return c
}

func fromInspect(r container.InspectResponse) Container {
	c := Container{IPs: map[string]string{}, HostPorts: map[string]string{}}
	if r.ContainerJSONBase != nil {
		c.ID = r.ID
		c.Name = strings.TrimPrefix(r.Name, "/")
		if st := r.State; st != nil {
			c.State = st.Status
			c.Running = st.Running
			c.Paused = st.Paused
		}
	}
	if r.Config != nil {
		c.Image = r.Config.Image
		c.Labels = r.Config.Labels
	}
	if ns := r.NetworkSettings; ns != nil {
		for name, ep := range ns.Networks {
			if ep != nil && ep.IPAddress != "" {
				c.IPs[name] = ep.IPAddress
			}
		}
		for port, binds := range ns.Ports {
			for _, b := range binds {
				if b.HostPort == "" || strings.Contains(b.HostIP, ":") {
					continue
				}
				ip := b.HostIP
				if ip == "" || ip == "0.0.0.0" {
					ip = "127.0.0.1"
				}
				c.HostPorts[string(port)] = ip + ":" + b.HostPort
			}
		}
	}
	return c
}
