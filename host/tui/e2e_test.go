package tui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/internal/testkit"
)

// tmuxTerm is a real terminal: a tmux server of its own (its own socket),
// one pane running an interactive shell.
type tmuxTerm struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, w, h int) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if testing.Short() {
			t.Skip("-short: tmux is not installed")
		}
		t.Fatal("tmux is not installed: the end-to-end terminal test needs it; run `make prereqs` (or apt-get install tmux), or go test -short to skip it")
	}
	tm := &tmuxTerm{t: t, socket: fmt.Sprintf("demohost-%s-%d", t.Name(), os.Getpid())}
	tm.run("-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "env -i PATH=/usr/bin:/bin HOME=/tmp TERM=screen-256color bash --norc --noprofile")
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	return tm
}

func (tm *tmuxTerm) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (tm *tmuxTerm) keys(keys ...string) {
	tm.run(append([]string{"send-keys", "-t", "e2e"}, keys...)...)
}

func (tm *tmuxTerm) screen() string { return tm.run("capture-pane", "-p", "-t", "e2e") }

// waitScreen waits until the pane shows want, failing with the pane.
func (tm *tmuxTerm) waitScreen(d time.Duration, want string) {
	tm.t.Helper()
	if !tm.shows(d, func(screen string) bool { return strings.Contains(screen, want) }) {
		tm.t.Fatalf("after %v the terminal does not show %q:\n%s", d, want, tm.screen())
	}
}

// waitMatch waits until the pane matches re.
func (tm *tmuxTerm) waitMatch(d time.Duration, re *regexp.Regexp) {
	tm.t.Helper()
	if !tm.shows(d, re.MatchString) {
		tm.t.Fatalf("after %v the terminal does not match %s:\n%s", d, re, tm.screen())
	}
}

// shows polls the pane until ok holds of it, for at most d.
func (tm *tmuxTerm) shows(d time.Duration, ok func(screen string) bool) bool {
	tm.t.Helper()
	deadline := time.Now().Add(d)
	for !ok(tm.screen()) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // a poll, as testkit.WaitFor does
	}
	return true
}

var (
	buildOnce           sync.Once
	builtDir            string
	builtHost, builtPlg string
	buildErr            error
)

// TestMain removes what buildDemo built.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// buildDemo builds demohost and the example plugin once per test binary.
func buildDemo(t *testing.T) (host, plugin string) {
	t.Helper()
	buildOnce.Do(func() {
		if builtDir, buildErr = os.MkdirTemp("", "tui-e2e-"); buildErr != nil {
			return
		}
		builtHost, builtPlg = filepath.Join(builtDir, "demohost"), filepath.Join(builtDir, "demohost-example")
		for bin, pkg := range map[string]string{builtHost: testkit.DemohostCommand, builtPlg: testkit.ExamplePlugin} {
			if buildErr = testkit.GoBuild(bin, pkg); buildErr != nil {
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtHost, builtPlg
}

// running lists the processes that run the executable at path.
func running(path string) []string {
	var pids []string
	for _, pid := range testkit.ProcessesOf(path) {
		pids = append(pids, strconv.Itoa(pid))
	}
	return pids
}

// exampleChapters asks the example plugin for its titles and the index of
// the chapter that injects a fault.
func exampleChapters(t *testing.T, plugin string) (titles []string, chaos int) {
	t.Helper()
	p, err := pluginhost.Launch(pluginhost.Config{Path: plugin})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if err := p.Subject.Configure(ctx, nil); err != nil {
		t.Fatal(err)
	}
	chapters, err := p.Subject.Chapters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chaos = -1
	for i, c := range chapters {
		titles = append(titles, c.Title)
		if c.Fault != nil && chaos < 0 {
			chaos = i
		}
	}
	if chaos < 0 {
		t.Fatal("the example has no chaos chapter")
	}
	return titles, chaos
}

// advanceTo presses Space until the screen shows progress, the way a
// presenter does: a blocking chapter refuses until its countdown or action
// is done.
func advanceTo(t *testing.T, tm *tmuxTerm, progress string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(tm.screen(), progress) {
		if time.Now().After(deadline) {
			t.Fatalf("never reached %q:\n%s", progress, tm.screen())
		}
		tm.keys("Space")
		// One press at a time: the next only once this one has shown its
		// effect or been refused for a while.
		tm.shows(300*time.Millisecond, func(screen string) bool { return strings.Contains(screen, progress) })
	}
}

// startDemo types the demohost command (with extra flags) into the shell
// and waits for the UI.
func startDemo(t *testing.T, tm *tmuxTerm, host, plugin, report string, extra ...string) {
	t.Helper()
	tm.keys(fmt.Sprintf("%s --plugin %s --set countdown=1s --set detect_after=100ms --report %s --log-file %s %s; echo EXIT=$?",
		host, plugin, report, filepath.Join(filepath.Dir(report), "demohost.log"), strings.Join(extra, " ")), "Enter")
	tm.waitScreen(30*time.Second, "[1/")
}

// finish checks the process is gone, the shell is back and usable, and
// returns the report.
func finish(t *testing.T, tm *tmuxTerm, host, report string) *journal.Journal {
	t.Helper()
	tm.waitMatch(60*time.Second, regexp.MustCompile(`EXIT=\d`)) // the command line shows EXIT=$?
	if pids := running(host); len(pids) > 0 {
		out, _ := exec.Command("ps", "-o", "pid,ppid,stat,etime,args", "-p", strings.Join(pids, ",")).CombinedOutput()
		t.Errorf("demohost still running after quit:\n%s", out)
	}
	// The shell runs commands again, and the terminal is back in canonical
	// (cooked) mode: stty lists "icanon", not "-icanon".
	tm.keys("echo canonical-$(stty -a | tr ' ' '\\n' | grep -cx icanon)", "Enter")
	tm.waitScreen(10*time.Second, "canonical-1")
	j, err := journal.Read(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range j.Chaos {
		if c.RevertedAt == nil {
			t.Errorf("chaos %s on %s left injected", c.Type, c.Target)
		}
	}
	return j
}

func TestE2EWalkEveryChapterInTmux(t *testing.T) {
	tm := newTmux(t, 120, 40)
	host, plugin := buildDemo(t)
	report := filepath.Join(t.TempDir(), "report.json")
	startDemo(t, tm, host, plugin, report)
	titles, chaos := exampleChapters(t, plugin)
	for i, title := range titles {
		progress := fmt.Sprintf("[%d/%d] %s", i+1, len(titles), title)
		advanceTo(t, tm, progress)
		tm.waitScreen(10*time.Second, "● node-")
		if i == chaos {
			tm.waitScreen(30*time.Second, "✗ node-")
			tm.waitScreen(10*time.Second, "⚡ kill one node (NODE_KILL, count=1)")
			// Resize mid-demo: smaller, too small, back.
			tm.run("resize-window", "-t", "e2e", "-x", "90", "-y", "26")
			tm.waitScreen(10*time.Second, "✗ node-")
			tm.run("resize-window", "-t", "e2e", "-x", "60", "-y", "20")
			tm.waitScreen(10*time.Second, "terminal too small (need 80x24)")
			tm.run("resize-window", "-t", "e2e", "-x", "120", "-y", "40")
			tm.waitScreen(10*time.Second, progress)
		}
	}
	tm.keys("q")
	j := finish(t, tm, host, report)
	if len(j.Chaos) != 1 || len(j.Chapters) != len(titles) {
		t.Errorf("report: %d chaos entries, %d chapters; want 1 and %d", len(j.Chaos), len(j.Chapters), len(titles))
	}
}

func TestE2EQuitDuringChaosRevertsIt(t *testing.T) {
	tm := newTmux(t, 120, 40)
	host, plugin := buildDemo(t)
	report := filepath.Join(t.TempDir(), "report.json")
	marker := filepath.Join(t.TempDir(), "watch-pid")
	startDemo(t, tm, host, plugin, report, fmt.Sprintf(`--watch 'agent=echo $$ > %s; echo agent-watching; exec sleep 600'`, marker))
	tm.waitScreen(10*time.Second, "agent-watching") // the --watch panel shows the command's output
	titles, chaos := exampleChapters(t, plugin)
	advanceTo(t, tm, fmt.Sprintf("[%d/%d] %s", chaos+1, len(titles), titles[chaos]))
	tm.waitScreen(30*time.Second, "⚡ kill one node (NODE_KILL, count=1)")
	tm.keys("q")
	j := finish(t, tm, host, report)
	pid, err := os.ReadFile(marker)
	if err != nil {
		t.Fatalf("the --watch command never ran: %v", err)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(string(pid))); !testkit.ProcessEnded(n) {
		t.Errorf("the --watch command (pid %d) outlived demohost", n)
	}
	if len(j.Chaos) != 1 || j.Chaos[0].RevertedAt == nil || j.Chaos[0].RevertedBy != "exit" {
		t.Errorf("report chaos = %+v; want one fault reverted on exit", j.Chaos)
	}
}

// A plugin SIGKILLed mid-chaos shows as an error in the UI, which stays up;
// r relaunches it (its Setup reconciles) and the demo carries on to a clean
// quit.
func TestE2EPluginCrashThenRestartWithR(t *testing.T) {
	tm := newTmux(t, 120, 40)
	host, plugin := buildDemo(t)
	report := filepath.Join(t.TempDir(), "report.json")
	startDemo(t, tm, host, plugin, report)
	titles, chaos := exampleChapters(t, plugin)
	advanceTo(t, tm, fmt.Sprintf("[%d/%d] %s", chaos+1, len(titles), titles[chaos]))
	tm.waitScreen(30*time.Second, "⚡ kill one node (NODE_KILL, count=1)")
	pids := running(plugin)
	if len(pids) != 1 {
		t.Fatalf("want one plugin process, found %v", pids)
	}
	if out, err := exec.Command("kill", "-9", pids[0]).CombinedOutput(); err != nil {
		t.Fatalf("kill plugin: %v %s", err, out)
	}
	tm.waitScreen(30*time.Second, "press r to restart the plugin")
	tm.keys("r")
	tm.waitScreen(30*time.Second, "plugin restarted")
	tm.waitScreen(30*time.Second, "● node-")
	if strings.Contains(tm.screen(), "plugin error") {
		t.Fatalf("the error banner stayed after the restart:\n%s", tm.screen())
	}
	// The fault the dead process left is reverted through the fresh one:
	// the events say so, and the badge goes with it.
	tm.waitScreen(30*time.Second, "revert      reverted kill one node")
	if !tm.shows(10*time.Second, func(screen string) bool { return !strings.Contains(screen, "⚡") }) {
		t.Errorf("the fault badge stayed after the fault was reverted:\n%s", tm.screen())
	}
	advanceTo(t, tm, fmt.Sprintf("[%d/%d] %s", len(titles), len(titles), titles[len(titles)-1]))
	tm.keys("q")
	finish(t, tm, host, report)
	if now := running(plugin); len(now) != 0 {
		t.Errorf("plugin processes left after quit: %v", now)
	}
}
