package tikv_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/plugins/tikv/fixture"
	"github.com/demohost/demohost/sdk/docker"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds, once per test binary, the fixture executable, the host
// (bin/demohost) and the plugin into a temporary directory laid out as
// DIR/demohost and DIR/tikv/demohost-tikv.
func binaries(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "tikv-e2e-")
		if buildErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if _, buildErr = fixture.BuildBinary(ctx, buildDir); buildErr != nil {
			return
		}
		for out, pkg := range map[string]string{
			filepath.Join(buildDir, "demohost"):              "github.com/demohost/demohost/cmd/demohost",
			filepath.Join(buildDir, "tikv", "demohost-tikv"): "github.com/demohost/demohost/plugins/tikv/cmd/demohost-tikv",
		} {
			if b, err := exec.CommandContext(ctx, "go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
				buildErr = &buildError{pkg: pkg, out: string(b)}
				return
			}
		}
	})
	if buildErr != nil {
		tb.Fatalf("build: %v", buildErr)
	}
	return buildDir
}

type buildError struct{ pkg, out string }

func (e *buildError) Error() string { return "go build " + e.pkg + ": " + e.out }

func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b)
}

// startFixture starts a fixture cluster (fixture PD, three fixture stores,
// fixture load) for this test and removes it, and checks it is gone, when
// the test ends.
func startFixture(tb testing.TB) *fixture.Cluster {
	tb.Helper()
	probe, err := docker.New(docker.Scope{"demohost.probe": "1"})
	if err != nil {
		tb.Skipf("no docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := probe.Ping(ctx); err != nil {
		tb.Skipf("no docker engine: %v", err)
	}
	_ = probe.Close()
	dir := binaries(tb)
	run := runID()
	c, err := fixture.StartCluster(ctx, filepath.Join(dir, "tikv-fixture"), fixture.ClusterConfig{Run: run})
	if c != nil {
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := c.Remove(ctx); err != nil {
				tb.Errorf("remove fixture cluster: %v", err)
			}
			assertGone(tb, run)
		})
	}
	if err != nil {
		tb.Fatalf("start fixture cluster: %v", err)
	}
	return c
}

// assertGone checks no container, network or image of the run is left.
func assertGone(tb testing.TB, run string) {
	tb.Helper()
	for _, args := range [][]string{
		{"ps", "-aq", "--filter", "label=" + fixture.RunLabel + "=" + run},
		{"network", "ls", "-q", "--filter", "label=" + fixture.RunLabel + "=" + run},
		{"images", "-q", "--filter", "label=" + fixture.RunLabel + "=" + run},
	} {
		out, err := exec.Command("docker", args...).Output()
		if err != nil {
			tb.Logf("docker %s: %v (check skipped)", strings.Join(args, " "), err)
			continue
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			tb.Errorf("docker %s: left behind: %s", strings.Join(args, " "), s)
		}
	}
}
