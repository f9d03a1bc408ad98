package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk/internal/testutil"
)

// These tests run against the real Docker engine. Each uses its own label
// value, and removes what it created even when it fails.

func TestParseScope(t *testing.T) {
	s, err := ParseScope(" demohost.plugin=tikv , com.docker.compose.project=demo")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "com.docker.compose.project=demo,demohost.plugin=tikv" {
		t.Fatalf("String() = %q", got)
	}
	if !s.Matches(map[string]string{"demohost.plugin": "tikv", "com.docker.compose.project": "demo", "x": "y"}) {
		t.Fatal("labels carrying the whole scope should match")
	}
	if s.Matches(map[string]string{"demohost.plugin": "tikv"}) {
		t.Fatal("labels carrying part of the scope must not match")
	}
	for _, bad := range []string{"", "noequals", "=v", "k="} {
		if _, err := ParseScope(bad); err == nil {
			t.Errorf("ParseScope(%q) accepted", bad)
		}
	}
	if (Scope{}).Matches(map[string]string{}) {
		t.Fatal("an empty scope must match nothing")
	}
}

var (
	imageOnce sync.Once
	binPath   string
	binErr    error
)

// sleeperBinary builds testdata/sleeper as a static binary, once.
func sleeperBinary(t *testing.T) string {
	t.Helper()
	imageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sdkdocker-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "sleeper")
		cmd := exec.Command("go", "build", "-o", binPath, "./testdata/sleeper")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("build sleeper: %v", binErr)
	}
	return binPath
}

func uniqueScope(t *testing.T) Scope {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return Scope{"demohost.test": "sdkdocker-" + hex.EncodeToString(b)}
}

// newTarget returns a Target for a fresh scope whose objects are removed
// when the test ends.
func newTarget(t *testing.T) *Target {
	t.Helper()
	tg, err := New(uniqueScope(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tg.Ping(ctx); err != nil {
		if testing.Short() {
			t.Skipf("-short: no docker engine: %v", err)
		}
		t.Fatalf("no Docker engine (%v): these tests run against the real one; start it (docker info must work), or go test -short to skip them", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := tg.RemoveAll(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		_ = tg.Close()
	})
	return tg
}

// runSleeper builds an image in tg's scope and runs one container from it.
func runSleeper(t *testing.T, tg *Target, name string) Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tag := "demohost-sdktest-" + tg.Scope()["demohost.test"] + ":latest"
	if _, err := tg.BuildImage(ctx, tag, sleeperBinary(t)); err != nil {
		t.Fatal(err)
	}
	nw := "net-" + tg.Scope()["demohost.test"]
	if _, err := tg.CreateNetwork(ctx, nw); err != nil {
		t.Fatal(err)
	}
	c, err := tg.Run(ctx, ContainerSpec{Name: name + "-" + tg.Scope()["demohost.test"], Image: tag, Network: nw, Publish: []int{8080}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func answers(addr string) bool {
	c := http.Client{Timeout: 300 * time.Millisecond}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b) == "ok"
}

func TestBuildRunKillStart(t *testing.T) {
	tg := newTarget(t)
	c := runSleeper(t, tg, "node")
	ctx := context.Background()

	addr := c.HostPorts["8080/tcp"]
	if addr == "" {
		t.Fatalf("port 8080 not published: %+v", c.HostPorts)
	}
	testutil.WaitFor(t, 10*time.Second, "the container to answer on "+addr, func() bool { return answers(addr) })

	list, err := tg.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != c.ID || list[0].IP() == "" {
		t.Fatalf("List = %+v, %v; want the one running container with an IP", list, err)
	}

	if err := tg.Kill(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	got, err := tg.Inspect(ctx, c.ID)
	if err != nil || got.Running || got.State != "exited" {
		t.Fatalf("after Kill: %+v, %v; want exited", got, err)
	}
	if answers(addr) {
		t.Fatal("a killed container still answers")
	}
	if err := tg.Kill(ctx, c.Name); err != nil {
		t.Fatalf("killing a stopped container should be a no-op: %v", err)
	}

	if err := tg.Start(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	got, err = tg.Inspect(ctx, c.ID)
	if err != nil || !got.Running {
		t.Fatalf("after Start: %+v, %v; want running", got, err)
	}
	addr = got.HostPorts["8080/tcp"] // the host port may change on restart
	testutil.WaitFor(t, 10*time.Second, "the restarted container to answer", func() bool { return answers(addr) })

	if err := tg.Pause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := tg.Inspect(ctx, c.ID); !got.Paused {
		t.Fatalf("after Pause: state %s", got.State)
	}
	if err := tg.Unpause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the unpaused container to answer", func() bool { return answers(addr) })
}

func TestRefusesContainersOutsideScope(t *testing.T) {
	outsider := newTarget(t) // another plugin's container
	c := runSleeper(t, outsider, "outsider")
	tg := newTarget(t)
	ctx := context.Background()

	for name, act := range map[string]func(context.Context, string) error{
		"kill": tg.Kill, "start": tg.Start, "pause": tg.Pause, "unpause": tg.Unpause, "remove": tg.Remove,
	} {
		err := act(ctx, c.Name)
		if !errors.Is(err, ErrOutOfScope) {
			t.Fatalf("%s on a container outside the scope: err = %v, want ErrOutOfScope", name, err)
		}
		if !contains(err.Error(), c.Name) {
			t.Fatalf("%s refusal %q does not name the container %s", name, err, c.Name)
		}
	}
	got, err := outsider.Inspect(ctx, c.ID)
	if err != nil || !got.Running || got.Paused {
		t.Fatalf("the refused container must be left running: %+v, %v", got, err)
	}
	if list, _ := tg.List(ctx); len(list) != 0 {
		t.Fatalf("List shows containers outside the scope: %+v", list)
	}
	if err := tg.RemoveAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := outsider.Inspect(ctx, c.ID); err != nil || !got.Running {
		t.Fatalf("RemoveAll of another scope touched the container: %+v, %v", got, err)
	}
}

func TestBuildImageReportsBuildErrors(t *testing.T) {
	tg := newTarget(t)
	_, err := tg.BuildImage(context.Background(), "demohost-sdktest-bad:latest", filepath.Join(t.TempDir(), "missing"))
	if err == nil {
		t.Fatal("building from a missing binary succeeded")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
