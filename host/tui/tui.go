// Package tui is the full-screen tcell view of a runner: it renders
// Snapshots and turns keys into runner commands.
package tui

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/replay"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/host/watch"
)

// Options tune the view.
type Options struct {
	// Watches are commands whose output gets a panel of its own (--watch).
	Watches []Watch
	// Restart relaunches and configures the plugin after it crashed; the
	// r key calls it and hands the result to the runner. Nil disables r.
	Restart func() (subject.Plugin, error)
	// clock is what the view reads the time from (nil: time.Now); tests
	// read it too, to know the instant each frame was drawn for.
	clock func() time.Time
}

// Watch is one --watch NAME=COMMAND.
type Watch struct {
	Name    string
	Command string
}

// watchGrace is how long a --watch command gets between SIGTERM and SIGKILL.
const watchGrace = 2 * time.Second

// quitWait bounds how long a crashed UI waits for the runner to revert
// chaos before it re-panics.
const quitWait = 60 * time.Second

// Run opens the screen, runs r (r.Run in its own goroutine) and drives it
// from the keyboard until the run ends. The terminal is restored on every
// path, a panic included. It returns what r.Run returned.
func Run(ctx context.Context, r *runner.Runner, opts Options) (*journal.Journal, error) {
	screen, err := tcell.NewScreen()
	if err != nil {
		return nil, fmt.Errorf("open the terminal: %w (use --headless without a terminal)", err)
	}
	if err := screen.Init(); err != nil {
		return nil, fmt.Errorf("open the terminal: %w (use --headless without a terminal)", err)
	}
	return run(ctx, screen, r, opts, theme{noColor: os.Getenv("NO_COLOR") != ""})
}

// demo is the part of *runner.Runner the view uses.
type demo interface {
	Run(ctx context.Context) (*journal.Journal, error)
	Subscribe() (<-chan runner.Snapshot, func())
	Next()
	Prev()
	Quit()
	Restart(subject.Plugin)
}

type restartResult struct {
	plugin subject.Plugin
	err    error
}

type runResult struct {
	j   *journal.Journal
	err error
}

// run drives an initialised screen and finalises it on every path.
func run(ctx context.Context, screen tcell.Screen, d demo, opts Options, th theme) (*journal.Journal, error) {
	registerFallbacks(screen)
	v := newView(th)
	v.restart = opts.Restart
	var procs []*watch.Process
	defer func() {
		for _, p := range procs {
			p.Stop(watchGrace)
		}
	}()
	changed := make(chan struct{}, 1)
	for _, w := range opts.Watches {
		p, err := watch.Start(w.Name, w.Command, 0)
		if err != nil {
			screen.Fini()
			return nil, err
		}
		procs = append(procs, p)
		v.watches = append(v.watches, watchPanel{name: w.Name, src: p})
		go forward(ctx, p.Changed(), changed)
	}

	snaps, unsubscribe := d.Subscribe()
	defer unsubscribe()
	done := make(chan runResult, 1)
	go func() {
		j, err := d.Run(ctx)
		done <- runResult{j, err}
	}()

	// A panic in the loop: restore the terminal, revert chaos through the
	// runner, then panic on.
	defer func() {
		if p := recover(); p != nil {
			screen.Fini()
			fmt.Fprintf(os.Stderr, "demohost: the terminal UI crashed (%v); reverting chaos…\n", p)
			d.Quit()
			select {
			case <-done:
			case <-time.After(quitWait):
			}
			panic(p)
		}
	}()

	if opts.clock == nil {
		opts.clock = time.Now
	}
	l := &loop{screen: screen, v: v, now: opts.clock, ctx: ctx, demo: d, snaps: snaps, done: done, changed: changed,
		cancelled: ctx.Done(), restarted: make(chan restartResult, 1)}
	j, err := l.run()
	screen.Fini()
	return j, err
}

// forward passes on change notices until ctx ends.
func forward(ctx context.Context, from <-chan struct{}, to chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-from:
			select {
			case to <- struct{}{}:
			default:
			}
		}
	}
}

// loop is the terminal UI's state between two frames: the screen, the
// view (which holds the key bindings in force), and the run it shows.
type loop struct {
	screen tcell.Screen
	v      *view
	now    func() time.Time
	snap   runner.Snapshot

	ctx       context.Context
	demo      demo
	snaps     <-chan runner.Snapshot // nil once closed
	done      <-chan runResult
	changed   <-chan struct{}    // a --watch panel has new output
	cancelled <-chan struct{}    // ctx.Done(); nil once seen
	restarted chan restartResult // a relaunch (r) has ended
	result    *runResult         // what the runner returned, once it has
	dismissed bool               // q pressed after the run ended (replay: q pressed)

	player   *replay.Player // the replay's, nil for a live run
	playback *playback
}

// over reports whether the loop is done: the run has ended, and the user
// either asked to quit (and every snapshot up to the end was shown) or
// pressed q to leave the screen of a run that ended by itself.
func (l *loop) over() bool {
	return l.result != nil && (l.dismissed || l.v.quitting && l.snaps == nil)
}

// run renders on every change and turns keys into commands until over:
// asked to quit, it ends when the runner does; ending by itself, it keeps
// the last screen up until the user presses q.
func (l *loop) run() (*journal.Journal, error) {
	events, tick, stop := l.listen()
	defer stop()
	l.snap.Index = -1
	for !l.over() {
		now := l.now()
		render(l.screen, &l.snap, l.v, now)
		l.screen.Show()
		if next := nextTick(&l.snap, now); !next.IsZero() && l.result == nil {
			tick.Reset(next.Sub(now))
		} else {
			tick.Stop()
		}

		select {
		case ev := <-events:
			l.event(ev)
		case rr := <-l.restarted:
			l.v.restarting = false
			if rr.err != nil {
				l.v.restartErr = rr.err.Error()
			} else {
				l.demo.Restart(rr.plugin)
			}
		case s, ok := <-l.snaps:
			if !ok {
				l.snaps = nil
				continue
			}
			l.snap = s
			l.v.observe(&l.snap)
		case r := <-l.done:
			l.result, l.done = &r, nil
			switch {
			case l.ctx.Err() != nil || l.v.quitting: // asked to stop
				l.v.quitting = true
			case r.err != nil:
				l.v.ended = r.err.Error()
			default:
				l.v.ended = "the runner stopped"
			}
		case <-l.cancelled: // a signal: the runner reverts and stops by itself
			l.cancelled = nil
			l.v.quitting = true
		case <-l.changed:
		case <-tick.C:
		}
	}
	return l.result.j, l.result.err
}

// listen delivers the screen's events, and returns them with a timer to
// wake the loop (stopped) and what stops both.
func (l *loop) listen() (<-chan tcell.Event, *time.Timer, func()) {
	events := make(chan tcell.Event, 16)
	stopEvents := make(chan struct{})
	go l.screen.ChannelEvents(events, stopEvents)
	wake := time.NewTimer(time.Hour)
	wake.Stop()
	return events, wake, func() {
		wake.Stop()
		close(stopEvents)
	}
}

// event applies a resize, or a key through the key table.
func (l *loop) event(ev tcell.Event) {
	switch ev := ev.(type) {
	case *tcell.EventResize:
		l.redraw()
	case *tcell.EventKey:
		if a := action(l.v.keys, ev); a != nil {
			a.do(l)
		}
	}
}

// The actions of keyTable.

func (l *loop) next() {
	l.v.help = false
	if !l.v.quitting && l.result == nil {
		l.demo.Next()
	}
}

func (l *loop) prev() {
	l.v.help = false
	if !l.v.quitting && l.result == nil {
		l.demo.Prev()
	}
}

// quit asks the runner to stop (again: to stop waiting for the plugin's
// cleanup); once the run is over it leaves the screen.
func (l *loop) quit() {
	if l.result != nil {
		l.dismissed = true
		return
	}
	l.v.quitting = true
	l.demo.Quit()
}

// restart relaunches a crashed plugin in the background; the loop hands
// the new one to the runner when it is ready.
func (l *loop) restart() {
	v := l.v
	if v.restart == nil || l.snap.PluginError == "" || v.restarting || v.quitting || l.result != nil {
		return
	}
	v.restarting, v.restartErr = true, ""
	go func(relaunch func() (subject.Plugin, error)) {
		p, err := relaunch()
		l.restarted <- restartResult{p, err}
	}(v.restart)
}

func (l *loop) toggleHelp() { l.v.help = !l.v.help }

func (l *loop) closeHelp() { l.v.help = false }

// redraw forgets what the terminal shows and draws it all again.
func (l *loop) redraw() {
	l.v.frame.forget()
	l.screen.Sync()
}
