package conform_test

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/host/conform"
	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/sdk/process"
)

// Built once by TestMain: the demohost CLI (conform runs as it does for a
// user) and the duties test plugin.
var demohostBin, dutiesPlugin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "conform-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	demohostBin, dutiesPlugin = filepath.Join(dir, "demohost"), filepath.Join(dir, "duties")
	code := 1
	if err := testkit.GoBuild(demohostBin, testkit.DemohostCommand); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else if err := testkit.GoBuild(dutiesPlugin, "internal/testplugins/duties"); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// run is one `demohost conform` process and what it said.
type run struct {
	code     int
	stdout   string
	stderr   string
	statuses map[string]conform.Status // check -> status, from the lines
	state    string                    // its $XDG_STATE_HOME
}

var lineRE = regexp.MustCompile(`^(pass|fail|warn|skip)  (.+?): `)

// demohost runs the CLI with args, its state in a fresh directory, extra
// environment env, and waits for it (bounded).
func demohost(t *testing.T, env []string, args ...string) run {
	t.Helper()
	r := run{state: t.TempDir(), statuses: map[string]conform.Status{}}
	cmd := exec.Command(demohostBin, args...)
	cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+r.state), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Minute):
		_ = cmd.Process.Signal(syscall.SIGINT) // conform reverts what it injected
		err = <-done
		t.Errorf("demohost %s did not finish within 10 minutes:\n%s", strings.Join(args, " "), stdout.String())
	}
	r.stdout, r.stderr = stdout.String(), stderr.String()
	r.code = cmd.ProcessState.ExitCode()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if m := lineRE.FindStringSubmatch(line); m != nil {
			r.statuses[m[2]] = conform.Status(m[1])
		}
	}
	return r
}

// with returns the checks of r whose status is st.
func (r run) with(st conform.Status) []string {
	var out []string
	for c, s := range r.statuses {
		if s == st {
			out = append(out, c)
		}
	}
	return out
}

// noChaosLogLeft fails the test if conform left a chaos log behind (a fault
// it did not revert, or a log of the host it killed).
func (r run) noChaosLogLeft(t *testing.T) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(r.state, "demohost", "chaos", "*.jsonl"))
	if len(logs) > 0 {
		b, _ := os.ReadFile(logs[0])
		t.Errorf("conform left %d chaos logs, e.g. %s:\n%s", len(logs), logs[0], b)
	}
}

// cluster starts n real processes for the duties plugin to attach to and
// returns the nodes file naming them. They are killed when the test ends.
func cluster(t *testing.T, n int) (file string, nodes []process.Identity) {
	t.Helper()
	var lines []string
	for i := 1; i <= n; i++ {
		cmd := exec.Command("sleep", "3600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		id, err := process.IdentityOf(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = id.Signal(syscall.SIGCONT)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		nodes = append(nodes, id)
		lines = append(lines, fmt.Sprintf("node-%d %s", i, id))
	}
	file = filepath.Join(t.TempDir(), "nodes")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, nodes
}

// A plugin that keeps every duty passes every check, and conform leaves
// its cluster as it found it: no node stopped, no chaos log.
func TestDutifulPluginPasses(t *testing.T) {
	file, nodes := cluster(t, 2)
	junit := filepath.Join(t.TempDir(), "conform.xml")
	r := demohost(t, nil, "conform", "--plugin", dutiesPlugin, "--set", "nodes_file="+file, "--junit", junit)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0; stderr %q\n%s", r.code, r.stderr, r.stdout)
	}
	want := []string{conform.CheckHandshake, conform.CheckDescribe, conform.CheckCallOrder, conform.CheckUnknownOption,
		conform.CheckBadValue, conform.CheckConfigure, conform.CheckChapters, conform.CheckSetup,
		conform.CheckFault("PROCESS_PAUSE"), conform.CheckFreshRevert("PROCESS_PAUSE"), conform.CheckHealthStream,
		conform.CheckFreshTeardown, conform.CheckSIGTERM, conform.CheckHostKilled, conform.CheckTeardown}
	for _, c := range want {
		if r.statuses[c] != conform.Pass {
			t.Errorf("check %q: %q, want pass", c, r.statuses[c])
		}
	}
	if len(r.statuses) != len(want) {
		t.Errorf("%d checks ran, want %d:\n%s", len(r.statuses), len(want), r.stdout)
	}
	if !strings.Contains(r.stdout, "conform: duties 1: 15 passed, 0 failed") {
		t.Errorf("no summary line:\n%s", r.stdout)
	}
	for _, id := range nodes {
		if id.Stopped() || !id.Alive() {
			t.Errorf("node %s is not running after conform", id)
		}
	}
	r.noChaosLogLeft(t)

	var doc struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("--junit is not XML: %v\n%s", err, b)
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Tests != len(want) || doc.Suites[0].Failures != 0 || doc.Suites[0].Name != "demohost.conform.duties" {
		t.Errorf("junit suites %+v, want one demohost.conform.duties with %d tests, no failure", doc.Suites, len(want))
	} else if doc.Suites[0].Cases[len(want)-1].Name != conform.CheckTeardown {
		t.Errorf("last junit testcase %q, want %q", doc.Suites[0].Cases[len(want)-1].Name, conform.CheckTeardown)
	}
}

// A plugin that breaks one duty fails the check for that duty, naming it,
// and only that check: conform exits 1.
func TestBrokenDutyFailsItsCheck(t *testing.T) {
	for _, tc := range []struct {
		breaks string
		fails  []string
		says   string
	}{
		// Its host SIGKILLed, a plugin gets SIGTERM: both exit paths break.
		{"sigterm", []string{conform.CheckSIGTERM, conform.CheckHostKilled}, "the fault was not reverted"},
		{"handle", []string{conform.CheckFreshRevert("PROCESS_PAUSE")}, "its handle did not undo it"},
		{"health", []string{conform.CheckHealthStream}, "the health stream ended"},
		{"options", []string{conform.CheckUnknownOption}, "Configure accepted an unknown option"},
	} {
		t.Run(tc.breaks, func(t *testing.T) {
			file, nodes := cluster(t, 2)
			r := demohost(t, []string{"DUTIES_BREAK=" + tc.breaks}, "conform", "--plugin", dutiesPlugin, "--plugin-env", "DUTIES_BREAK", "--set", "nodes_file="+file, "--recover-within", "5s")
			if r.code != 1 {
				t.Errorf("exit %d, want 1; stderr %q", r.code, r.stderr)
			}
			failed, want := r.with(conform.Fail), slices.Clone(tc.fails)
			slices.Sort(failed)
			slices.Sort(want)
			if !slices.Equal(failed, want) {
				t.Errorf("failed checks %q, want %q:\n%s", failed, tc.fails, r.stdout)
			}
			if !strings.Contains(r.stdout, tc.says) {
				t.Errorf("output does not say %q:\n%s", tc.says, r.stdout)
			}
			r.noChaosLogLeft(t)
			if tc.breaks == "handle" {
				return // a fault its handle cannot undo stays: conform says so
			}
			for _, id := range nodes {
				if id.Stopped() {
					t.Errorf("node %s is left stopped: conform must revert what it injected, even when the plugin does not", id)
				}
			}
		})
	}
}

// Bad input exits 2 with one line that says what to do, before any check.
func TestBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		says string
	}{
		"no plugin":      {[]string{"conform"}, "conform needs a plugin: demohost conform --plugin PATH"},
		"unknown option": {[]string{"conform", "--plugin", dutiesPlugin, "--set", "nodes=3"}, `unknown option "nodes"`},
		"bad duration":   {[]string{"conform", "--plugin", dutiesPlugin, "--recover-within", "-1s"}, "--recover-within -1s: want a positive duration"},
		"junit dir":      {[]string{"conform", "--plugin", dutiesPlugin, "--junit", "/no/such/dir/c.xml"}, "directory /no/such/dir does not exist"},
	} {
		t.Run(name, func(t *testing.T) {
			r := demohost(t, nil, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.says) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line saying %q", r.code, r.stderr, tc.says)
			}
			// The schema comes from Describe: a --set is checked after it.
			for c := range r.statuses {
				if c != conform.CheckHandshake && c != conform.CheckDescribe {
					t.Errorf("check %q ran on bad input:\n%s", c, r.stdout)
				}
			}
		})
	}
}

// Interrupted while a fault is active, conform reverts it before it exits
// (1: the run was cut short) and leaves no chaos log.
func TestInterruptedConformReverts(t *testing.T) {
	file, nodes := cluster(t, 2)
	state := t.TempDir()
	cmd := exec.Command(demohostBin, "conform", "--plugin", dutiesPlugin, "--plugin-env", "DUTIES_BREAK", "--set", "nodes_file="+file)
	// blind: health never shows the pause, so conform waits with it active.
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state, "DUTIES_BREAK=blind")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	paused := func() bool { return nodes[0].Stopped() || nodes[1].Stopped() }
	testkit.WaitFor(t, time.Minute, "conform to pause a node", paused)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("conform did not exit within a minute of SIGINT:\n%s", stdout.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d after SIGINT, want 1", code)
	}
	if paused() {
		t.Errorf("a node is still paused after conform exited:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "skip  "+conform.CheckFault("PROCESS_PAUSE")+": conform was interrupted") {
		t.Errorf("the interrupted check does not say so:\n%s", stdout.String())
	}
	run{state: state}.noChaosLogLeft(t)
}
