// Package jobqueue holds the tests of the Python subject plugin in this
// directory (see README.md): they run it through the real demohost and
// through pluginhost, as real processes, and check every duty of
// docs/PROTOCOL.md.
package jobqueue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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

	"github.com/hashicorp/go-hclog"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/testkit"
)

var (
	dir      = filepath.Join(testkit.Root(), "plugins", "jobqueue")
	plugin   = filepath.Join(dir, "demohost-jobqueue")
	demohost string // built by TestMain
	example  string // the example Go plugin, built by TestMain
)

func TestMain(m *testing.M) {
	testkit.MainWithBuiltAll(m, map[*string]string{&demohost: testkit.DemohostCommand, &example: testkit.ExamplePlugin})
}

// result is how a demohost process ended.
type result struct {
	code           int
	stdout, stderr string
}

// run runs demohost with args, its state (and so the plugin's) in home.
func run(t *testing.T, home string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, demohost, args...)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+home)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		res.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("demohost %v: %v", args, err)
	}
	return res
}

// processesOf lists the live processes whose environment holds
// XDG_STATE_HOME=home: a demohost run of one test, its plugin and the
// plugin's nodes.
func processesOf(home string) []int {
	marker := []byte("XDG_STATE_HOME=" + home + "\x00")
	return testkit.Processes(func(pid int) bool {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		return err == nil && bytes.Contains(env, marker)
	})
}

// startTime is field 22 of /proc/PID/stat.
func startTime(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndexByte(b, ')')
	v, err := strconv.ParseUint(strings.Fields(string(b[i+1:]))[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// nodesOf lists the live node processes the plugin process pid started,
// by node name.
func nodesOf(pid int) map[string]int {
	out := map[string]int{}
	testkit.Processes(func(n int) bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n))
		args := strings.Split(string(b), "\x00")
		if err != nil || len(args) < 5 || !strings.HasSuffix(args[1], "node.py") || args[3] != "--run" || !strings.HasPrefix(args[4], strconv.Itoa(pid)+"-") {
			return false
		}
		name := args[2]
		for i, a := range args {
			if a == "--name" && i+1 < len(args) {
				name = args[i+1]
			}
		}
		out[name] = n
		return true
	})
	return out
}

// stateFiles lists the plugin's state files under home.
func stateFiles(home string) []string {
	files, _ := filepath.Glob(filepath.Join(home, "demohost", "jobqueue", "*.json"))
	return files
}

// launch starts the plugin through pluginhost with its state in a fresh
// directory (returned), closing it when the test ends.
func launch(t *testing.T, home string) (*pluginhost.Plugin, *testkit.Buffer) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", home)
	log := &testkit.Buffer{}
	p, err := pluginhost.Launch(pluginhost.Config{Path: plugin, Logger: hclog.New(&hclog.LoggerOptions{Output: log, Level: hclog.Debug})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, log
}

func TestStubsAreFresh(t *testing.T) {
	out := t.TempDir()
	gen := exec.Command("bash", filepath.Join(dir, "generate.sh"), out)
	if b, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("generate.sh: %v\n%s (python3-grpc-tools installs what it needs)", err, b)
	}
	for _, name := range []string{"subject_pb2.py", "subject_pb2_grpc.py"} {
		rel := filepath.Join("gen", "demohost", "v2", name)
		fresh, err := os.ReadFile(filepath.Join(out, rel))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("plugins/jobqueue/%s is stale: run plugins/jobqueue/generate.sh and commit the result", rel)
		}
	}
}

// The plugin parses option values as the host (Go) does, so a value the
// host let through means the same to the plugin.
func TestOptionValuesParseAsGoParsesThem(t *testing.T) {
	values := map[string][]string{
		"INT":      {"3", "-1", "+7", "007", "1_000", "0x10", " 3", "", "9223372036854775807", "9223372036854775808", "three"},
		"FLOAT":    {"1.5", ".5", "5.", "+.5", "-2e3", "1E-3", "1_000.5", "1__0", "_1", "0x1p-2", "0x1.8p1", "0x10", "inf", "-Infinity", "NaN", "+NaN", "1e400", " 1", "1e", "", "half"},
		"BOOL":     {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False", "yes", "TrUe", ""},
		"DURATION": {"0", "-0", "250ms", "30s", "1m30s", "1.5h", ".5s", "5.s", "-2s", "+5s", "1.5µs", "1μs", "2us", "3ns", "300", "1d", "1 s", "", ".", "1h-30m", "0.000000001s", "2562047h", "2562048h"},
	}
	var in strings.Builder
	var cases [][2]string
	for kind, vs := range values {
		for _, v := range vs {
			fmt.Fprintf(&in, "%s %s\n", kind, v)
			cases = append(cases, [2]string{kind, v})
		}
	}
	cmd := exec.Command("/usr/bin/python3", filepath.Join(dir, "jobqueue", "options.py"))
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("options.py: %v", err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(cases) {
		t.Fatalf("options.py answered %d lines for %d values", len(got), len(cases))
	}
	for i, c := range cases {
		want, ok := goParse(c[0], c[1])
		if !ok {
			want = "error"
		}
		if !sameValue(c[0], got[i], want) {
			t.Errorf("%s %q: Python says %s, Go says %s", c[0], c[1], got[i], want)
		}
	}
}

// goParse is what the host's checks (sdk/option) accept, as a string.
func goParse(kind, v string) (string, bool) {
	switch kind {
	case "INT":
		n, err := strconv.Atoi(v)
		return strconv.Itoa(n), err == nil
	case "FLOAT":
		f, err := strconv.ParseFloat(v, 64)
		return strconv.FormatFloat(f, 'g', -1, 64), err == nil
	case "BOOL":
		b, err := strconv.ParseBool(v)
		return strconv.FormatBool(b), err == nil
	default:
		d, err := time.ParseDuration(v)
		return strconv.FormatInt(int64(d), 10), err == nil
	}
}

func sameValue(kind, python, golang string) bool {
	if python == "error" || golang == "error" || kind != "FLOAT" {
		return python == golang
	}
	p, err1 := strconv.ParseFloat(python, 64)
	g, err2 := strconv.ParseFloat(golang, 64)
	if err1 != nil || err2 != nil {
		// Python writes inf and nan; Go reads those too.
		return strings.EqualFold(python, golang)
	}
	return p == g || math.IsNaN(p) && math.IsNaN(g)
}

func TestDescribeThroughTheRealHost(t *testing.T) {
	res := run(t, t.TempDir(), "describe", "--plugin", dir)
	if res.code != 0 {
		t.Fatalf("describe exited %d: %s", res.code, res.stderr)
	}
	for _, want := range []string{
		"jobqueue 1.0.0", "PROCESS_KILL", "PROCESS_PAUSE", "POISON_JOBS", "count  int  default 5",
		"A job queue at work", "A worker dies mid-job", "The broker freezes", "Poison jobs", "Drain the dead letters",
		"holds while the fault is active: no violation dead_letter",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("describe lacks %q:\n%s", want, res.stdout)
		}
	}
}

// optionNames reads the option names out of `demohost describe`.
func optionNames(t *testing.T, plugin string) string {
	t.Helper()
	res := run(t, t.TempDir(), "describe", "--plugin", plugin)
	_, opts, ok := strings.Cut(res.stdout, "Options (--set key=value):\n")
	if res.code != 0 || !ok {
		t.Fatalf("describe %s: %d %s%s", plugin, res.code, res.stdout, res.stderr)
	}
	var names []string
	for _, line := range strings.Split(opts, "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		names = append(names, strings.Fields(line)[0])
	}
	return strings.Join(names, ", ")
}

// The host, not the plugin, refuses a --set typo: the same line whatever
// language the plugin is in. A value out of range is the plugin's to
// refuse, in a line written the same way.
func TestSetTyposAreRefusedByTheHostAsForAGoPlugin(t *testing.T) {
	for _, p := range []string{plugin, example} {
		res := run(t, t.TempDir(), "describe", "--plugin", p, "--set", "nodez=1")
		want := "demohost: unknown option \"nodez\": known options are " + optionNames(t, p) + " (see `demohost describe`)\n"
		if res.code != 2 || res.stdout != "" || res.stderr != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 and %q", filepath.Base(p), res.code, res.stdout, res.stderr, want)
		}
	}
	for args, want := range map[string]string{
		"workers=three": "demohost: option workers=\"three\": want a whole number, e.g. 3\n",
		"workers=12":    "demohost: option workers=\"12\": want 1 to 8\n",
		"work=-5ms":     "demohost: option work=\"-5ms\": want 1ms to 5s\n",
	} {
		res := run(t, t.TempDir(), "describe", "--plugin", plugin, "--set", args)
		if res.code != 2 || res.stderr != want {
			t.Errorf("--set %s: exit %d, stderr %q; want exit 2 and %q", args, res.code, res.stderr, want)
		}
	}
}

func TestAHeadlessRunPassesEveryChapterAndLeavesNothing(t *testing.T) {
	home := t.TempDir()
	report := filepath.Join(t.TempDir(), "r.json")
	res := run(t, home, "--plugin", dir, "--headless", "--report", report)
	if res.code != 0 || !strings.Contains(res.stdout, "result: PASSED: 5/5 chapters passed; faults injected: 3, reverted: 3") {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Chapters []struct{ Title, Status string }
		Chaos    []struct {
			Type, Target, Detail string
			RevertedAt           *time.Time `json:"reverted_at"`
		}
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	for _, c := range j.Chapters {
		if c.Status != "passed" {
			t.Errorf("chapter %q %s", c.Title, c.Status)
		}
	}
	kinds := []string{}
	for _, c := range j.Chaos {
		kinds = append(kinds, c.Type)
		if c.RevertedAt == nil {
			t.Errorf("%s on %s was not reverted", c.Type, c.Target)
		}
	}
	if got := strings.Join(kinds, " "); got != "PROCESS_KILL PROCESS_PAUSE POISON_JOBS" {
		t.Errorf("faults in the journal: %s", got)
	}
	for _, line := range []string{"started worker-", "resumed broker (pid ", "removed 5 poison jobs (5 from the dead-letter queue)"} {
		if !strings.Contains(res.stdout, line) {
			t.Errorf("no revert line %q in:\n%s", line, res.stdout)
		}
	}
	if left := processesOf(home); len(left) > 0 || len(stateFiles(home)) > 0 {
		t.Errorf("left behind: processes %v, state files %v", left, stateFiles(home))
	}
}

// Anything but Describe before Configure is refused; a health stream
// before Setup carries the outage in its snapshots and goes on.
func TestCallOrderAndAHealthStreamWithNothingToObserve(t *testing.T) {
	p, _ := launch(t, t.TempDir())
	ctx := context.Background()
	_, err := p.Subject.Chapters(ctx)
	if !errors.Is(err, subject.ErrRefused) || err.Error() != "Chapters before Configure: the host must call Configure first (docs/PROTOCOL.md, call order)" {
		t.Errorf("Chapters before Configure: %v; want it refused", err)
	}
	if err := p.Subject.Configure(ctx, map[string]string{"workers": "3"}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	var snaps []subject.Health
	err = p.Subject.WatchHealth(wctx, 20*time.Millisecond, func(h subject.Health) {
		snaps = append(snaps, h)
		if len(snaps) == 5 {
			cancel()
		}
	})
	if err != nil {
		t.Fatalf("the health stream failed: %v", err)
	}
	for _, h := range snaps {
		if h.Error != "the cluster is not set up" {
			t.Errorf("snapshot before Setup: error %q", h.Error)
		}
	}
}

// Past the host's own check (as a host without it would call), the plugin
// refuses a bad option in the host's very words.
func TestThePluginRefusesBadOptionsInTheHostsWords(t *testing.T) {
	p, _ := launch(t, t.TempDir())
	ctx := context.Background()
	d, err := p.Subject.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []map[string]string{{"workers": "three"}, {"work": "2"}, {"rate": "fast"}, {"nodez": "1"}} {
		_, hostErr := subject.CheckOptions(d, set)
		err := p.Subject.Configure(ctx, set)
		if hostErr == nil || !errors.Is(err, subject.ErrRefused) || err.Error() != hostErr.Error() {
			t.Errorf("Configure(%v) = %v; want it refused as the host says it: %v", set, err, hostErr)
		}
	}
}

// setUp launches the plugin, configures it and sets its cluster up.
func setUp(t *testing.T, home string) (*pluginhost.Plugin, *testkit.Buffer) {
	t.Helper()
	p, log := launch(t, home)
	ctx := context.Background()
	if err := p.Subject.Configure(ctx, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Subject.Setup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(nodesOf(p.PID())); n != 5 {
		t.Fatalf("%d nodes running after Setup; want 5", n)
	}
	return p, log
}

func TestSIGTERMOrSIGHUPWithAFaultActiveRevertsItAndTearsDown(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			home := t.TempDir()
			p, log := setUp(t, home)
			inj, err := p.Subject.InjectChaos(context.Background(), subject.Fault{Kind: "PROCESS_PAUSE", Target: "broker"})
			if err != nil {
				t.Fatal(err)
			}
			broker := nodesOf(p.PID())["broker"]
			if testkit.ProcState(broker) != "T" || !strings.Contains(inj.Detail, fmt.Sprintf("froze broker (pid %d, SIGSTOP)", broker)) {
				t.Fatalf("broker %d state %q after %q; want it stopped", broker, testkit.ProcState(broker), inj.Detail)
			}
			pid := p.PID()
			if err := syscall.Kill(pid, sig); err != nil {
				t.Fatal(err)
			}
			testkit.WaitFor(t, 30*time.Second, "the plugin to exit", func() bool { return p.Exited() })
			want := fmt.Sprintf(`chaos reverted on exit: detail="resumed broker (pid %d, SIGCONT)"`, broker)
			if !strings.Contains(log.String(), want) {
				t.Errorf("the log does not say %s:\n%s", want, log.String())
			}
			if left := nodesOf(pid); len(left) > 0 || len(stateFiles(home)) > 0 {
				t.Errorf("left behind: nodes %v, state files %v", left, stateFiles(home))
			}
		})
	}
}

// A node's death reaches the health stream at once, not at the next
// interval.
func TestHealthIsPushedOnChange(t *testing.T) {
	p, _ := setUp(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var last subject.Health
	snapshots := 0
	go func() {
		_ = p.Subject.WatchHealth(ctx, time.Minute, func(h subject.Health) {
			mu.Lock()
			defer mu.Unlock()
			last = h
			snapshots++
		})
	}()
	testkit.WaitFor(t, 10*time.Second, "the first snapshot", func() bool { mu.Lock(); defer mu.Unlock(); return snapshots > 0 })
	if _, err := p.Subject.InjectChaos(ctx, subject.Fault{Kind: "PROCESS_KILL", Target: "worker-2"}); err != nil {
		t.Fatal(err)
	}
	// The interval is a minute: only a push brings worker-2 DOWN this soon.
	testkit.WaitFor(t, 10*time.Second, "a snapshot with worker-2 DOWN", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range last.Nodes {
			if n.ID == "worker-2" {
				return n.State == subject.Down
			}
		}
		return false
	})
}

// The host SIGKILLed mid-fault: the plugin sees its parent change, reverts,
// tears down (its state file goes, which the nodes' parent-death signal
// alone would leave) and exits.
func TestHostDeathRevertsAndTearsDown(t *testing.T) {
	home := t.TempDir()
	cmd := exec.Command(demohost, "--plugin", dir, "--headless")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+home)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	frozen := regexp.MustCompile(`froze broker \(pid (\d+), SIGSTOP\)`)
	lines := bufio.NewScanner(stdout)
	broker := 0
	for lines.Scan() {
		if m := frozen.FindStringSubmatch(lines.Text()); m != nil {
			broker, _ = strconv.Atoi(m[1])
			break
		}
	}
	if broker == 0 || testkit.ProcState(broker) != "T" {
		t.Fatalf("the broker was not frozen (pid %d, state %q)", broker, testkit.ProcState(broker))
	}
	go io.Copy(io.Discard, stdout)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	testkit.WaitFor(t, 10*time.Second, "the plugin and its nodes to be gone", func() bool { return len(processesOf(home)) == 0 })
	if files := stateFiles(home); len(files) > 0 {
		t.Errorf("the plugin did not tear down: state files %v are left", files)
	}
}

// writeState writes a state file as the plugin does, for a plugin process
// owner (pid, start) that started node.
func writeState(t *testing.T, home string, owner [2]uint64, run string, node [2]uint64) string {
	t.Helper()
	state := map[string]any{
		"plugin": map[string]any{"pid": owner[0], "start": owner[1], "run": ""},
		"run":    run, "dir": "",
		"nodes": map[string]any{"worker-1": map[string]any{"pid": node[0], "start": node[1], "run": run}},
	}
	b, _ := json.Marshal(state)
	path := filepath.Join(home, "demohost", "jobqueue", fmt.Sprintf("%d-%d.json", owner[0], owner[1]))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sleeper starts a process with run on its command line, as a node has.
func sleeper(t *testing.T, run string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "-c", "import time; time.sleep(300)", run)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// The plugin SIGKILLed: its nodes die with it. A fresh process's Teardown,
// without Setup, removes what the dead one left, and nothing of a plugin
// process that still lives.
func TestNodesDieWithThePluginAndTeardownWithoutSetupCleansOnlyAfterTheDead(t *testing.T) {
	home := t.TempDir()
	p, _ := setUp(t, home)
	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the dead plugin's nodes to be gone", func() bool { return len(nodesOf(pid)) == 0 })
	if len(stateFiles(home)) != 1 {
		t.Fatalf("state files after the plugin was SIGKILLed: %v; want its own", stateFiles(home))
	}

	// A plugin process that died earlier and left a node running, and one
	// that lives (this test) with its node.
	gone := exec.Command("sleep", "30")
	if err := gone.Start(); err != nil {
		t.Fatal(err)
	}
	goneOwner := [2]uint64{uint64(gone.Process.Pid), startTime(t, gone.Process.Pid)}
	_ = gone.Process.Kill()
	_ = gone.Wait()
	orphan := sleeper(t, "orphan-run")
	writeState(t, home, goneOwner, "orphan-run", [2]uint64{uint64(orphan.Process.Pid), startTime(t, orphan.Process.Pid)})
	kept := sleeper(t, "live-run")
	liveState := writeState(t, home, [2]uint64{uint64(os.Getpid()), startTime(t, os.Getpid())}, "live-run",
		[2]uint64{uint64(kept.Process.Pid), startTime(t, kept.Process.Pid)})

	fresh, _ := launch(t, home)
	ctx := context.Background()
	if err := fresh.Subject.Configure(ctx, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	var lines []string
	if err := fresh.Subject.Teardown(ctx, func(l subject.Line) { lines = append(lines, l.Message) }); err != nil {
		t.Fatal(err)
	}
	if want := "removed what 2 dead plugin processes left"; !strings.Contains(strings.Join(lines, "\n"), want) {
		t.Errorf("Teardown said %q; want %q", lines, want)
	}
	testkit.WaitFor(t, 5*time.Second, "the orphaned node to be killed", func() bool {
		return testkit.ProcState(orphan.Process.Pid) == "Z" || testkit.ProcState(orphan.Process.Pid) == ""
	})
	if s := testkit.ProcState(kept.Process.Pid); s == "" || s == "Z" {
		t.Errorf("Teardown killed the node of a live plugin process")
	}
	if files := stateFiles(home); len(files) != 1 || files[0] != liveState {
		t.Errorf("state files after Teardown: %v; want only %s", files, liveState)
	}
}
