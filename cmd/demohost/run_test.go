package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/internal/testkit"
)

// fast makes the example demo quick: a short countdown and detection.
var fast = []string{"--set", "countdown=200ms", "--set", "detect_after=100ms"}

// panicHookEnv is the panic hook of a demohost built with -tags
// demohost_testhooks (hooks_test_build.go), as TestMain builds it.
const panicHookEnv = "DEMOHOST_TEST_PANIC_ON_CHAOS"

func TestHeadlessRunPassesAndReverts(t *testing.T) {
	report := filepath.Join(t.TempDir(), "r.json")
	res := demohost(t, nil, append([]string{"--plugin", examplePlg, "--headless", "--report", report}, fast...)...)
	if res.code != exitPassed {
		t.Fatalf("exit %d; want 0\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"chapter 3/5 passed  Kill a node", "chaos  injected kill one node (NODE_KILL, count=1) on node-", "revert reverted kill one node (NODE_KILL, count=1) on node-",
		"(chapter): started node-", "chapter 5/5 passed  Done", "result: PASSED: 5/5 chapters passed; faults injected: 1, reverted: 1", "report: " + report} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("progress lacks %q:\n%s", want, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "kill:node-") {
		t.Errorf("progress shows a raw handle instead of the plugin's line:\n%s", res.stdout)
	}
	j := readReport(t, report)
	if j.Subject != "example" || j.Result != journal.Passed || len(j.Chapters) != 5 {
		t.Fatalf("report: subject %q result %q, %d chapters; want example, passed, 5", j.Subject, j.Result, len(j.Chapters))
	}
	for _, c := range j.Chapters {
		if c.Status != journal.Passed {
			t.Errorf("chapter %q is %s", c.Title, c.Status)
		}
	}
	assertAllReverted(t, j, 1)
}

func TestFailedChapterExitsOne(t *testing.T) {
	// node_down is raised only after a minute: "Kill a node" times out.
	report := filepath.Join(t.TempDir(), "r.json")
	res := demohost(t, nil, "--plugin", examplePlg, "--headless", "--report", report,
		"--set", "countdown=0s", "--set", "detect_after=1m")
	if res.code != exitFailed {
		t.Fatalf("exit %d; want 1\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"chapter 3/5 failed  Kill a node", "unmet: violation node_down present within 10s", "result: FAILED"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("progress lacks %q:\n%s", want, res.stdout)
		}
	}
	assertAllReverted(t, readReport(t, report), 1)
}

// Ctrl-C, SIGTERM and SIGHUP while a fault is active: the host reverts it,
// tears down, writes the report and exits; the plugin does not outlive it.
func TestSignalsRevertChaos(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			h, report, logFile := startMidChaos(t, examplePlg)
			sent := time.Now()
			if err := h.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code := h.wait(t)
			t.Logf("%v: exited %s after the signal", sig, time.Since(sent).Round(time.Millisecond))
			if code != exitFailed {
				t.Errorf("exit %d; want 1 (the run did not finish)", code)
			}
			if want := "demohost: interrupted by " + unix.SignalName(sig); !strings.Contains(h.stderr.String(), want) {
				t.Errorf("stderr %q lacks %q", h.stderr.String(), want)
			}
			j := readReport(t, report)
			if j.Result == journal.Passed {
				t.Errorf("an interrupted run reports %q", j.Result)
			}
			assertAllReverted(t, j, 1)
			assertPluginGone(t, logFile)
		})
	}
}

// A panic in the host while a fault is active still reverts it.
func TestHostPanicRevertsChaos(t *testing.T) {
	dir := t.TempDir()
	report, logFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "log")
	res := demohost(t, []string{panicHookEnv + "=1"}, "--plugin", examplePlg, "--headless", "--report", report, "--log-file", logFile,
		"--set", "countdown=0s", "--set", "detect_after=1m")
	if res.code != exitUsage {
		t.Fatalf("exit %d; want 2\n%s%s", res.code, res.stdout, res.stderr)
	}
	if want := "demohost: internal error: test panic requested by " + panicHookEnv + "; the run was stopped and its chaos reverted"; !strings.Contains(res.stderr, want) {
		t.Errorf("stderr %q lacks %q", res.stderr, want)
	}
	assertAllReverted(t, readReport(t, report), 1)
	assertPluginGone(t, logFile)
	if b, _ := os.ReadFile(logFile); !strings.Contains(string(b), "host panicked") {
		t.Error("the panic is not in the log")
	}
}

func readReport(t testing.TB, path string) *journal.Journal {
	t.Helper()
	j, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func assertAllReverted(t *testing.T, j *journal.Journal, want int) {
	t.Helper()
	if len(j.Chaos) != want {
		t.Fatalf("report has %d chaos entries; want %d", len(j.Chaos), want)
	}
	for _, c := range j.Chaos {
		if c.RevertedAt == nil || c.RevertError != "" {
			t.Errorf("chaos %q on %s not reverted (error %q)", c.Name, c.Target, c.RevertError)
		}
	}
}

var pluginPidRE = regexp.MustCompile(`plugin started: .*pid=(\d+)`)

// pluginPID finds the plugin's pid in demohost's log.
func pluginPID(t testing.TB, logFile string) int {
	t.Helper()
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	m := pluginPidRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no plugin pid in the log:\n%s", b)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	return pid
}

// assertPluginGone checks that the plugin process has ended.
func assertPluginGone(t *testing.T, logFile string) {
	t.Helper()
	pid := pluginPID(t, logFile)
	testkit.WaitFor(t, 5*time.Second, "the plugin process to end", func() bool { return exited(pid) })
}

// startMidChaos starts a headless run of plugin (the example subject or one
// built on it) and returns once a fault is injected. node_down is raised
// only after a minute, so the fault stays active for the chapter's 10 s.
func startMidChaos(t testing.TB, plugin string) (h *host, report, logFile string) {
	t.Helper()
	dir := t.TempDir()
	report, logFile = filepath.Join(dir, "r.json"), filepath.Join(dir, "log")
	h = startDemohost(t, nil, "--plugin", plugin, "--headless", "--report", report, "--log-file", logFile,
		"--set", "countdown=0s", "--set", "detect_after=1m")
	h.waitOutput(t, "chaos  injected")
	return h, report, logFile
}

// host is a demohost process running in the background.
type host struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	stderr strings.Builder
	done   chan struct{}
}

func startDemohost(t testing.TB, env []string, args ...string) *host {
	t.Helper()
	h := &host{cmd: exec.Command(demohostBin, args...), done: make(chan struct{})}
	h.cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+t.TempDir()), env...)
	h.cmd.Stderr = &h.stderr
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.cmd.Process.Kill() })
	go func() {
		defer close(h.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.mu.Lock()
			h.out.WriteString(sc.Text() + "\n")
			h.mu.Unlock()
		}
	}()
	return h
}

func (h *host) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out.String()
}

func (h *host) waitOutput(t testing.TB, want string) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, "output "+strconv.Quote(want), func() bool { return strings.Contains(h.output(), want) })
}

// wait waits for the process to exit and returns its exit code.
func (h *host) wait(t testing.TB) int {
	t.Helper()
	<-h.done
	err := h.cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// A plugin that crashes mid-run is reported as such, with exit code 2; its
// fault is reverted through a fresh plugin process and the report says so.
func TestPluginCrashIsReported(t *testing.T) {
	h, report, logFile := startMidChaos(t, examplePlg)
	if err := syscall.Kill(pluginPID(t, logFile), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := h.wait(t); code != exitUsage {
		t.Errorf("exit %d; want 2", code)
	}
	for _, want := range []string{"demohost: plugin " + examplePlg + " exited during the run",
		"the plugin died with 1 fault active; reverting through a fresh plugin process"} {
		if !strings.Contains(h.stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", h.stderr.String(), want)
		}
	}
	if strings.Contains(h.stderr.String(), "demohost recover") {
		t.Errorf("stderr sends the user to recover although the fault was reverted: %q", h.stderr.String())
	}
	// The summary agrees with the report; no line shows gRPC's own framing.
	if want := "faults injected: 1, reverted: 1"; !strings.Contains(h.output(), want) {
		t.Errorf("the summary lacks %q:\n%s", want, h.output())
	}
	for _, framing := range []string{"rpc error", "desc =", "transport:", "connection error"} {
		if out := h.output() + h.stderr.String(); strings.Contains(out, framing) {
			t.Errorf("a line shows gRPC's framing %q:\n%s", framing, out)
		}
	}
	j := readReport(t, report)
	if j.Result == journal.Passed {
		t.Errorf("a run whose plugin crashed reports %q", j.Result)
	}
	if len(j.Chaos) != 1 || j.Chaos[0].RevertedAt == nil || j.Chaos[0].RevertedBy != "crash" {
		t.Errorf("chaos = %+v; want the one fault reverted after the crash", j.Chaos)
	}
}

// A plugin that hangs while tearing down does not hold demohost: the second
// Ctrl-C stops waiting, demohost exits while the plugin is still cleaning
// up, and the plugin finishes and exits on its own.
func TestSecondSignalStopsWaitingForAHungPlugin(t *testing.T) {
	h, report, logFile := startMidChaos(t, slowTeardown)
	if err := h.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the plugin's teardown to start", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "slow teardown started")
	})
	if err := h.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	h.wait(t)
	pid := pluginPID(t, logFile)
	if exited(pid) {
		t.Fatal("demohost waited for the hung plugin's cleanup after the second SIGINT")
	}
	if want := "stopped waiting; the plugin (pid " + strconv.Itoa(pid) + ") finishes reverting and tearing down on its own"; !strings.Contains(h.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, h.stderr.String())
	}
	if strings.Contains(h.stderr.String()+h.output(), "slow teardown started") {
		t.Error("what the plugin wrote to stderr reached the terminal; it belongs in the log file")
	}
	assertAllReverted(t, readReport(t, report), 1)
	testkit.WaitFor(t, 30*time.Second, "the plugin to finish and exit on its own", func() bool { return exited(pid) })
}

// stdout going away (demohost --headless ... | head -1) does not end the
// run: it goes on, reverts its fault as usual, writes its report and exits
// with the run's code, not SIGPIPE's.
func TestStdoutGoneRunGoesOn(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "r.json")
	cmd := exec.Command(demohostBin, append([]string{"--plugin", examplePlg, "--headless", "--report", report}, fast...)...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil { // head -1
		t.Fatal(err)
	}
	stdout.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demohost ended with %v once its stdout was gone; want exit 0\n%s", err, stderr.String())
	}
	j := readReport(t, report)
	if j.Result != journal.Passed || len(j.Chapters) != 5 {
		t.Errorf("report: result %q, %d chapters; want the whole run, passed", j.Result, len(j.Chapters))
	}
	assertAllReverted(t, j, 1)
}
