// Package runner walks a subject's chapters: it owns all demo state in one
// goroutine, injects and reverts chaos, evaluates expectations against the
// health stream and journals everything. It has no UI: views subscribe to
// Snapshots and send commands (Next, Prev, Quit).
package runner

import (
	"context"
	"errors"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/sdk"
)

// Subject is the plugin as the runner uses it; *sdk.Client satisfies it.
type Subject interface {
	Setup(ctx context.Context, progress func(*sdk.ProgressEvent)) error
	Teardown(ctx context.Context, progress func(*sdk.ProgressEvent)) error
	EnterChapter(ctx context.Context, index int, status func(*sdk.ChapterEvent)) error
	InjectChaos(ctx context.Context, cfg *sdk.ChaosConfig) (*sdk.Injected, error)
	RevertChaos(ctx context.Context, handle string, cfg *sdk.ChaosConfig) (string, error)
	WatchHealth(ctx context.Context, interval time.Duration, snap func(*sdk.HealthSnapshot)) error
}

// Config is what a run needs. Description and Chapters come from the plugin
// (chapters already checked with sdk.ValidateChapters).
type Config struct {
	Subject     Subject
	Description *sdk.Description
	Options     map[string]string
	Chapters    []*sdk.Chapter
	// Headless advances by itself: once a chapter's expectations are
	// resolved, or after Dwell when it has none.
	Headless bool
	// HealthInterval is the health stream's interval (default 250ms).
	HealthInterval time.Duration
	// Dwell is how long headless mode stays on a chapter without
	// expectations (default 1s).
	Dwell time.Duration
}

// Runner runs one demo. Create it with New, start it with Run.
type Runner struct {
	cfg Config
}

// New returns a runner for cfg.
func New(cfg Config) *Runner { return &Runner{cfg: cfg} }

// Run sets the subject up, walks the chapters until the last one is done
// (headless) or Quit is called or ctx ends, then reverts every active fault
// and tears down. It always returns the journal, even with an error.
func (r *Runner) Run(ctx context.Context) (*journal.Journal, error) {
	return &journal.Journal{}, errors.New("runner: not implemented yet")
}

// Subscribe returns a channel that always holds the latest Snapshot (older
// ones are dropped) and a function to unsubscribe. It is closed when Run
// returns.
func (r *Runner) Subscribe() (<-chan Snapshot, func()) {
	ch := make(chan Snapshot, 1)
	return ch, func() {}
}

// Next advances to the next chapter (refused, with a Notice, while a
// blocks_advance chapter runs its countdown or action).
func (r *Runner) Next() {}

// Prev shows the previous chapter again without re-running it.
func (r *Runner) Prev() {}

// Quit ends the run: active chaos is reverted and the subject torn down.
func (r *Runner) Quit() {}
