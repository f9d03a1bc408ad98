// Package tui is the full-screen tcell view of a runner: it renders
// Snapshots and turns keys into runner commands.
package tui

import (
	"context"
	"errors"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
)

// Options tune the view.
type Options struct {
	// Watches are commands whose output gets a panel of its own (--watch).
	Watches []Watch
}

// Watch is one --watch NAME=COMMAND.
type Watch struct {
	Name    string
	Command string
}

// Run opens the screen, runs r (r.Run in its own goroutine) and drives it
// from the keyboard until the run ends. The terminal is restored on every
// path, a panic included. It returns what r.Run returned.
func Run(ctx context.Context, r *runner.Runner, opts Options) (*journal.Journal, error) {
	return nil, errors.New("tui: not implemented yet")
}
