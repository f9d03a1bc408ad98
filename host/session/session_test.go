package session_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/host/headless"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/session"
	"github.com/demohost/demohost/internal/testkit"
)

// Open, Run, Shutdown: the whole example passes, its one fault reverted
// with evidence, the chaos log gone, the plugin process gone, the log
// closed. Shutdown then Close is safe.
func TestRunPassesAndLeavesNothingBehind(t *testing.T) {
	s, logFile := open(t, examplePlg, fast)
	if s.Description.Name != "example" || s.Options["nodes"] != "3" || len(s.Chapters) != 5 {
		t.Fatalf("opened %q with options %v and %d chapters; want the example, defaults filled, 5 chapters", s.Description.Name, s.Options, len(s.Chapters))
	}
	if f := s.Chapters[2].Fault; f == nil || f.Params["count"] != "1" {
		t.Fatalf("kill chapter's fault = %+v; want its parameters filled in", f)
	}
	pid := onlyPID(t, examplePlg)
	chaosDir := t.TempDir()
	var progress, stderr testkit.Buffer
	out := s.Run(context.Background(), session.RunOptions{View: headless.View(&progress), Headless: true, ChaosDir: chaosDir, Stderr: &stderr, Runner: tuned})
	if out.Err != nil || out.Interrupted != "" || out.Unreverted != 0 || out.PluginDied {
		t.Fatalf("outcome = %+v; want a clean run", out)
	}
	j := out.Journal
	if j.Result != journal.Passed || len(j.Chaos) != 1 {
		t.Fatalf("result %q with %d faults; want passed with one\n%s", j.Result, len(j.Chaos), progress.String())
	}
	if c := j.Chaos[0]; c.RevertedBy != "chapter" || c.RevertDetail != "started node-2 again" || c.Evidence == nil {
		t.Errorf("fault = %+v; want reverted by its chapter with the plugin's line and evidence", c)
	}
	if !strings.Contains(progress.String(), "chapter 5/5 passed  Done") {
		t.Errorf("the view did not show the run:\n%s", progress.String())
	}
	if left := files(t, chaosDir); len(left) != 0 {
		t.Errorf("chaos log kept after a clean run: %v", left)
	}
	s.Shutdown(&stderr)
	s.Close()
	if alive(pid) {
		t.Error("the plugin outlived Shutdown")
	}
	if stderr.String() != "" {
		t.Errorf("a clean run said %q on stderr", stderr.String())
	}
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(string(b), "demohost exiting") {
		t.Errorf("the log was not closed:\n%s", b)
	}
}

// The crash path, with a fault active: the plugin is SIGKILLed mid-fault;
// the run ends with the plugin's death, a fresh process is started and
// configured, reverts the fault (reason crash) and tears down what the dead
// one left, without ever setting up; the chaos log is gone.
func TestCrashWithAFaultActiveRevertsThroughAFreshProcess(t *testing.T) {
	callsFile := script(t, freeze(true))
	s, _ := open(t, scriptedPlg, nil)
	dead := onlyPID(t, scriptedPlg)
	active, onSnapshot := faultActive()
	chaosDir := t.TempDir()
	var stderr testkit.Buffer
	wait := runAsync(t, s, session.RunOptions{View: watching(io.Discard, onSnapshot), Headless: true, ChaosDir: chaosDir, Stderr: &stderr, Runner: tuned})
	waitClosed(t, active, "the fault")
	if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	out := wait()

	if out.Err == nil || !out.PluginDied || out.Unreverted != 0 {
		t.Fatalf("outcome = %+v; want the plugin's death, nothing left unreverted", out)
	}
	if !strings.Contains(stderr.String(), "the plugin died with 1 fault active; reverting through a fresh plugin process") {
		t.Errorf("stderr = %q", stderr.String())
	}
	j := out.Journal
	if j.Result != runner.ResultAborted || len(j.Chaos) != 1 {
		t.Fatalf("journal: result %q, chaos %+v", j.Result, j.Chaos)
	}
	if c := j.Chaos[0]; c.RevertedBy != "crash" || c.RevertedAt == nil || c.RevertDetail != "undid FREEZE on node-1" {
		t.Errorf("fault = %+v; want reverted by crash with the fresh process's line", c)
	}
	if !hasEvent(j, journal.KindRevert, "through a fresh plugin process after the plugin died") ||
		!hasEvent(j, journal.KindTeardown, "torn down through a fresh plugin process") {
		t.Errorf("the crash path is not in the events: %+v", j.Events)
	}
	calls := readCalls(t, callsFile)
	fresh := -1
	for _, c := range calls {
		if c.pid != dead {
			fresh = c.pid
		}
	}
	if got := callsBy(calls, dead); got != "configure setup inject" {
		t.Errorf("the dead process got %q; want configure setup inject", got)
	}
	if got := callsBy(calls, fresh); got != "configure revert teardown" {
		t.Errorf("the fresh process got %q; want configure, the revert, then teardown (never setup)", got)
	}
	var injected, reverted string
	for _, c := range calls {
		switch c.name {
		case "inject":
			injected = c.handle
		case "revert":
			reverted = c.handle
		}
	}
	if injected == "" || reverted != injected {
		t.Errorf("reverted handle %q; want the injected one %q", reverted, injected)
	}
	if left := files(t, chaosDir); len(left) != 0 {
		t.Errorf("chaos log kept although the fault was reverted: %v", left)
	}
	s.Shutdown(io.Discard)
	assertNoPlugin(t, scriptedPlg)
}

// The crash path with no fault active still has a fresh process tear
// down what the dead one left.
func TestCrashWithNoFaultActiveStillTearsDown(t *testing.T) {
	callsFile := script(t, freeze(false))
	s, _ := open(t, scriptedPlg, nil)
	dead := onlyPID(t, scriptedPlg)
	running := make(chan struct{})
	var once onceCloser
	var stderr testkit.Buffer
	wait := runAsync(t, s, session.RunOptions{Headless: true, ChaosDir: t.TempDir(), Stderr: &stderr, Runner: tuned,
		View: watching(io.Discard, func(s runner.Snapshot) {
			if s.Phase == runner.PhaseRunning && s.Index == 0 {
				once.close(running)
			}
		})})
	waitClosed(t, running, "the first chapter")
	if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	out := wait()
	if out.Err == nil || !out.PluginDied || len(out.Journal.Chaos) != 0 {
		t.Fatalf("outcome = %+v; want the plugin's death and no fault", out)
	}
	if strings.Contains(stderr.String(), "fault") {
		t.Errorf("stderr speaks of faults although none was active: %q", stderr.String())
	}
	calls := readCalls(t, callsFile)
	last := calls[len(calls)-1]
	if last.name != "teardown" || last.pid == dead || callsBy(calls, last.pid) != "configure teardown" {
		t.Errorf("calls = %+v; want a fresh process configured and tearing down", calls)
	}
	s.Shutdown(io.Discard)
	assertNoPlugin(t, scriptedPlg)
}

// The same crash path against the real example plugin: its fault is
// reverted by a fresh process, which has no in-memory nodes left to start
// and says so.
func TestCrashOfTheExampleMidFault(t *testing.T) {
	s, _ := open(t, examplePlg, midChaos)
	dead := onlyPID(t, examplePlg)
	active, onSnapshot := faultActive()
	wait := runAsync(t, s, session.RunOptions{View: watching(io.Discard, onSnapshot), Headless: true, ChaosDir: t.TempDir(), Runner: tuned})
	waitClosed(t, active, "the fault")
	if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	out := wait()
	if !out.PluginDied || out.Unreverted != 0 || len(out.Journal.Chaos) != 1 {
		t.Fatalf("outcome = %+v", out)
	}
	if c := out.Journal.Chaos[0]; c.RevertedBy != "crash" || !strings.HasPrefix(c.RevertDetail, "nothing to start: node-2") {
		t.Errorf("fault = %+v; want reverted by crash through a fresh example process", c)
	}
	s.Shutdown(io.Discard)
	assertNoPlugin(t, examplePlg)
}

// A signal on the channel ends the run the way q does: the fault is
// reverted, the subject torn down, the run marked interrupted.
func TestSignalEndsTheRunAndRevertsTheFault(t *testing.T) {
	s, _ := open(t, examplePlg, midChaos)
	active, onSnapshot := faultActive()
	sigs := make(chan os.Signal, 1)
	var stderr testkit.Buffer
	wait := runAsync(t, s, session.RunOptions{View: watching(io.Discard, onSnapshot), Headless: true, ChaosDir: t.TempDir(),
		Signals: sigs, Stderr: &stderr, Runner: tuned, Exit: func(int) { t.Error("exit at the first signal") }})
	waitClosed(t, active, "the fault")
	sigs <- syscall.SIGTERM
	out := wait()
	if out.Interrupted != "SIGTERM" || out.Err != nil || out.Unreverted != 0 {
		t.Fatalf("outcome = %+v; want interrupted by SIGTERM, nothing left", out)
	}
	j := out.Journal
	if j.Result != runner.ResultAborted || len(j.Chaos) != 1 || j.Chaos[0].RevertedBy != "exit" || j.Chaos[0].RevertedAt == nil {
		t.Errorf("journal: result %q, chaos %+v; want aborted with the fault reverted on exit", j.Result, j.Chaos)
	}
	if want := "demohost: SIGTERM: reverting chaos and tearing down (again to stop waiting for the plugin)"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q; want %q", stderr.String(), want)
	}
	s.Shutdown(io.Discard)
	assertNoPlugin(t, examplePlg)
}

// Signals escalate: the first reverts and tears down, the second stops
// waiting for a plugin that hangs in Teardown (Run returns, Shutdown leaves
// the plugin to finish on its own), the third exits at once.
func TestSecondSignalStopsWaitingAndTheThirdExits(t *testing.T) {
	s, logFile := open(t, slowTeardown, map[string]string{"countdown": "0s", "detect_after": "1m"})
	pid := onlyPID(t, slowTeardown)
	active, onSnapshot := faultActive()
	sigs := make(chan os.Signal, 1)
	exits := make(chan int, 3)
	var stderr testkit.Buffer
	wait := runAsync(t, s, session.RunOptions{View: watching(io.Discard, onSnapshot), Headless: true, ChaosDir: t.TempDir(),
		Signals: sigs, Stderr: &stderr, Runner: tuned, Exit: func(code int) { exits <- code }})
	waitClosed(t, active, "the fault")
	sigs <- syscall.SIGINT
	testkit.WaitFor(t, 30*time.Second, "the plugin's teardown to start", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "slow teardown started")
	})
	sigs <- syscall.SIGINT
	out := wait()
	if out.Interrupted != "SIGINT" || len(out.Journal.Chaos) != 1 || out.Journal.Chaos[0].RevertedAt == nil {
		t.Fatalf("outcome = %+v; want interrupted by SIGINT with the fault reverted before the teardown", out)
	}
	if want := "SIGINT: no longer waiting for the plugin (once more to exit at once)"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q: %q", want, stderr.String())
	}
	sigs <- syscall.SIGINT
	select {
	case code := <-exits:
		if code != 2 {
			t.Errorf("third signal exits with %d; want 2", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the third signal did not exit")
	}
	if !strings.Contains(stderr.String(), "SIGINT: exiting now; the plugin reverts its chaos as it exits") {
		t.Errorf("stderr = %q", stderr.String())
	}
	s.Shutdown(&stderr)
	if !alive(pid) {
		t.Fatal("Shutdown waited for the hung plugin after the second signal")
	}
	if want := "stopped waiting; the plugin (pid " + strconv.Itoa(pid) + ") finishes reverting and tearing down on its own"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q: %q", want, stderr.String())
	}
	testkit.WaitFor(t, 30*time.Second, "the plugin to finish and exit on its own", func() bool { return !alive(pid) })
}

// A view that panics stops the run cleanly: the runner reverts and tears
// down, the panic becomes an error and is logged, the process lives on.
func TestViewPanicStopsTheRunAndReverts(t *testing.T) {
	s, logFile := open(t, examplePlg, midChaos)
	view := func(ctx context.Context, r *runner.Runner) (*journal.Journal, error) {
		snaps, unsubscribe := r.Subscribe()
		defer unsubscribe()
		go func() { _, _ = r.Run(ctx) }()
		for s := range snaps {
			if len(s.Chaos) > 0 {
				panic("a bug in the view")
			}
		}
		return r.Result()
	}
	out := s.Run(context.Background(), session.RunOptions{View: view, Headless: true, ChaosDir: t.TempDir(), Runner: tuned})
	if out.Err == nil || out.Err.Error() != "internal error: a bug in the view; the run was stopped and its chaos reverted" {
		t.Fatalf("error = %v; want the panic as an internal error", out.Err)
	}
	if out.PluginDied || out.Unreverted != 0 || out.Journal == nil || len(out.Journal.Chaos) != 1 {
		t.Fatalf("outcome = %+v", out)
	}
	if c := out.Journal.Chaos[0]; c.RevertedBy != "exit" || c.RevertedAt == nil {
		t.Errorf("fault = %+v; want reverted on exit", c)
	}
	b, _ := os.ReadFile(logFile)
	if !strings.Contains(string(b), "host panicked") || !strings.Contains(string(b), "a bug in the view") {
		t.Errorf("the panic is not in the log:\n%s", b)
	}
}

// Relaunch starts a fresh, configured process of the same plugin and stops
// the old one; a plugin stopped that way did not die. After Shutdown there
// is nothing to relaunch.
func TestRelaunch(t *testing.T) {
	s, _ := open(t, examplePlg, fast)
	old := onlyPID(t, examplePlg)
	p, err := s.Relaunch()
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the old process to stop", func() bool { return !alive(old) })
	fresh := onlyPID(t, examplePlg)
	if fresh == old || s.Plugin() != p {
		t.Fatalf("relaunched %d (was %d); want a new process in use", fresh, old)
	}
	// Chapters is refused before Configure: the fresh process was configured.
	chapters, err := p.(*pluginhost.Client).Chapters(context.Background())
	if err != nil || len(chapters) != 5 {
		t.Fatalf("the fresh plugin's chapters: %d, %v", len(chapters), err)
	}
	if s.PluginExited() {
		t.Error("a plugin stopped by Relaunch counts as died")
	}
	if err := syscall.Kill(fresh, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the session to see the plugin died", s.PluginExited)

	s.Shutdown(io.Discard)
	if _, err := s.Relaunch(); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("Relaunch after Shutdown = %v; want refused", err)
	}
	assertNoPlugin(t, examplePlg)
}

// abandon leaves a chaos log in dir as a host SIGKILLed mid-fault does:
// the fault injected through s's plugin, the log closed with it unreverted.
func abandon(t *testing.T, s *session.Session, dir string) {
	t.Helper()
	l, err := ledger.Open(dir, ledger.Run{Plugin: s.Path, SHA256: s.Identity.SHA256, Owner: s.Identity.Owner, PluginEnv: pluginEnv, Options: s.Options, PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Inject(context.Background(), s.Plugin(), 0, *s.Chapters[0].Fault); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// An abandoned chaos log is warned about, then recovered: a fresh plugin
// process, configured as the run was, reverts the fault by its handle
// (reason recover) and the log is removed; a second recover finds nothing.
func TestRecoverRevertsAnAbandonedLedger(t *testing.T) {
	callsFile := script(t, freeze(true))
	chaosDir := t.TempDir()
	s, _ := open(t, scriptedPlg, nil)
	abandon(t, s, chaosDir)
	s.Close() // the host is gone
	assertNoPlugin(t, scriptedPlg)

	var warned testkit.Buffer
	session.WarnAbandoned(chaosDir, &warned)
	if want := "demohost: warning: an earlier run left faults unreverted: FREEZE on node-1 (plugin " + scriptedPlg; !strings.Contains(warned.String(), want) ||
		!strings.Contains(warned.String(), "run `demohost recover`") {
		t.Errorf("warning = %q; want %q", warned.String(), want)
	}

	var stdout testkit.Buffer
	if err := session.Recover(session.RecoverOptions{ChaosDir: chaosDir, LogFile: filepath.Join(t.TempDir(), "log")}, &stdout); err != nil {
		t.Fatalf("recover: %v\n%s", err, stdout.String())
	}
	if !strings.HasPrefix(stdout.String(), "reverted FREEZE on node-1 (injected ") || !strings.Contains(stdout.String(), "): undid FREEZE on node-1") {
		t.Errorf("recover said %q", stdout.String())
	}
	calls := readCalls(t, callsFile)
	last := calls[len(calls)-1]
	var injected string
	for _, c := range calls {
		if c.name == "inject" {
			injected = c.handle
		}
	}
	if last.name != "revert" || last.handle != injected || callsBy(calls, last.pid) != "configure revert" {
		t.Errorf("calls = %+v; want a fresh process configured and reverting %s, nothing else", calls, injected)
	}
	if left := files(t, chaosDir); len(left) != 0 {
		t.Errorf("recovered log kept: %v", left)
	}
	assertNoPlugin(t, scriptedPlg)

	stdout = testkit.Buffer{}
	if err := session.Recover(session.RecoverOptions{ChaosDir: chaosDir}, &stdout); err != nil || !strings.Contains(stdout.String(), "nothing to recover") {
		t.Errorf("second recover = %v, %q; want nothing to recover", err, stdout.String())
	}
}

// A run recover cannot start the plugin of is reported, and its log kept
// for another try.
func TestRecoverKeepsWhatItCannotRevert(t *testing.T) {
	script(t, freeze(true))
	chaosDir := t.TempDir()
	// A copy of the plugin that is gone by the time recover runs.
	gone := filepath.Join(t.TempDir(), "scripted")
	b, err := os.ReadFile(scriptedPlg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ := open(t, gone, nil)
	abandon(t, s, chaosDir)
	s.Close()
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}

	var stdout testkit.Buffer
	err = session.Recover(session.RecoverOptions{ChaosDir: chaosDir, LogFile: filepath.Join(t.TempDir(), "log")}, &stdout)
	if err == nil || !strings.Contains(err.Error(), "1 of 1 runs could not be recovered") {
		t.Errorf("recover = %v; want it to fail", err)
	}
	if !strings.Contains(stdout.String(), "not recovered: FREEZE on node-1") || !strings.Contains(stdout.String(), "no longer exists") ||
		!strings.Contains(stdout.String(), "demohost recover --forget-missing") {
		t.Errorf("recover said %q; want the plugin gone and the way out", stdout.String())
	}
	left, _ := ledger.FindAbandoned(chaosDir)
	if len(left) != 1 {
		t.Fatalf("abandoned logs after a failed recover = %+v; want the log kept", left)
	}

	// --forget-missing sets the log aside, so the next runs stop warning.
	stdout = testkit.Buffer{}
	if err := session.Recover(session.RecoverOptions{ChaosDir: chaosDir, ForgetMissing: true}, &stdout); err != nil {
		t.Fatalf("recover --forget-missing: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "set aside: FREEZE on node-1") {
		t.Errorf("recover --forget-missing said %q", stdout.String())
	}
	if again, _ := ledger.FindAbandoned(chaosDir); len(again) != 0 {
		t.Errorf("abandoned logs after --forget-missing = %+v", again)
	}
	if _, err := os.Stat(left[0].File + ".forgotten"); err != nil {
		t.Errorf("the log was not kept aside: %v", err)
	}
}

// Open refuses what it cannot run, in one line, and leaves no plugin
// process behind.
func TestFailedOpenLeavesNoPlugin(t *testing.T) {
	bad := freeze(true)
	bad["Chapters"].([]map[string]any)[0]["Fault"] = map[string]any{"Kind": "DISK_FULL"}
	for _, tt := range []struct {
		name   string
		script map[string]any
		set    map[string]string
		want   string
	}{
		{"undeclared fault kind", bad, nil, `invalid chapter list: chapter 1 ("Wait"): fault kind DISK_FULL is not declared by frozen (it declares FREEZE); fix its Chapters`},
		{"unknown option", freeze(true), map[string]string{"colour": "blue"}, `unknown option "colour"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			script(t, tt.script)
			_, err := session.Open(session.Config{Plugin: scriptedPlg, Set: tt.set, LogFile: filepath.Join(t.TempDir(), "log"), PluginEnv: pluginEnv})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Open = %v; want one line containing %q", err, tt.want)
			}
			assertNoPlugin(t, scriptedPlg)
		})
	}
}

// The crash path after a plugin error that is not a death does not run:
// a fatal action ends the run with the plugin alive, and nothing is
// relaunched.
func TestFatalErrorIsNotACrash(t *testing.T) {
	sc := freeze(false)
	sc["Chapters"].([]map[string]any)[0]["Action"] = "fatal"
	callsFile := script(t, sc)
	s, _ := open(t, scriptedPlg, nil)
	pid := onlyPID(t, scriptedPlg)
	out := s.Run(context.Background(), session.RunOptions{View: headless.View(io.Discard), Headless: true, ChaosDir: t.TempDir(), Runner: tuned})
	if out.Err == nil || !strings.Contains(out.Err.Error(), "the cluster is gone") || out.PluginDied {
		t.Fatalf("outcome = %+v; want the fatal error, the plugin alive", out)
	}
	calls := readCalls(t, callsFile)
	if got := callsBy(calls, pid); got != "configure setup teardown" || len(calls) != 3 {
		t.Errorf("calls = %+v; want one process, set up and torn down, none relaunched", calls)
	}
	s.Shutdown(io.Discard)
}

// A signal channel its owner closes (nothing more will come) is no signal:
// the run goes on to its end.
func TestClosedSignalChannelIsNoSignal(t *testing.T) {
	script(t, map[string]any{"Name": "calm", "Chapters": []map[string]any{{"ID": "calm", "Title": "Calm"}}})
	s, _ := open(t, scriptedPlg, nil)
	sigs := make(chan os.Signal)
	close(sigs)
	out := s.Run(context.Background(), session.RunOptions{View: headless.View(io.Discard), Headless: true, ChaosDir: t.TempDir(),
		Signals: sigs, Runner: tuned, Exit: func(int) { t.Error("exit without a signal") }})
	if out.Err != nil || out.Interrupted != "" || out.Journal.Result != journal.Passed {
		t.Fatalf("outcome = %+v, result %q; want the run passed, not interrupted", out, out.Journal.Result)
	}
	s.Shutdown(io.Discard)
}
