package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"

	"github.com/demohost/demohost/host/chaoslog"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/tui"
	"github.com/demohost/demohost/sdk"
)

// stopWait bounds how long a host that panicked waits for the runner to
// revert and tear down before it exits anyway (the plugin then reverts on
// its own when it gets SIGTERM).
const stopWait = 30 * time.Second

// runDemo is `demohost --plugin ...`: it runs the chapters headless or in
// the terminal UI, writes the report and returns the exit code.
func runDemo(o runOptions, stdout, stderr io.Writer) int {
	if !o.headless && !(isTerminal(os.Stdin) && isTerminal(os.Stdout)) {
		return fail(stderr, errors.New("the UI needs a terminal; run with --headless (and --report FILE for a JSON journal)"))
	}
	if err := checkReportPath(o.report); err != nil {
		return fail(stderr, err)
	}
	if err := o.renderOptions.check(); err != nil {
		return fail(stderr, err)
	}
	warnAbandoned(stderr)
	s, err := openSession(o.common)
	if err != nil {
		return fail(stderr, err)
	}
	// Signals stay handled until the very end (this defer runs last), so a
	// Ctrl-C while shutdown waits for the plugin stops the wait.
	var sig *signals
	defer func() {
		if sig != nil {
			sig.stop()
		}
	}()
	stopWaiting, dontWait := context.WithCancel(context.Background())
	defer dontWait()
	defer s.shutdown(stopWaiting, stderr)
	chaosLog, err := chaoslog.Open(chaoslog.DefaultDir(), s.path, o.set)
	if err != nil {
		return fail(stderr, fmt.Errorf("%w; demohost records faults there before injecting them: make %s writable", err, chaoslog.DefaultDir()))
	}
	defer chaosLog.Close()

	r := runner.New(runner.Config{
		Subject:     s.plugin.Subject,
		Description: s.desc,
		Options:     o.set,
		Chapters:    s.chapters,
		Headless:    o.headless,
		ChaosLog:    chaosLog,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig = handleSignals(sigActions{log: s.log, quit: r.Quit, cancelRun: cancel, stopWaiting: dontWait, headless: o.headless, stderr: stderr})

	var j *journal.Journal
	if o.headless {
		fmt.Fprintf(stdout, "demohost: %s %s, %d chapters, headless (log: %s)\n", s.desc.Name, s.desc.Version, len(s.chapters), s.logPath)
		j, err = runHeadless(ctx, s, r, stdout)
	} else {
		j, err = runTUI(ctx, s, r, tui.Options{Watches: o.watches, Restart: s.relaunch})
	}
	sig.runEnded()
	if err != nil {
		revertAfterCrash(s, j, chaosLog, stderr)
	}
	return finish(s, o, j, err, sig.interruptedBy(), stdout, stderr)
}

// revertAfterCrash handles a run whose plugin died with faults still
// active: it starts the plugin again, reverts each fault by its handle, as
// `demohost recover` would (journalled as reverted by "recover"), and asks
// the fresh plugin to tear down what the dead one left.
func revertAfterCrash(s *session, j *journal.Journal, log *chaoslog.Log, stderr io.Writer) {
	if j == nil || unreverted(j) == 0 || !s.waitPluginExit(pluginExitWait) {
		return
	}
	fmt.Fprintf(stderr, "demohost: the plugin died with %s active; reverting through a fresh plugin process\n", plural(unreverted(j), "fault"))
	subject, err := s.relaunch()
	if err != nil {
		s.log.Error("relaunch to revert after a crash failed", "error", err)
		return
	}
	for i := range j.Chaos {
		c := &j.Chaos[i]
		if c.RevertedAt != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), crashRevertTimeout)
		_, err := subject.RevertChaos(ctx, c.Handle, chaosConfig(*c))
		cancel()
		if err != nil {
			c.RevertError = s.rpcError("RevertChaos", err).Error()
			continue
		}
		now := time.Now()
		c.RevertedAt, c.RevertedBy, c.RevertError = &now, "recover", ""
		if err := log.Reverted(*c); err != nil {
			s.log.Error("chaos log", "error", err)
		}
		j.Events = append(j.Events, journal.Event{At: now, Kind: journal.KindRevert,
			Message: fmt.Sprintf("reverted %s on %s through a fresh plugin process after the plugin died", c.Type, c.Target)})
	}
	// The fresh plugin never set up: its Teardown removes what the dead one left.
	ctx, cancel := context.WithTimeout(context.Background(), crashRevertTimeout)
	defer cancel()
	if err := subject.Teardown(ctx, func(e *sdk.ProgressEvent) { s.log.Info("teardown after crash: " + e.Message) }); err != nil {
		s.log.Error("teardown after a crash failed", "error", err)
	}
}

// plural is "1 fault", "2 faults".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// pluginExitWait is how long a failed run waits to see whether the plugin
// process died (go-plugin notices a moment after the connection breaks).
const pluginExitWait = 2 * time.Second

// crashRevertTimeout bounds each revert made after a plugin crash.
const crashRevertTimeout = 15 * time.Second

// finish writes the report, says how the run ended and picks the exit code.
func finish(s *session, o runOptions, j *journal.Journal, runErr error, interrupted string, stdout, stderr io.Writer) int {
	code := exitFailed
	if j != nil && j.Result == journal.Passed {
		code = exitPassed
	}
	if j != nil {
		j.AddEvidence()
	}
	if j != nil && o.report != "" {
		if err := j.Write(o.report); err != nil {
			fmt.Fprintf(stderr, "demohost: %v\n", err)
			code = exitUsage
		} else if o.headless {
			fmt.Fprintf(stdout, "report: %s\n", o.report)
		}
	}
	if j != nil {
		if err := writeRendered(o.renderOptions, j, stdout); err != nil {
			fmt.Fprintf(stderr, "demohost: %v\n", err)
			code = exitUsage
		}
	}
	left := ""
	if n := unreverted(j); n > 0 {
		left = fmt.Sprintf("; %d faults were not reverted: run `demohost recover`", n)
		if n == 1 {
			left = "; 1 fault was not reverted: run `demohost recover`"
		}
	}
	if sig := interrupted; sig != "" {
		if left != "" {
			fmt.Fprintf(stderr, "demohost: interrupted by %v%s (log: %s)\n", sig, left, s.logPath)
			return exitUsage
		}
		fmt.Fprintf(stderr, "demohost: interrupted by %v; chaos reverted and the subject torn down\n", sig)
		return exitFailed
	}
	if runErr != nil {
		s.log.Error("run failed", "error", runErr)
		if s.pluginExited() {
			fmt.Fprintf(stderr, "demohost: plugin %s exited during the run (%v)%s; its stderr is in %s\n", s.path, runErr, left, s.logPath)
			return exitUsage
		}
		fmt.Fprintf(stderr, "demohost: %v%s (log: %s)\n", runErr, left, s.logPath)
		return exitUsage
	}
	return code
}

// unreverted counts the journal's faults that were never reverted.
func unreverted(j *journal.Journal) int {
	n := 0
	if j != nil {
		for _, c := range j.Chaos {
			if c.RevertedAt == nil {
				n++
			}
		}
	}
	return n
}

// runHeadless runs r in its own goroutine and prints its progress until it
// returns. A panic in either goroutine still stops the run cleanly: the
// runner reverts what it injected (or, if the runner itself panicked, the
// plugin does when it is closed) and the exit code is 2.
func runHeadless(ctx context.Context, s *session, r *runner.Runner, stdout io.Writer) (j *journal.Journal, err error) {
	type result struct {
		j   *journal.Journal
		err error
	}
	done := make(chan result, 1)
	snaps, unsubscribe := r.Subscribe()
	defer unsubscribe()
	go func() {
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("runner panicked", "panic", v, "stack", string(debug.Stack()))
				done <- result{nil, fmt.Errorf("internal error in the runner: %v; the plugin reverts its chaos as it exits", v)}
			}
		}()
		j, err := r.Run(ctx)
		done <- result{j, err}
	}()

	defer func() {
		if v := recover(); v != nil {
			s.log.Error("host panicked; stopping the run", "panic", v, "stack", string(debug.Stack()))
			r.Quit()
			select {
			case res := <-done:
				j = res.j
			case <-time.After(stopWait):
			}
			err = fmt.Errorf("internal error: %v; the run was stopped and its chaos reverted", v)
		}
	}()

	p := newProgress(stdout, len(s.chapters))
	for {
		select {
		case snap, ok := <-snaps:
			if !ok {
				snaps = nil // Run is returning; wait for its result
				continue
			}
			p.snapshot(snap)
		case res := <-done:
			if res.j != nil {
				p.finish(res.j)
			}
			return res.j, res.err
		}
	}
}

// runTUI runs the terminal UI. tui.Run restores the terminal even when it
// panics; the panic is caught here so the run still reverts its chaos.
func runTUI(ctx context.Context, s *session, r *runner.Runner, opts tui.Options) (j *journal.Journal, err error) {
	snaps, unsubscribe := r.Subscribe()
	defer unsubscribe()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("host panicked; stopping the run", "panic", v, "stack", string(debug.Stack()))
			r.Quit()
			waitClosed(snaps, stopWait)
			err = fmt.Errorf("internal error: %v; the run was stopped and its chaos reverted", v)
		}
	}()
	return tui.Run(ctx, r, opts)
}

// waitClosed waits until a runner subscription closes (Run has returned)
// or d has passed.
func waitClosed(snaps <-chan runner.Snapshot, d time.Duration) {
	deadline := time.After(d)
	for {
		select {
		case _, ok := <-snaps:
			if !ok {
				return
			}
		case <-deadline:
			return
		}
	}
}

// checkReportPath fails early, before anything starts, if the report could
// not be written.
func checkReportPath(path string) error {
	return checkOutputPath("--report", path, "report.json")
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
