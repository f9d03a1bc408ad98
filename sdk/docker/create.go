package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
)

// CreateNetwork creates a private bridge network labelled with the scope
// and returns its id. An existing network of that name in scope is reused.
func (t *Target) CreateNetwork(ctx context.Context, name string) (string, error) {
	if nw, err := t.cli.NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
		if !t.scope.Matches(nw.Labels) {
			return "", fmt.Errorf("refusing to reuse network %s: it does not carry the labels %s: %w", name, t.scope, ErrOutOfScope)
		}
		return nw.ID, nil
	}
	resp, err := t.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: t.labels(nil)})
	if err != nil {
		return "", fmt.Errorf("create network %s: %w", name, err)
	}
	return resp.ID, nil
}

// ContainerSpec describes a container for Run.
type ContainerSpec struct {
	Name    string
	Image   string
	Cmd     []string // arguments to the image's entrypoint
	Env     []string // KEY=value
	Network string   // network name (from CreateNetwork); the container name is its DNS name there
	// Publish lists container TCP ports to publish on 127.0.0.1 at a free
	// host port; read the chosen one from Container.HostPorts["PORT/tcp"].
	Publish []int
	Labels  map[string]string // extra labels; the scope's labels are always added
}

// Run creates and starts a container labelled with the scope and returns
// its state once started.
func (t *Target) Run(ctx context.Context, spec ContainerSpec) (Container, error) {
	cfg := &container.Config{
		Image:        spec.Image,
		Cmd:          spec.Cmd,
		Env:          spec.Env,
		Labels:       t.labels(spec.Labels),
		ExposedPorts: nat.PortSet{},
	}
	host := &container.HostConfig{PortBindings: nat.PortMap{}}
	for _, p := range spec.Publish {
		port := nat.Port(strconv.Itoa(p) + "/tcp")
		cfg.ExposedPorts[port] = struct{}{}
		host.PortBindings[port] = []nat.PortBinding{{HostIP: "127.0.0.1", HostPort: ""}}
	}
	var netCfg *network.NetworkingConfig
	if spec.Network != "" {
		host.NetworkMode = container.NetworkMode(spec.Network)
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: []string{spec.Name}},
		}}
	}
	created, err := t.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, spec.Name)
	if err != nil {
		return Container{}, fmt.Errorf("create container %s from %s: %w", spec.Name, spec.Image, err)
	}
	if err := t.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return Container{}, fmt.Errorf("start container %s: %w", spec.Name, err)
	}
	return t.Inspect(ctx, created.ID)
}

// Remove force-removes one container in scope.
func (t *Target) Remove(ctx context.Context, idOrName string) error {
	c, err := t.checked(ctx, "remove", idOrName)
	if err != nil {
		return err
	}
	if err := t.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	return nil
}

// RemoveAll force-removes every container, network and image in scope.
// Call it only for a scope the plugin created itself (never for a compose
// project the user started). It carries on past errors and returns them
// all.
func (t *Target) RemoveAll(ctx context.Context) error {
	var errs []error
	cs, err := t.List(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range cs {
		if err := t.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !client.IsErrNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", c.Name, err))
		}
	}
	args := t.labelFilter()
	nws, err := t.cli.NetworkList(ctx, network.ListOptions{Filters: args})
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks %s: %w", t.scope, err))
	}
	for _, nw := range nws {
		if !t.scope.Matches(nw.Labels) {
			continue
		}
		if err := t.cli.NetworkRemove(ctx, nw.ID); err != nil && !client.IsErrNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", nw.Name, err))
		}
	}
	imgs, err := t.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", ImageScopeLabel+"="+t.scope.String()))})
	if err != nil {
		errs = append(errs, fmt.Errorf("list images %s: %w", t.scope, err))
	}
	for _, img := range imgs {
		if img.Labels[ImageScopeLabel] != t.scope.String() {
			continue
		}
		if _, err := t.cli.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil && !client.IsErrNotFound(err) {
			errs = append(errs, fmt.Errorf("remove image %s: %w", strings.Join(img.RepoTags, ","), err))
		}
	}
	return errors.Join(errs...)
}

// ImageScopeLabel marks an image built by BuildImage with the scope it was
// built for (Scope.String()), so RemoveAll finds it. Images do not carry
// the scope's labels themselves: containers inherit image labels, and a
// container someone else runs from the image must not fall into the scope.
const ImageScopeLabel = "demohost.image-scope"

// BuildImage builds an image FROM scratch holding one static executable
// (build it with CGO_ENABLED=0) as its entrypoint, tags it and labels it
// with ImageScopeLabel. The build context is made in memory and nothing is
// pulled. It returns the image id.
func (t *Target) BuildImage(ctx context.Context, tag, binaryPath string) (string, error) {
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return "", fmt.Errorf("build image %s: read binary: %w", tag, err)
	}
	dockerfile := "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"
	buildCtx, err := tarContext(map[string]tarFile{
		"Dockerfile": {data: []byte(dockerfile), mode: 0o644},
		"app":        {data: bin, mode: 0o755},
	})
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	resp, err := t.cli.ImageBuild(ctx, buildCtx, build.ImageBuildOptions{
		Tags:        []string{tag},
		Labels:      map[string]string{ImageScopeLabel: t.scope.String()},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1, // BuildKit needs a session; the classic builder does not
	})
	if err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	defer resp.Body.Close()
	if err := readBuildStream(resp.Body); err != nil {
		return "", fmt.Errorf("build image %s: %w", tag, err)
	}
	img, err := t.cli.ImageInspect(ctx, tag)
	if err != nil {
		return "", fmt.Errorf("build image %s: inspect result: %w", tag, err)
	}
	return img.ID, nil
}

type tarFile struct {
	data []byte
	mode int64
}

func tarContext(files map[string]tarFile) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, fmt.Errorf("tar %s: %w", name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return &buf, nil
}

// readBuildStream drains the engine's JSON progress stream and returns the
// build error it reports, if any.
func readBuildStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	var last string
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read build output (last: %q): %w", last, err)
		}
		if msg.Error != "" {
			return errors.New(strings.TrimSpace(msg.Error))
		}
		if s := strings.TrimSpace(msg.Stream); s != "" {
			last = s
		}
	}
}

// labels is extra plus the scope's labels (the scope wins).
func (t *Target) labels(extra map[string]string) map[string]string {
	out := maps.Clone(extra)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, t.scope)
	return out
}

func (t *Target) labelFilter() filters.Args {
	args := filters.NewArgs()
	for k, v := range t.scope {
		args.Add("label", k+"="+v)
	}
	return args
}
