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

	"github.com/demohost/demohost/plugins/tikv"
	"github.com/demohost/demohost/plugins/tikv/fixture"
	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/docker"
)

// The binaries are built once per test binary into one temporary
// directory: the fixture executable, then, for the tests that run the whole
// demo, the host and the plugin laid out as DIR/demohost and
// DIR/tikv/demohost-tikv.
var (
	buildDir                = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "tikv-e2e-") })
	fixtureBuilt, demoBuilt sync.Once
	fixtureErr, demoErr     error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := buildDir(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// fixtureBinary builds the fixture executable and returns the directory.
func fixtureBinary(tb testing.TB) string {
	tb.Helper()
	dir, err := buildDir()
	if err != nil {
		tb.Fatal(err)
	}
	fixtureBuilt.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_, fixtureErr = fixture.BuildBinary(ctx, dir)
	})
	if fixtureErr != nil {
		tb.Fatalf("build: %v", fixtureErr)
	}
	return dir
}

// binaries builds the fixture, the host (the root module's cmd/demohost)
// and the plugin, and returns the directory.
func binaries(tb testing.TB) string {
	tb.Helper()
	dir := fixtureBinary(tb)
	demoBuilt.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		for _, b := range []struct{ dir, out, pkg string }{
			{"../..", filepath.Join(dir, "demohost"), "./cmd/demohost"},
			{".", filepath.Join(dir, "tikv", "demohost-tikv"), "./cmd/demohost-tikv"},
		} {
			build := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
			build.Dir = b.dir
			if out, err := build.CombinedOutput(); err != nil {
				demoErr = &buildError{pkg: b.pkg, out: string(out)}
				return
			}
		}
	})
	if demoErr != nil {
		tb.Fatalf("build: %v", demoErr)
	}
	return dir
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	probe, err := docker.New(docker.Scope{"demohost.probe": "1"})
	if err == nil {
		err = probe.Ping(ctx)
		_ = probe.Close()
	}
	if err != nil { // the fixture runs on the real engine: no engine, no test
		tb.Fatalf("the fixture cluster needs the Docker engine (go test -short skips these tests): %v", err)
	}
	dir := fixtureBinary(tb)
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

// setUpAgainst configures a subject for the fixture cluster c (the
// defaults, with c's PD and selector), sets it up with req and tears it
// down when tb ends.
func setUpAgainst(tb testing.TB, c *fixture.Cluster, req sdk.SetupRequest) *tikv.Subject {
	tb.Helper()
	s := tikv.New()
	ctx := context.Background()
	d, _ := s.Describe(ctx)
	opts := sdk.Options{}
	for _, o := range d.Options {
		opts[o.Name] = o.Default
	}
	opts["pd"], opts["selector"] = c.PDAddr, c.Selector
	if err := s.Configure(ctx, sdk.ConfigureRequest{Options: opts}); err != nil {
		tb.Fatal(err)
	}
	if err := s.Setup(ctx, req); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Teardown(context.Background(), sdk.TeardownRequest{}) })
	return s
}
