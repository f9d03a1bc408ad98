package ratelimiter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/sdk/docker"
)

// The plugin SIGKILLed in chapter 2, with no fault active yet, on the docker
// runtime: the host still starts it again to tear down what the dead
// process left, says so, and journals it; no container or network of the
// dead process is left (before, the crash path returned early when nothing
// was unreverted, leaving 4 containers and a network, silently).
func TestPluginSIGKILLedWithNoFaultActiveInDocker(t *testing.T) {
	all := needDocker(t)
	host := buildHost(t)
	dir := t.TempDir()
	reportPath := filepath.Join(dir, "r.json")
	run, lines := startHeadless(t, host, dir, "--set", "runtime=docker", "--report", reportPath)
	var said []string
	for line := range lines {
		said = append(said, line)
		if strings.HasPrefix(line, "chapter 1/") {
			break // chapter 2 runs its action; its fault is a chapter away
		}
	}
	pid := thePlugin(t)
	owner := fmt.Sprintf("%d-", pid)
	ctx := context.Background()
	testkit.WaitFor(t, 30*time.Second, "the plugin's containers", func() bool { return len(ownedBy(t, all, owner)) > 0 })
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		said = append(said, line)
	}
	_ = run.Wait()
	out := strings.Join(said, "\n")
	if code := run.ProcessState.ExitCode(); code != 2 {
		t.Errorf("exit %d after the plugin crashed; want 2\n%s", code, out)
	}
	if want := "the plugin died; tearing down what it left through a fresh plugin process"; !strings.Contains(out, want) {
		t.Errorf("the host did not say %q:\n%s", want, out)
	}
	if left := ownedBy(t, all, owner); len(left) > 0 {
		t.Errorf("containers of the crashed plugin left behind: %v", left)
	}
	nets, err := exec.CommandContext(ctx, "docker", "network", "ls", "--format", `{{.Name}} {{.Label "`+docker.OwnerLabel+`"}}`).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range strings.Split(string(nets), "\n") {
		if _, o, _ := strings.Cut(n, " "); strings.HasPrefix(o, owner) {
			t.Errorf("network %s of the crashed plugin left behind", n)
		}
	}
	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Events []struct{ Kind, Message string } `json:"events"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range r.Events {
		found = found || e.Kind == "teardown" && strings.Contains(e.Message, "torn down through a fresh plugin process after the plugin died")
	}
	if !found {
		t.Errorf("the report does not journal the teardown after the crash: %+v", r.Events)
	}
}

// thePlugin is the pid of the one plugin process running (not the nodes
// it runs in containers).
func thePlugin(t *testing.T) int {
	t.Helper()
	var plugins []string
	for _, p := range processesOf(pluginBinary) {
		if strings.HasSuffix(p, ": "+pluginBinary) {
			plugins = append(plugins, p)
		}
	}
	if len(plugins) != 1 {
		t.Fatalf("want one plugin process, found %v", plugins)
	}
	var pid int
	fmt.Sscan(plugins[0], &pid)
	return pid
}

// ownedBy lists the containers (in any state) whose owner label starts with
// owner.
func ownedBy(t *testing.T, all *docker.Target, owner string) []string {
	t.Helper()
	cs, err := all.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		if strings.HasPrefix(c.Labels[docker.OwnerLabel], owner) {
			out = append(out, c.Name+" ("+c.State+")")
		}
	}
	return out
}
