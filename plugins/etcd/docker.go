package etcd

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	dockerclient "github.com/docker/docker/client"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/docker"
	"github.com/demohost/demohost/sdk/process"
)

// The docker runtime: each member is a container of an image built here
// from the same etcd binary (FROM scratch, the binary and the libraries it
// loads; nothing is pulled), on a private bridge network with a subnet and
// addresses the plugin picks, so a member restarted after a kill keeps its
// address. Containers, network and image carry the labels
// demohost.plugin=etcd and demohost.owner=<pid>-<start> of the plugin
// process; only those are ever touched. Network faults are the same
// nftables tables as on the local runtime, inside each container's own
// network namespace (/proc/<pid>/ns/net of its etcd).

// ownerLabel names the plugin process that made a container.
const ownerLabel = "demohost.owner"

// dockerScope is every container of this subject.
var dockerScope = docker.Scope{"demohost.plugin": "etcd"}

func ownerScope(owner string) docker.Scope {
	return docker.Scope{"demohost.plugin": "etcd", ownerLabel: owner}
}

func ownerName(id process.Identity) string { return fmt.Sprintf("%d-%d", id.Pid, id.Start) }

// dockerRuntime is one cluster's Docker side.
type dockerRuntime struct {
	tg      *docker.Target
	cli     *dockerclient.Client
	prefix  string // names: demohost-etcd-<pid>-<start>[-m1]
	gateway net.IP // the host's address on the network
	subnet  byte   // 10.214.<subnet>.0/24
}

func (d *dockerRuntime) name(m *member) string { return d.prefix + "-" + m.id }

func (d *dockerRuntime) close() {
	d.tg.Close()
	d.cli.Close()
}

// newDockerRuntime connects to the engine for plugin process owner.
func newDockerRuntime(ctx context.Context, owner process.Identity) (*dockerRuntime, error) {
	tg, err := docker.New(ownerScope(ownerName(owner)))
	if err != nil {
		return nil, err
	}
	if err := tg.Ping(ctx); err != nil {
		tg.Close()
		return nil, fmt.Errorf("docker runtime: %w (start the engine, or --set runtime=local)", err)
	}
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		tg.Close()
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &dockerRuntime{tg: tg, cli: cli, prefix: "demohost-etcd-" + ownerName(owner)}, nil
}

// startDocker brings the members up as containers.
func (c *cluster) startDocker(ctx context.Context, progress sdk.Progress) error {
	d, err := newDockerRuntime(ctx, c.owner)
	if err != nil {
		return err
	}
	c.docker = d
	if err := c.state.save(func(r *stateRecord) { r.Docker = ownerName(c.owner) }); err != nil {
		return err
	}
	image := d.prefix + ":local"
	if err := buildRootfsImage(ctx, d.cli, ownerScope(ownerName(c.owner)), image, c.cfg.etcdPath); err != nil {
		return err
	}
	sub, err := pickNet(c.owner.Pid + 125) // apart from the local runtime's choice
	if err != nil {
		return err
	}
	d.subnet = sub
	d.gateway = net.IPv4(10, 214, sub, 1).To4()
	subnet := fmt.Sprintf("10.214.%d.0/24", sub)
	_, err = d.cli.NetworkCreate(ctx, d.prefix, network.CreateOptions{
		Driver: "bridge",
		Labels: ownerScope(ownerName(c.owner)),
		IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet, Gateway: d.gateway.String()}}},
	})
	if err != nil {
		return fmt.Errorf("create network %s on %s: %w", d.prefix, subnet, err)
	}
	var initial []string
	for i := 1; i <= c.cfg.members; i++ {
		m := &member{id: fmt.Sprintf("m%d", i), index: i, ip: net.IPv4(10, 214, sub, byte(10+i)).To4()}
		m.client = fmt.Sprintf("http://%s:%d", m.ip, clientPort)
		m.peer = fmt.Sprintf("http://%s:%d", m.ip, peerPort)
		m.dataDir = "/var/lib/etcd/" + m.id
		initial = append(initial, m.id+"="+m.peer)
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		id, err := d.create(ctx, m, image, c.etcdArgs(m, strings.Join(initial, ",")))
		if err != nil {
			return err
		}
		m.node = &dockerNode{d: d, id: id}
		if err := c.clientFor(m); err != nil {
			return err
		}
	}
	for _, m := range c.members {
		if err := c.startMember(m); err != nil {
			return err
		}
	}
	progress.Info(fmt.Sprintf("network: Docker network %s on %s; image %s built from %s", d.prefix, subnet, image, c.cfg.etcdPath))
	return nil
}

// create makes member m's container (not started) at its fixed address.
func (d *dockerRuntime) create(ctx context.Context, m *member, image string, args []string) (string, error) {
	name := d.name(m)
	cfg := &container.Config{Image: image, Cmd: args, Labels: d.tg.Scope()}
	host := &container.HostConfig{NetworkMode: container.NetworkMode(d.prefix)}
	netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		d.prefix: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: m.ip.String()}, Aliases: []string{m.id}},
	}}
	created, err := d.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, name)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", name, err)
	}
	return created.ID, nil
}

// dockerNode is a member as a container. Its state is what the plugin made
// it (only the plugin acts on its containers); a container that dies on its
// own shows through the status probes.
type dockerNode struct {
	d  *dockerRuntime
	id string

	mu      sync.Mutex
	running bool
	paused  bool
	pid     int // its etcd's pid on the host, while running
}

func (n *dockerNode) set(running, paused bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.running, n.paused = running, paused
}

func (n *dockerNode) Start(ctx context.Context) error {
	if err := n.d.tg.Start(ctx, n.id); err != nil {
		return err
	}
	info, err := n.d.cli.ContainerInspect(ctx, n.id)
	if err != nil {
		return fmt.Errorf("inspect container %s: %w", shortID(n.id), err)
	}
	n.mu.Lock()
	n.running, n.paused, n.pid = true, false, info.State.Pid
	n.mu.Unlock()
	return nil
}

func (n *dockerNode) Kill(ctx context.Context) error {
	if err := n.d.tg.Kill(ctx, n.id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := n.d.tg.WaitState(ctx, n.id, func(c docker.Container) bool { return !c.Running }); err != nil {
		return fmt.Errorf("kill container %s: %w", shortID(n.id), err)
	}
	n.set(false, false)
	return nil
}

func (n *dockerNode) Pause(ctx context.Context) error {
	if err := n.d.tg.Pause(ctx, n.id); err != nil {
		return err
	}
	n.set(true, true)
	return nil
}

func (n *dockerNode) Resume(ctx context.Context) error {
	if err := n.d.tg.Unpause(ctx, n.id); err != nil {
		return err
	}
	n.set(true, false)
	return nil
}

func (n *dockerNode) Stop(ctx context.Context) error {
	err := n.d.tg.Remove(ctx, n.id)
	n.set(false, false)
	return err
}

func (n *dockerNode) Stopped() string { return "container stopped (docker kill)" }

func (n *dockerNode) Running() bool { n.mu.Lock(); defer n.mu.Unlock(); return n.running }
func (n *dockerNode) Frozen() bool  { n.mu.Lock(); defer n.mu.Unlock(); return n.running && n.paused }

// Exited never closes: the status probes notice a container that stopped.
func (n *dockerNode) Exited() <-chan struct{} { return nil }
func (n *dockerNode) Ref() string             { return "container=" + n.id }
func (n *dockerNode) What() string            { return "container " + shortID(n.id) }
func (n *dockerNode) NetNS() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running || n.pid == 0 {
		return ""
	}
	return fmt.Sprintf("/proc/%d/ns/net", n.pid)
}

func shortID(id string) string { return id[:min(12, len(id))] }

// thawContainer unpauses a container frozen by plugin process owner, only
// if it carries that process' labels.
func thawContainer(ctx context.Context, owner, name, id string) (string, error) {
	var oid process.Identity
	if _, err := fmt.Sscanf(owner, "pid=%d,start=%d", &oid.Pid, &oid.Start); err != nil {
		return "", fmt.Errorf("bad owner %q in handle", owner)
	}
	tg, err := docker.New(ownerScope(ownerName(oid)))
	if err != nil {
		return "", err
	}
	defer tg.Close()
	c, err := tg.Inspect(ctx, id)
	if err != nil {
		if dockerclient.IsErrNotFound(errors.Unwrap(err)) || strings.Contains(err.Error(), "No such container") {
			return fmt.Sprintf("%s (container %s) is gone: nothing frozen", name, shortID(id)), nil
		}
		return "", err
	}
	if !c.Paused {
		return fmt.Sprintf("%s (container %s) is not paused", name, shortID(id)), nil
	}
	if err := tg.Unpause(ctx, id); err != nil {
		return "", err
	}
	return fmt.Sprintf("unpaused %s (container %s)", name, shortID(id)), nil
}

// reapDocker removes the containers, network and image of plugin process
// owner ("<pid>-<start>"), which is gone.
func reapDocker(ctx context.Context, owner string, progress sdk.Progress) error {
	tg, err := docker.New(ownerScope(owner))
	if err != nil {
		return err
	}
	defer tg.Close()
	cs, err := tg.List(ctx)
	if err != nil {
		return err
	}
	if err := tg.RemoveAll(ctx); err != nil {
		return fmt.Errorf("remove leftovers of plugin process %s: %w", owner, err)
	}
	progress.Info(fmt.Sprintf("removed %d leftover containers, the network and the image of plugin process %s that is gone", len(cs), owner))
	return nil
}

// reapDockerOrphans removes what plugin processes that are gone left in
// Docker without a state file naming it (say the state directory was
// removed).
func reapDockerOrphans(ctx context.Context, progress sdk.Progress) error {
	all, err := docker.New(dockerScope)
	if err != nil {
		return err
	}
	defer all.Close()
	if err := all.Ping(ctx); err != nil {
		return nil // no engine: nothing of ours can be there
	}
	cs, err := all.List(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var errs []error
	for _, c := range cs {
		owner := c.Labels[ownerLabel]
		if seen[owner] {
			continue
		}
		seen[owner] = true
		var id process.Identity
		if _, err := fmt.Sscanf(owner, "%d-%d", &id.Pid, &id.Start); err == nil && id.Alive() {
			continue // a demo running right now
		}
		errs = append(errs, reapDocker(ctx, owner, progress))
	}
	return errors.Join(errs...)
}

// buildRootfsImage builds image tag FROM scratch holding binary at its own
// path and every shared library the loader maps for it (as ldd lists
// them), labelled for scope so the scope's RemoveAll removes it.
func buildRootfsImage(ctx context.Context, cli *dockerclient.Client, scope docker.Scope, tag, binary string) error {
	files := []string{binary}
	out, err := exec.CommandContext(ctx, "ldd", binary).CombinedOutput()
	if err == nil {
		for _, m := range regexp.MustCompile(`(/\S+) \(0x`).FindAllStringSubmatch(string(out), -1) {
			files = append(files, m[1])
		}
	} else if !strings.Contains(string(out), "not a dynamic executable") {
		return fmt.Errorf("ldd %s: %v: %s", binary, err, out)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	put := func(name string, data []byte, mode int64) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := put("Dockerfile", fmt.Appendf(nil, "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [%q]\n", binary), 0o644); err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f) // a symlinked library lands at the linked name
		if err != nil {
			return fmt.Errorf("build image %s: %w", tag, err)
		}
		if err := put(filepath.Join("rootfs", f), data, 0o755); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags: []string{tag}, Labels: map[string]string{docker.ImageScopeLabel: scope.String()},
		Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("build image %s: %w", tag, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("build image %s: %s", tag, msg.Error)
		}
	}
}
