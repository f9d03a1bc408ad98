package ratelimiter

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/demohost/demohost/sdk/docker"
	"github.com/docker/docker/api/types/build"
	dockerclient "github.com/docker/docker/client"
)

// buildRootfsImage builds an image FROM scratch holding one executable at
// its own path plus every shared library it loads (as `ldd` lists them), so
// an installed binary such as redis-server runs without a base image and a
// static binary goes in alone. Nothing is pulled. The image carries
// docker.ImageScopeLabel for scope, so the scope's RemoveAll removes it.
func buildRootfsImage(ctx context.Context, cli *dockerclient.Client, scope docker.Scope, tag, binary string) error {
	files, err := withLibraries(binary)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [%q]\n", binary)
	if err := addTar(tw, "Dockerfile", []byte(dockerfile), 0o644); err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f) // follows symlinks: the file lands at the linked name
		if err != nil {
			return fmt.Errorf("build image %s: %w", tag, err)
		}
		if err := addTar(tw, "rootfs"+f, data, 0o755); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{tag},
		Labels:      map[string]string{docker.ImageScopeLabel: scope.String()},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	defer resp.Body.Close()
	return buildError(resp.Body)
}

var lddPath = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x`)

// withLibraries returns binary and the absolute paths of the libraries the
// dynamic loader maps for it (none for a static binary).
func withLibraries(binary string) ([]string, error) {
	binary, err := filepath.Abs(binary)
	if err != nil {
		return nil, err
	}
	files := []string{binary}
	out, err := exec.Command("ldd", binary).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") || strings.Contains(string(out), "statically linked") {
			return files, nil
		}
		return nil, fmt.Errorf("ldd %s: %v: %s", binary, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if m := lddPath.FindStringSubmatch(line); m != nil {
			files = append(files, m[1])
		}
	}
	return files, nil
}

func addTar(tw *tar.Writer, name string, data []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("tar %s: %w", name, err)
	}
	_, err := tw.Write(data)
	return err
}

// buildError drains the engine's build stream and returns the error it
// reports, if any.
func buildError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read build output: %w", err)
		}
		if msg.Error != "" {
			return errors.New(strings.TrimSpace(msg.Error))
		}
	}
}
