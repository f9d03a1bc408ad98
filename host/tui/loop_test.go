package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/testkit"
)

// scriptedDemo is a test fixture standing in for *runner.Runner: the test
// publishes snapshots and sees the commands keys turned into. Once asked to
// quit it publishes a Stopping snapshot and ends only when the test lets it.
type scriptedDemo struct {
	snaps   chan runner.Snapshot
	quit    chan struct{}
	release chan struct{}
	once    sync.Once

	mu   sync.Mutex
	cmds []string
}

func newScriptedDemo() *scriptedDemo {
	return &scriptedDemo{snaps: make(chan runner.Snapshot, 1), quit: make(chan struct{}), release: make(chan struct{})}
}

func (d *scriptedDemo) publish(s runner.Snapshot) {
	select { // latest value wins, as with the runner
	case <-d.snaps:
	default:
	}
	d.snaps <- s
}

func (d *scriptedDemo) Run(ctx context.Context) (*journal.Journal, error) {
	select {
	case <-d.quit:
	case <-ctx.Done():
	}
	s := demoSnapshot()
	s.Phase = runner.PhaseStopping
	d.publish(s)
	<-d.release
	close(d.snaps)
	return &journal.Journal{Subject: "example", Result: "aborted"}, nil
}

func (d *scriptedDemo) Subscribe() (<-chan runner.Snapshot, func()) { return d.snaps, func() {} }
func (d *scriptedDemo) Next()                                       { d.record("next") }
func (d *scriptedDemo) Prev()                                       { d.record("prev") }
func (d *scriptedDemo) Quit() {
	d.record("quit")
	d.once.Do(func() { close(d.quit) })
}

func (d *scriptedDemo) Restart(subject.Plugin) { d.record("restart") }

func (d *scriptedDemo) record(c string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cmds = append(d.cmds, c)
}

func (d *scriptedDemo) commands() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.cmds, " ")
}

type runOutcome struct {
	j   *journal.Journal
	err error
}

func startLoop(t *testing.T, ctx context.Context, s tcell.Screen, d demo, opts Options) <-chan runOutcome {
	t.Helper()
	out := make(chan runOutcome, 1)
	go func() {
		j, err := run(ctx, s, d, opts, theme{})
		out <- runOutcome{j, err}
	}()
	return out
}

func TestKeysDriveTheRunnerAndQuitWaitsForRevert(t *testing.T) {
	s := newScreen(t, 120, 40)
	d := newScriptedDemo()
	out := startLoop(t, context.Background(), s, d, Options{})
	d.publish(demoSnapshot())
	testkit.WaitFor(t, 5*time.Second, "first frame", func() bool { return screenHas(s, "[3/5] Kill a node") })

	s.InjectKey(tcell.KeyRune, ' ', tcell.ModNone)
	s.InjectKey(tcell.KeyEnter, 0, tcell.ModNone)
	s.InjectKey(tcell.KeyRight, 0, tcell.ModNone)
	s.InjectKey(tcell.KeyLeft, 0, tcell.ModNone)
	testkit.WaitFor(t, 5*time.Second, "commands", func() bool { return d.commands() == "next next next prev" })

	refused := demoSnapshot()
	refused.Notice = "the countdown is running; wait for it"
	d.publish(refused)
	testkit.WaitFor(t, 5*time.Second, "refusal notice", func() bool { return screenHas(s, "⚠ the countdown is running; wait for it") })

	s.InjectKey(tcell.KeyRune, '?', tcell.ModNone)
	testkit.WaitFor(t, 5*time.Second, "help", func() bool { return screenHas(s, "previous chapter (not re-run)") })
	s.InjectKey(tcell.KeyEscape, 0, tcell.ModNone)
	testkit.WaitFor(t, 5*time.Second, "help closed", func() bool { return !screenHas(s, "previous chapter (not re-run)") })

	s.SetSize(70, 20)
	_ = s.PostEvent(tcell.NewEventResize(70, 20))
	testkit.WaitFor(t, 5*time.Second, "too-small message", func() bool { return screenHas(s, "terminal too small (need 80x24)") })
	s.SetSize(100, 30)
	_ = s.PostEvent(tcell.NewEventResize(100, 30))
	testkit.WaitFor(t, 5*time.Second, "redraw after growing", func() bool { return screenHas(s, "[3/5] Kill a node") })

	s.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	testkit.WaitFor(t, 5*time.Second, "reverting banner", func() bool { return screenHas(s, "reverting chaos (1 active) before quitting") })
	s.InjectKey(tcell.KeyRune, ' ', tcell.ModNone) // ignored while quitting
	select {
	case <-out:
		t.Fatal("the view closed before the runner finished reverting")
	case <-time.After(50 * time.Millisecond):
	}
	close(d.release)
	o := <-out
	if o.err != nil || o.j == nil || o.j.Subject != "example" {
		t.Errorf("run returned %+v, %v; want the runner's journal", o.j, o.err)
	}
	if got := d.commands(); got != "next next next prev quit" {
		t.Errorf("commands = %q", got)
	}
}

func TestCtrlCQuits(t *testing.T) {
	s := newScreen(t, 100, 30)
	d := newScriptedDemo()
	close(d.release)
	out := startLoop(t, context.Background(), s, d, Options{})
	s.InjectKey(tcell.KeyCtrlC, 0, tcell.ModCtrl)
	select {
	case o := <-out:
		if o.err != nil {
			t.Fatal(o.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ctrl-c did not end the run")
	}
	if d.commands() != "quit" {
		t.Errorf("commands = %q, want quit", d.commands())
	}
}

func TestSignalEndsTheViewWithTheRunner(t *testing.T) {
	s := newScreen(t, 100, 30)
	d := newScriptedDemo()
	close(d.release)
	ctx, cancel := context.WithCancel(context.Background())
	out := startLoop(t, ctx, s, d, Options{})
	cancel() // as SIGTERM does through the CLI's context
	select {
	case <-out:
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the context did not end the view")
	}
}

// endingDemo's run ends by itself with an error, like a crashed plugin.
type endingDemo struct{ *scriptedDemo }

func (d endingDemo) Run(context.Context) (*journal.Journal, error) {
	s := demoSnapshot()
	s.PluginError = "plugin exited (signal: killed)"
	d.publish(s)
	close(d.snaps)
	return &journal.Journal{Result: "aborted"}, context.DeadlineExceeded
}

func TestRunEndingByItselfStaysOnScreenUntilQ(t *testing.T) {
	s := newScreen(t, 100, 30)
	d := endingDemo{newScriptedDemo()}
	out := startLoop(t, context.Background(), s, d, Options{})
	testkit.WaitFor(t, 5*time.Second, "error banner", func() bool {
		return screenHas(s, "✗ plugin error: plugin exited (signal: killed)") && screenHas(s, "the demo ended: context deadline exceeded · press q to exit")
	})
	select {
	case <-out:
		t.Fatal("the view closed before the user read the error")
	case <-time.After(50 * time.Millisecond):
	}
	s.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	if o := <-out; o.err != context.DeadlineExceeded {
		t.Errorf("run error = %v, want the runner's", o.err)
	}
}

// finiScreen records Fini, to see the terminal restored.
type finiScreen struct {
	*simScreen
	finiMu sync.Mutex
	finis  int
}

func (f *finiScreen) Fini() {
	f.finiMu.Lock()
	f.finis++
	f.finiMu.Unlock()
	f.simScreen.Fini()
}

// panickyDemo panics on Next, inside the view's loop.
type panickyDemo struct{ *scriptedDemo }

func (d panickyDemo) Next() { panic("boom") }

func TestPanicRestoresTerminalAndRevertsFirst(t *testing.T) {
	s := &finiScreen{simScreen: newScreen(t, 100, 30)}
	d := panickyDemo{newScriptedDemo()}
	close(d.release)
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_, _ = run(context.Background(), s, d, Options{}, theme{})
	}()
	s.InjectKey(tcell.KeyRune, ' ', tcell.ModNone)
	select {
	case p := <-recovered:
		if p != "boom" {
			t.Fatalf("recovered %v, want the original panic", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the panic did not surface")
	}
	if d.commands() != "quit" {
		t.Errorf("commands = %q; want quit (chaos reverted) before re-panicking", d.commands())
	}
	s.finiMu.Lock()
	defer s.finiMu.Unlock()
	if s.finis == 0 {
		t.Error("terminal not restored (Fini not called)")
	}
}

func TestWatchPanelShowsOutput(t *testing.T) {
	s := newScreen(t, 120, 40)
	d := newScriptedDemo()
	close(d.release)
	out := startLoop(t, context.Background(), s, d, Options{Watches: []Watch{
		{Name: "monitor", Command: "echo watching the cluster; sleep 60"},
		{Name: "agent", Command: "echo diagnosis: node down; exit 4"},
	}})
	d.publish(demoSnapshot())
	testkit.WaitFor(t, 10*time.Second, "watch output", func() bool {
		return screenHas(s, "monitor") && screenHas(s, "watching the cluster") &&
			screenHas(s, "diagnosis: node down") && screenHas(s, "agent · exited (exit status 4)")
	})
	s.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	select {
	case <-out:
	case <-time.After(10 * time.Second):
		t.Fatal("quit did not end the run with watches attached")
	}
}

// After a plugin crash the banner offers r; r relaunches through
// Options.Restart and hands the new plugin to the runner; a failed relaunch
// is shown and r can be pressed again.
func TestRestartKeyRelaunchesCrashedPlugin(t *testing.T) {
	s := newScreen(t, 120, 40)
	d := newScriptedDemo()
	attempts := make(chan error, 2)
	attempts <- errors.New("plugin did not start")
	attempts <- nil
	relaunch := func() (subject.Plugin, error) {
		if err := <-attempts; err != nil {
			return nil, err
		}
		return nil, nil
	}
	out := startLoop(t, context.Background(), s, d, Options{Restart: relaunch})

	s.InjectKey(tcell.KeyRune, 'r', tcell.ModNone) // no crash yet: ignored
	crashed := demoSnapshot()
	crashed.PluginError = "plugin exited"
	d.publish(crashed)
	testkit.WaitFor(t, 5*time.Second, "crash banner", func() bool { return screenHas(s, "press r to restart the plugin") })
	if c := d.commands(); c != "" {
		t.Fatalf("r before any crash sent %q", c)
	}

	s.InjectKey(tcell.KeyRune, 'r', tcell.ModNone)
	testkit.WaitFor(t, 5*time.Second, "failed relaunch shown", func() bool { return screenHas(s, "restart failed: plugin did not start") })
	s.InjectKey(tcell.KeyRune, 'r', tcell.ModNone)
	testkit.WaitFor(t, 5*time.Second, "runner restarted", func() bool { return d.commands() == "restart" })

	s.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	close(d.release)
	<-out
}
