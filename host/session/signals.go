package session

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// signalActions is what a signal can do to a run.
type signalActions struct {
	log         hclog.Logger
	quit        func() // runner.Quit: revert, tear down; again: stop waiting for the plugin
	cancelRun   context.CancelFunc
	stopWaiting context.CancelFunc // stop waiting for the plugin's own cleanup on exit
	headless    bool               // in the terminal UI the screen is not ours to write on
	stderr      io.Writer
	exit        func(int)
}

// signals turns SIGINT, SIGTERM and SIGHUP into escalating steps:
//
//  1. during the run, end it the way `q` does: the runner reverts chaos and
//     tears down, then demohost writes the report and exits;
//  2. stop waiting for a plugin that hangs in that cleanup (the runner gives
//     up, and demohost leaves the plugin to finish reverting on its own);
//  3. exit at once (the plugin still reverts: it notices its host is gone).
//
// A first signal after the run has ended goes straight to step 2. SIGPIPE
// (stdout gone) is handled by the command, not here: the run goes on and
// its reports still reach their files.
type signals struct {
	act         signalActions
	stopped     chan struct{}
	stopOnce    sync.Once
	interrupted atomic.Value // name of the signal that ended the run
	ended       atomic.Bool
}

func watchSignals(ch <-chan os.Signal, act signalActions) *signals {
	if act.exit == nil {
		act.exit = os.Exit
	}
	s := &signals{act: act, stopped: make(chan struct{})}
	if ch != nil {
		go s.loop(ch)
	}
	return s
}

func (s *signals) loop(ch <-chan os.Signal) {
	step := 0
	for {
		var sig os.Signal
		var ok bool
		select {
		case sig, ok = <-ch:
			if !ok {
				return // closed by its owner: no more signals
			}
		case <-s.stopped:
			return
		}
		name := signalName(sig)
		step++
		if step == 1 && s.ended.Load() {
			step = 2
		}
		switch step {
		case 1:
			s.interrupted.Store(name)
			s.act.log.Warn("signal received; reverting chaos and tearing down", "signal", name)
			s.say("%s: reverting chaos and tearing down (again to stop waiting for the plugin)", name)
			s.act.quit()
			s.act.cancelRun()
		case 2:
			s.act.log.Warn("signal received; no longer waiting for the plugin's cleanup", "signal", name)
			s.say("%s: no longer waiting for the plugin (once more to exit at once)", name)
			s.act.quit() // a second Quit makes the runner give up on a hung plugin
			s.act.stopWaiting()
		default:
			s.act.log.Warn("signal received; exiting now", "signal", name)
			s.say("%s: exiting now; the plugin reverts its chaos as it exits", name)
			s.act.exit(2)
		}
	}
}

func (s *signals) say(format string, args ...any) {
	if s.act.headless || s.ended.Load() {
		fmt.Fprintf(s.act.stderr, "demohost: "+format+"\n", args...)
	}
}

// runEnded marks the run as over (the screen, if any, is restored).
func (s *signals) runEnded() { s.ended.Store(true) }

// interruptedBy names the signal that ended the run ("" if none did).
func (s *signals) interruptedBy() string {
	name, _ := s.interrupted.Load().(string)
	return name
}

// stop ends the watch; calling it again does nothing.
func (s *signals) stop() { s.stopOnce.Do(func() { close(s.stopped) }) }

// signalName is e.g. SIGINT.
func signalName(sig os.Signal) string {
	if n, ok := sig.(syscall.Signal); ok && unix.SignalName(n) != "" {
		return unix.SignalName(n)
	}
	return sig.String()
}
