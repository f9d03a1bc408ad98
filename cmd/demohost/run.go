package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/demohost/demohost/host/headless"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/sanitize"
	"github.com/demohost/demohost/host/session"
	"github.com/demohost/demohost/host/tui"
)

// startTimeoutEnv overrides the plugin handshake timeout (a Go duration);
// tests shorten it, a slow machine may lengthen it.
const startTimeoutEnv = "DEMOHOST_START_TIMEOUT"

// runDemo is `demohost --plugin ...`: it picks the terminal UI or headless
// output, runs the session and maps its outcome to an exit code.
func runDemo(o runOptions, stdout, stderr io.Writer) int {
	if !o.headless && !(isTerminal(os.Stdin) && isTerminal(os.Stdout)) {
		return fail(stderr, errors.New("the UI needs a terminal; run with --headless (and --report FILE for a JSON journal)"))
	}
	if err := o.outputs.Check(); err != nil {
		return fail(stderr, err)
	}
	cfg, err := o.sessionConfig()
	if err != nil {
		return fail(stderr, err)
	}
	s, err := session.Open(cfg)
	if err != nil {
		return fail(stderr, err)
	}
	defer s.Shutdown(stderr)
	// Faults earlier runs left: said on stderr, and in the terminal UI among
	// its events too (the screen hides what was said before it opened).
	notes := session.AbandonedWarnings("")
	for _, n := range notes {
		sanitize.Fprintf(stderr, "demohost: warning: %s", n)
	}

	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	keepGoingWithoutStdout(s)

	view := func(ctx context.Context, r *runner.Runner) (*journal.Journal, error) {
		return tui.Run(ctx, r, tui.Options{Watches: o.watches, Restart: s.Relaunch})
	}
	if o.headless {
		sanitize.Fprintf(stdout, "demohost: %s %s, %d chapters, headless (log: %s)", s.Description.Name, s.Description.Version, len(s.Chapters), s.LogPath)
		view = headless.View(stdout)
	}
	out := s.Run(context.Background(), session.RunOptions{View: testHooks(view), Headless: o.headless, Signals: sigs, Stderr: stderr,
		Runner: runner.Config{Notes: notes}})
	// After the terminal UI too: why chapters failed, and the result.
	headless.Summary(stdout, out.Journal)
	return finish(s, o, out, stdout, stderr)
}

// finish writes the reports, says how the run ended and picks the exit code.
func finish(s *session.Session, o runOptions, out session.Outcome, stdout, stderr io.Writer) int {
	code := exitFailed
	if out.Journal != nil && out.Journal.Result == journal.Passed {
		code = exitPassed
	}
	if out.Journal != nil {
		written := io.Discard
		if o.headless {
			written = stdout
		}
		if err := o.outputs.Write(out.Journal, written); err != nil {
			sanitize.Fprintf(stderr, "demohost: %v", err)
			code = exitUsage
		}
	}
	left := ""
	switch n := out.Unreverted; {
	case n == 1:
		left = "; 1 fault was not reverted: run `demohost recover`"
	case n > 1:
		left = fmt.Sprintf("; %d faults were not reverted: run `demohost recover`", n)
	}
	if sig := out.Interrupted; sig != "" {
		if left != "" {
			sanitize.Fprintf(stderr, "demohost: interrupted by %v%s (log: %s)", sig, left, s.LogPath)
			return exitUsage
		}
		sanitize.Fprintf(stderr, "demohost: interrupted by %v; chaos reverted and the subject torn down", sig)
		return exitFailed
	}
	if out.Err != nil {
		s.Log.Error("run failed", "error", out.Err)
		if out.PluginDied {
			sanitize.Fprintf(stderr, "demohost: plugin %s exited during the run (%v)%s; its stderr is in %s", s.Path, out.Err, left, s.LogPath)
			return exitUsage
		}
		sanitize.Fprintf(stderr, "demohost: %v%s (log: %s)", out.Err, left, s.LogPath)
		return exitUsage
	}
	return code
}

// keepGoingWithoutStdout handles SIGPIPE: when stdout goes away (demohost
// --headless | head -4), writes to it fail and the run goes on, its faults
// reverted as usual and its reports written to their files. (Unhandled, the
// first write killed demohost, leaving no report; handled rather than
// ignored, so the plugin does not inherit an ignored SIGPIPE.)
func keepGoingWithoutStdout(s *session.Session) {
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	go func() {
		said := false
		for range pipe {
			// A SIGPIPE may come from any pipe (a plugin's, as it dies): say
			// so only when stdout's reader is really gone.
			if !said && stdoutGone() {
				said = true
				s.Log.Warn("stdout is gone (SIGPIPE); the run goes on and its reports are written to their files")
			}
		}
	}()
}

// stdoutGone reports whether stdout is a pipe or socket whose reader is gone.
func stdoutGone() bool {
	fds := []unix.PollFd{{Fd: int32(os.Stdout.Fd()), Events: unix.POLLOUT}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
}

// sessionConfig is what every command that starts a plugin needs.
func (c common) sessionConfig() (session.Config, error) {
	startTimeout, err := durationEnv(startTimeoutEnv)
	if err != nil {
		return session.Config{}, err
	}
	return session.Config{Plugin: c.plugin, SHA256: c.sha256, Set: c.set, LogFile: c.logFile, StartTimeout: startTimeout, PluginEnv: c.pluginEnv}, nil
}

// durationEnv reads an optional duration from the environment.
func durationEnv(name string) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 10s, or unset it", name, v)
	}
	return d, nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
