package ratelimiter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/plugins/ratelimiter/internal/testredis"
	"github.com/demohost/demohost/sdk/docker"
	"github.com/demohost/demohost/sdk/process"
)

// report is the part of demohost's JSON journal this test reads.
type report struct {
	Chapters []struct {
		Title        string `json:"title"`
		Status       string `json:"status"`
		Expectations []struct {
			Mode string `json:"mode"`
			Met  bool   `json:"met"`
		} `json:"expectations"`
	} `json:"chapters"`
	Chaos []struct {
		Type         string            `json:"type"`
		Params       map[string]string `json:"params"`
		Detail       string            `json:"detail"`
		RevertDetail string            `json:"revert_detail"`
		InjectedAt   time.Time         `json:"injected_at"`
		RevertedAt   time.Time         `json:"reverted_at"`
	} `json:"chaos"`
	ViolationsSeen []struct {
		Invariant string `json:"invariant"`
	} `json:"violations_seen"`
	Metrics []struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	} `json:"metrics"`
}

// buildHost builds the demohost CLI of this tree.
func buildHost(t *testing.T) string {
	t.Helper()
	testredis.Need(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(t.TempDir(), "demohost")
	build := exec.Command("go", "build", "-o", host, "./cmd/demohost")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build demohost: %v\n%s", err, out)
	}
	return host
}

// TestWholeDemoHeadless runs the real CLI on the real plugin, local runtime,
// and checks the report proves every anomaly and that nothing is left.
func TestWholeDemoHeadless(t *testing.T) {
	host := buildHost(t)
	dir := t.TempDir()
	reportPath := filepath.Join(dir, "r.json")
	run := exec.Command(host, "--plugin", pluginBinary, "--headless", "--report", reportPath, "--log-file", filepath.Join(dir, "demo.log"))
	run.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"))
	start := time.Now()
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("demohost --headless: %v after %s\n%s", err, time.Since(start).Round(time.Second), out)
	}
	t.Logf("headless demo passed in %s", time.Since(start).Round(100*time.Millisecond))

	b, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	modes := map[string]int{}
	for _, c := range r.Chapters {
		if c.Status != "passed" {
			t.Errorf("chapter %q: %s", c.Title, c.Status)
		}
		for _, e := range c.Expectations {
			if e.Met {
				modes[e.Mode]++
			}
		}
	}
	for _, m := range []string{"eventually", "holds", "before", "after"} {
		if modes[m] == 0 {
			t.Errorf("no %s expectation met (met by mode: %v)", m, modes)
		}
	}
	kinds := map[string]string{}
	for _, m := range r.Metrics {
		kinds[m.Name] = m.Kind
	}
	for name, kind := range map[string]string{"allowed": "counter", "denied": "counter", "ops_per_s": "rate", "p99_ms": "gauge", "nodes_up": "gauge"} {
		if kinds[name] != kind {
			t.Errorf("metric %s is %q in the report, want %s", name, kinds[name], kind)
		}
	}
	seen := map[string]bool{}
	for _, v := range r.ViolationsSeen {
		seen[v.Invariant] = true
	}
	for _, inv := range []string{invOverLimit, invCounterDrift, invGhostAllowing, invNodeDown, invRedisUnreachable} {
		if !seen[inv] {
			t.Errorf("violations_seen lacks %s (has %v)", inv, seen)
		}
	}
	if len(r.Chaos) != 3 {
		t.Errorf("%d chaos entries, want 3 (pause, burst, kill)", len(r.Chaos))
	}
	redisPid := 0
	for _, c := range r.Chaos {
		if c.RevertedAt.IsZero() || c.RevertedAt.Before(c.InjectedAt) {
			t.Errorf("chaos %s (%s) not reverted", c.Type, c.Detail)
		}
		// Lines for people, never a handle.
		for _, line := range []string{c.Detail, c.RevertDetail} {
			if line == "" || strings.Contains(line, redisPausePrefix) || strings.Contains(line, nodeKillPrefix) || strings.Contains(line, burstPrefix) {
				t.Errorf("chaos %s: detail %q, revert detail %q; want lines for people, without a handle", c.Type, c.Detail, c.RevertDetail)
			}
		}
		if c.Type == "BURST_TRAFFIC" && c.Params["multiplier"] != "3" {
			t.Errorf("burst params %v, want multiplier 3", c.Params)
		}
		if _, pid, ok := strings.Cut(c.Detail, "SIGSTOP redis-server pid "); ok {
			redisPid, _ = strconv.Atoi(pid)
			if want := "SIGCONT redis-server pid " + pid; c.RevertDetail != want {
				t.Errorf("Redis pause reverted with %q, want %q", c.RevertDetail, want)
			}
		}
	}
	if redisPid == 0 {
		t.Fatal("no local Redis pause (SIGSTOP redis-server pid N) in the report")
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", redisPid)); err == nil && strings.TrimSpace(string(comm)) == "redis-server" {
		t.Errorf("redis-server pid %d still exists after the demo", redisPid)
	}
	if left := processesOf(pluginBinary); len(left) > 0 {
		t.Errorf("plugin processes left running: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "state", "demohost", "ratelimiter", "*.state")); len(left) > 0 {
		t.Errorf("the local state files were not cleared: %v", left)
	}
}

// processesOf lists live processes whose executable path is exe.
func processesOf(exe string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if args[0] == exe {
			out = append(out, e.Name()+": "+strings.Join(args, " "))
		}
	}
	return out
}

// TestHostSIGKILLedWhileRedisIsPaused kills the host with SIGKILL while
// Redis is paused: the plugin notices, resumes Redis and tears everything
// down, and no process of the demo is left, stopped or running.
func TestHostSIGKILLedWhileRedisIsPaused(t *testing.T) {
	host := buildHost(t)
	dir := t.TempDir()
	run, lines := startHeadless(t, host, dir)
	line := waitPaused(t, lines)
	_, pid, _ := strings.Cut(line, "SIGSTOP redis-server pid ")
	n, _ := strconv.Atoi(pid)
	redis, err := process.IdentityOf(n)
	if err != nil {
		t.Fatalf("no redis-server process from %q: %v", line, err)
	}
	testkit.WaitFor(t, 5*time.Second, "the kernel to report Redis stopped", redis.Stopped)

	killed := time.Now()
	if err := run.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = run.Wait()
	go func() {
		for range lines { // drain
		}
	}()
	testkit.WaitFor(t, 10*time.Second, "Redis to be resumed or gone", func() bool { return !redis.Stopped() })
	t.Logf("Redis no longer stopped %s after the host's SIGKILL", time.Since(killed).Round(time.Millisecond))
	testkit.WaitFor(t, 10*time.Second, "every demo process to end", func() bool { return !redis.Alive() && len(processesOf(pluginBinary)) == 0 })
	t.Logf("every demo process gone %s after the host's SIGKILL", time.Since(killed).Round(time.Millisecond))
}

// startHeadless starts a headless demo of this plugin and streams its
// stdout and stderr lines. The process is killed when the test ends.
func startHeadless(t *testing.T, host, dir string, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	run := exec.Command(host, append([]string{"--plugin", pluginBinary, "--headless", "--log-file", filepath.Join(dir, "demo.log")}, args...)...)
	run.Env = append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"))
	out, err := run.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	run.Stderr = run.Stdout
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Process.Kill() })
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return run, lines
}

// waitPaused reads the host's lines until Redis is paused and returns that
// line ("… paused Redis at ADDR: SIGSTOP redis-server pid N", or docker
// pause NAME).
func waitPaused(t *testing.T, lines <-chan string) string {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("demohost ended before pausing Redis")
			}
			if strings.Contains(line, "paused Redis at ") {
				return line
			}
		case <-deadline:
			t.Fatal("Redis was not paused within 90s")
		}
	}
}

// TestPluginSIGKILLedWhileRedisIsPausedInDocker kills the plugin (not the
// host) while the Redis container is paused: nothing in the dead plugin can
// revert, so the host reverts through a fresh plugin process and has it
// tear down; no container of the demo is left, paused or running.
func TestPluginSIGKILLedWhileRedisIsPausedInDocker(t *testing.T) {
	all := needDocker(t)
	host := buildHost(t)
	dir := t.TempDir()
	run, lines := startHeadless(t, host, dir, "--set", "runtime=docker")
	waitPaused(t, lines)
	pid := thePlugin(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var said []string
	for line := range lines {
		said = append(said, line)
	}
	_ = run.Wait()
	if code := run.ProcessState.ExitCode(); code != 2 {
		t.Errorf("exit %d after the plugin crashed; want 2", code)
	}
	if out := strings.Join(said, "\n"); !strings.Contains(out, "reverting through a fresh plugin process") {
		t.Errorf("the host did not revert after the crash:\n%s", out)
	}
	left, err := all.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range left {
		if strings.HasPrefix(c.Labels[docker.OwnerLabel], fmt.Sprintf("%d-", pid)) {
			t.Errorf("container %s (%s) of the crashed plugin left behind", c.Name, c.State)
		}
	}
}
