package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/sanitize"
	"github.com/demohost/demohost/host/subject"
)

// View shows a run: the terminal UI, or headless progress. It runs r (Run
// in a goroutine of its own), shows it until Run returns, and returns what
// Run returned.
type View func(ctx context.Context, r *runner.Runner) (*journal.Journal, error)

// RunOptions say how to run the demo.
type RunOptions struct {
	View     View
	Headless bool
	// ChaosDir holds the chaos logs (default ledger.DefaultDir()).
	ChaosDir string
	// Signals delivers SIGINT, SIGTERM, SIGHUP (see signals.go); nil: none.
	Signals <-chan os.Signal
	// Exit ends the process at the third signal (default os.Exit).
	Exit func(code int)
	// Stderr receives the few lines said outside the view (default discard).
	Stderr io.Writer
	// Runner tunes the runner (intervals, timeouts); Plugin, Description,
	// Options, Chapters, Headless and Ledger are the session's.
	Runner runner.Config
}

// Outcome is how a run ended.
type Outcome struct {
	// Journal is the run's record (nil when the run never started); its
	// chaos entries include reverts made after a plugin crash.
	Journal *journal.Journal
	// Err is a plugin error that ended the run, or an internal error.
	Err error
	// Interrupted names the signal that ended the run ("" if none did).
	Interrupted string
	// Unreverted counts faults left active (see `demohost recover`).
	Unreverted int
	// PluginDied: a plugin process of the run exited by itself.
	PluginDied bool
}

// stopWait bounds how long a view that panicked waits for the runner to
// revert and tear down before giving up (the plugin then reverts by itself
// when it is shut down).
const stopWait = 30 * time.Second

// crashRevertTimeout bounds each call made through a fresh plugin process
// after a crash.
const crashRevertTimeout = 15 * time.Second

// pluginExitWait is how long a failed run waits to see whether the plugin
// process died.
const pluginExitWait = 2 * time.Second

// Run sets the subject up, walks its chapters through opts.View, tears
// down, and — if the plugin died — reverts what it left active and tears
// down through a fresh plugin process. Every fault goes through one ledger
// whose log is on disk.
func (s *Session) Run(ctx context.Context, opts RunOptions) Outcome {
	if opts.ChaosDir == "" {
		opts.ChaosDir = ledger.DefaultDir()
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	l, err := ledger.Open(opts.ChaosDir, ledger.Run{Plugin: s.Path, SHA256: s.Identity.SHA256, Owner: s.Identity.Owner,
		PluginEnv: s.launch.Env, Options: s.Options, PID: os.Getpid()})
	if err != nil {
		return Outcome{Err: fmt.Errorf("%w; demohost records faults there before injecting them: make %s writable", err, opts.ChaosDir)}
	}
	defer l.Close()

	cfg := opts.Runner
	cfg.Plugin, cfg.Description, cfg.Options, cfg.Chapters = s.Plugin(), s.Description, s.Options, s.Chapters
	cfg.Headless, cfg.Ledger = opts.Headless, l
	r := runner.New(cfg)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sig := watchSignals(opts.Signals, signalActions{log: s.Log, quit: r.Quit, cancelRun: cancel, stopWaiting: s.dontWait,
		headless: opts.Headless, stderr: opts.Stderr, exit: opts.Exit})
	s.sig = sig // watched until Shutdown returns: a second signal stops its wait

	j, err := s.show(ctx, r, opts.View)
	sig.runEnded()
	var pe *runner.PanicError
	if errors.As(err, &pe) {
		s.Log.Error("runner panicked", "panic", pe.Value, "stack", string(pe.Stack))
	}
	out := Outcome{Journal: j, Err: err, Interrupted: sig.interruptedBy()}
	if err != nil && mayHaveDied(err) && s.waitPluginExit(pluginExitWait) {
		s.afterCrash(l, j, opts.Stderr)
	}
	if j != nil {
		l.Fill(j)
		j.AddEvidence()
	}
	out.Unreverted = len(l.Unreverted())
	out.PluginDied = s.PluginExited()
	return out
}

// show runs the view; a panic in it stops the run cleanly (the runner
// reverts and tears down) and becomes an error.
func (s *Session) show(ctx context.Context, r *runner.Runner, view View) (j *journal.Journal, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.Log.Error("host panicked; stopping the run", "panic", v, "stack", string(debug.Stack()))
			r.Quit()
			vp := &ViewPanic{Value: v}
			err = vp
			if !r.Started() {
				return
			}
			select {
			case <-r.Done():
				j, _ = r.Result()
			case <-time.After(stopWait):
				vp.Unfinished = true
			}
		}
	}()
	return view(ctx, r)
}

// afterCrash handles a run whose plugin died: it starts the plugin again,
// reverts through it every fault the dead one left active (reason "crash"),
// and asks it to tear down what the dead one left, active faults or not.
func (s *Session) afterCrash(l *ledger.Ledger, j *journal.Journal, stderr io.Writer) {
	left := l.Unreverted()
	if len(left) > 0 {
		sanitize.Fprintf(stderr, "demohost: the plugin died with %s active; reverting through a fresh plugin process", plural(len(left), "fault"))
	} else {
		sanitize.Fprintf(stderr, "demohost: the plugin died; tearing down what it left through a fresh plugin process")
	}
	p, err := s.Relaunch()
	if err != nil {
		s.Log.Error("relaunch after a crash failed", "error", err)
		sanitize.Fprintf(stderr, "demohost: could not start the plugin again to clean up after it died: %v", err)
		return
	}
	for _, id := range left {
		ctx, cancel := context.WithTimeout(context.Background(), crashRevertTimeout)
		detail, err := l.Revert(ctx, p, id, ledger.ByCrash)
		cancel()
		rec := l.Record(id)
		if err != nil {
			s.Log.Error("revert after a crash failed", "fault", rec.Type, "target", rec.Target, "error", err)
			continue
		}
		if j != nil {
			j.Events = append(j.Events, journal.Event{At: time.Now(), Kind: journal.KindRevert,
				Message: fmt.Sprintf("reverted %s on %s through a fresh plugin process after the plugin died: %s", rec.Type, rec.Target, detail)})
		}
	}
	// The fresh plugin never set up: its Teardown removes what the dead one left.
	ctx, cancel := context.WithTimeout(context.Background(), crashRevertTimeout)
	defer cancel()
	err = p.Teardown(ctx, func(line subject.Line) { s.Log.Info("teardown after crash: " + line.Message) })
	if err != nil {
		s.Log.Error("teardown after a crash failed", "error", err)
		sanitize.Fprintf(stderr, "demohost: tearing down after the plugin died failed: %v", err)
	} else if j != nil {
		j.Events = append(j.Events, journal.Event{At: time.Now(), Kind: journal.KindTeardown, Message: "torn down through a fresh plugin process after the plugin died"})
	}
}

// ViewPanic is a bug in a view: it panicked; the run was stopped.
type ViewPanic struct {
	Value any
	// Unfinished: the runner did not finish reverting within stopWait.
	Unfinished bool
}

func (e *ViewPanic) Error() string {
	if e.Unfinished {
		return fmt.Sprintf("internal error: %v; the run did not stop within %s: the plugin reverts its chaos as it is shut down", e.Value, stopWait)
	}
	return fmt.Sprintf("internal error: %v; the run was stopped and its chaos reverted", e.Value)
}

// mayHaveDied says whether a run's error may come from a plugin that died
// (go-plugin notices the exit a moment after the connection breaks): not a
// fatal error the plugin itself sent, nor a bug in the host.
func mayHaveDied(err error) bool {
	var pe *runner.PanicError
	var vp *ViewPanic
	return !errors.Is(err, subject.ErrFatal) && !errors.As(err, &pe) && !errors.As(err, &vp)
}

// plural is "1 fault", "2 faults".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
