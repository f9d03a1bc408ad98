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

	j, err := loop(ctx, screen, d, v, snaps, done, changed)
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

// loop renders on every change and turns keys into commands until the run
// is over: asked to quit, it ends when the runner does; ending by itself,
// it keeps the last screen up until the user presses q.
func loop(ctx context.Context, screen tcell.Screen, d demo, v *view, snaps <-chan runner.Snapshot, done <-chan runResult, changed <-chan struct{}) (*journal.Journal, error) {
	events := make(chan tcell.Event, 16)
	stopEvents := make(chan struct{})
	go screen.ChannelEvents(events, stopEvents)
	defer close(stopEvents)

	tick := time.NewTimer(time.Hour)
	tick.Stop()
	defer tick.Stop()

	cancelled := ctx.Done()
	restarted := make(chan restartResult, 1)
	var (
		snap     runner.Snapshot
		result   *runResult
		snapsEnd bool
	)
	snap.Index = -1
	for {
		now := time.Now()
		render(screen, &snap, v, now)
		screen.Show()
		if next := nextTick(&snap, now); !next.IsZero() && result == nil {
			tick.Reset(next.Sub(now))
		} else {
			tick.Stop()
		}

		select {
		case ev := <-events:
			if handleEvent(ev, screen, d, v, result != nil) {
				return result.j, result.err
			}
			if v.wantRestart {
				v.wantRestart = false
				if v.restart != nil && snap.PluginError != "" && !v.restarting && !v.quitting && result == nil {
					v.restarting, v.restartErr = true, ""
					go func(relaunch func() (subject.Plugin, error)) {
						p, err := relaunch()
						restarted <- restartResult{p, err}
					}(v.restart)
				}
			}
		case rr := <-restarted:
			v.restarting = false
			if rr.err != nil {
				v.restartErr = rr.err.Error()
			} else {
				d.Restart(rr.plugin)
			}
		case s, ok := <-snaps:
			if !ok {
				snaps, snapsEnd = nil, true
				if result != nil && v.quitting {
					return result.j, result.err
				}
				continue
			}
			snap = s
			v.observe(&snap)
		case r := <-done:
			result = &r
			if ctx.Err() != nil {
				v.quitting = true
			}
			if v.quitting && snapsEnd {
				return r.j, r.err
			}
			if !v.quitting {
				v.ended = "the runner stopped"
				if r.err != nil {
					v.ended = r.err.Error()
				}
			}
		case <-cancelled: // a signal: the runner reverts and stops by itself
			cancelled = nil
			v.quitting = true
			if result != nil && snapsEnd {
				return result.j, result.err
			}
		case <-changed:
		case <-tick.C:
		}
	}
}

// handleEvent applies a key or resize; it says whether to leave the loop
// (only once the run has ended).
func handleEvent(ev tcell.Event, screen tcell.Screen, d demo, v *view, ended bool) bool {
	switch ev := ev.(type) {
	case *tcell.EventResize:
		v.frame.forget()
		screen.Sync()
	case *tcell.EventKey:
		k := ev.Key()
		r := ev.Rune()
		switch {
		case k == tcell.KeyCtrlC || (k == tcell.KeyRune && r == 'q'):
			if ended {
				return true
			}
			v.quitting = true
			d.Quit()
		case k == tcell.KeyRune && r == 'r':
			v.wantRestart = true
		case k == tcell.KeyRune && r == '?':
			v.help = !v.help
		case k == tcell.KeyEscape:
			v.help = false
		case k == tcell.KeyCtrlL:
			v.frame.forget()
			screen.Sync()
		case k == tcell.KeyEnter || k == tcell.KeyRight || (k == tcell.KeyRune && r == ' '):
			v.help = false
			if !v.quitting && !ended {
				d.Next()
			}
		case k == tcell.KeyLeft:
			v.help = false
			if !v.quitting && !ended {
				d.Prev()
			}
		}
	}
	return false
}
