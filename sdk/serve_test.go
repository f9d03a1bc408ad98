package sdk_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/internal/testutil"
	"github.com/demohost/demohost/sdk/internal/wire"
	"github.com/demohost/demohost/sdk/internal/wiretest"
)

var markerBin string

// TestMain builds the marker plugin once; with SERVE_TEST_HOST set, the test
// binary instead acts as a host process that the tests kill.
func TestMain(m *testing.M) {
	if dir := os.Getenv("SERVE_TEST_HOST"); dir != "" {
		actAsHost(os.Getenv("MARKER_BIN"), dir)
		return
	}
	tmp, err := os.MkdirTemp("", "sdk-serve")
	if err != nil {
		panic(err)
	}
	markerBin = filepath.Join(tmp, "markerplugin")
	out, err := exec.Command("go", "build", "-o", markerBin, "./testdata/markerplugin").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build marker plugin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// launch starts the marker plugin as a real go-plugin child of this process.
func launch(t *testing.T, bin, dir string) (wire.SubjectClient, *plugin.Client) {
	t.Helper()
	c, pc, err := startPlugin(bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	return c, pc
}

func startPlugin(bin, dir string) (wire.SubjectClient, *plugin.Client, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "MARKER_DIR="+dir)
	return startCmd(cmd)
}

// startCmd starts the plugin cmd runs as a go-plugin child of this process.
func startCmd(cmd *exec.Cmd) (wire.SubjectClient, *plugin.Client, error) {
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: sdk.MagicCookieKey, MagicCookieValue: sdk.MagicCookieValue},
		VersionedPlugins: wiretest.PluginSet(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           hclog.NewNullLogger(),
	})
	rpc, err := pc.Client()
	if err != nil {
		return nil, nil, fmt.Errorf("start plugin: %w", err)
	}
	raw, err := rpc.Dispense("subject")
	if err != nil {
		pc.Kill()
		return nil, nil, fmt.Errorf("dispense: %w", err)
	}
	return raw.(wire.SubjectClient), pc, nil
}

func setupAndInject(t *testing.T, c wire.SubjectClient, dir string) {
	t.Helper()
	if err := prepare(c, dir); err != nil {
		t.Fatal(err)
	}
}

// prepare sets the plugin up and injects one fault, then checks the markers.
func prepare(c wire.SubjectClient, dir string) error {
	ctx := context.Background()
	if _, err := c.Configure(ctx, &wire.ConfigureRequest{}); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	stream, err := c.Setup(ctx, &wire.SetupRequest{})
	if err == nil {
		err = wiretest.Drain(stream.Recv, nil)
	}
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if _, err := c.InjectChaos(ctx, &wire.InjectChaosRequest{Fault: &wire.Fault{Name: "x", Kind: "MARK"}}); err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	for _, f := range []string{"setup", "chaos-x"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("marker %s missing after setup and inject: %w", f, err)
		}
	}
	return nil
}

func waitGone(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		if len(entries) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	entries, _ := os.ReadDir(dir)
	t.Fatalf("plugin left %d markers behind (chaos not reverted or not torn down)", len(entries))
}

func TestServeRevertsWhenHostShutsDown(t *testing.T) {
	dir := t.TempDir()
	c, pc := launch(t, markerBin, dir)
	setupAndInject(t, c, dir)
	pc.Kill() // graceful: go-plugin asks the plugin to shut down
	waitGone(t, dir)
}

func TestServeRevertsOnSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			c, pc := launch(t, markerBin, dir)
			defer pc.Kill()
			setupAndInject(t, c, dir)
			if err := syscall.Kill(pc.ReattachConfig().Pid, sig); err != nil {
				t.Fatal(err)
			}
			waitGone(t, dir)
		})
	}
}

// A host killed with SIGKILL cannot clean up: the plugin must notice it was
// orphaned and revert by itself.
func TestServeRevertsWhenHostIsKilled(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(self)
	host.Env = append(os.Environ(), "SERVE_TEST_HOST="+dir, "MARKER_BIN="+markerBin)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("host did not get ready: %q %v", line, err)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	waitGone(t, dir)
}

// actAsHost launches the plugin, sets up, injects, says ready and waits to
// be killed.
func actAsHost(bin, dir string) {
	c, _, err := startPlugin(bin, dir)
	if err == nil {
		err = prepare(c, dir)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("ready")
	select {}
}

// A plugin that ignores its context is still bounded: hung in RevertChaos
// when its host ends it (SIGTERM), Serve exits once its cleanup deadline
// passes, and — as the leader of its own process group, as demohost starts
// it — takes its child processes with it, which would otherwise keep the
// fault alive with no one left to revert it. Its socket directory goes too.
func TestServeExitsWhenItsCleanupOverruns(t *testing.T) {
	dir, childFile := t.TempDir(), filepath.Join(t.TempDir(), "child.pid")
	socketDir, err := os.MkdirTemp("", "plugin-dir")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(socketDir)
	cmd := exec.Command(markerBin)
	cmd.Env = append(os.Environ(), "MARKER_DIR="+dir, "MARKER_HANG="+childFile, "PLUGIN_UNIX_SOCKET_DIR="+socketDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // its own group, as demohost starts it
	c, pc, err := startCmd(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Kill()
	setupAndInject(t, c, dir)
	b, err := os.ReadFile(childFile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(string(b))
	pid := pc.ReattachConfig().Pid

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, sdk.CleanupTimeout+10*time.Second, "the plugin and its child to end", func() bool {
		return testutil.ProcessEnded(pid) && testutil.ProcessEnded(child)
	})
	if _, err := os.Stat(socketDir); err == nil {
		t.Error("the plugin's socket directory was left behind")
	}
}
