// Package runner walks a subject's chapters: it owns all demo state in one
// goroutine, injects and reverts chaos, evaluates expectations against the
// health stream and journals everything. It has no UI: views subscribe to
// Snapshots and send commands (Next, Prev, Quit).
package runner

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/subject"
)

// Config is what a run needs. Description and Chapters come from the plugin,
// already checked (subject.CheckChapters) and their faults' parameters
// filled in (subject.ResolveFault).
type Config struct {
	Plugin      subject.Plugin
	Description subject.Description
	Options     map[string]string
	Chapters    []subject.Chapter
	// Ledger records and reverts every fault (default: one in memory).
	Ledger *ledger.Ledger
	// Headless advances by itself: once a chapter's expectations are
	// resolved, or after Dwell when it has none.
	Headless bool
	// HealthInterval is the longest the health stream may go without a
	// snapshot (default 250ms); plugins also push one on every change.
	HealthInterval time.Duration
	// Dwell is how long headless mode stays on a chapter without
	// expectations (default 1s).
	Dwell time.Duration
	// RPCTimeout bounds each InjectChaos and RevertChaos call (default 15s).
	RPCTimeout time.Duration
	// SetupTimeout bounds Setup and Teardown (default 5m).
	SetupTimeout time.Duration
	// Notes are warnings shown among the events before the run starts
	// (e.g. faults an earlier run left unreverted).
	Notes []string
}

// Result of a run that ended early (quit, signal, plugin failure).
const ResultAborted = "aborted"

// Defaults for the Config durations left zero.
const (
	DefaultHealthInterval = 250 * time.Millisecond
	DefaultDwell          = time.Second
	DefaultRPCTimeout     = 15 * time.Second
	DefaultSetupTimeout   = 5 * time.Minute
)

// Runner runs one demo. Create it with New, start it with Run.
type Runner struct {
	cfg Config

	msgs    chan func(*run) // work for the loop goroutine
	quit    chan struct{}   // closed by the first Quit
	force   chan struct{}   // closed by the second Quit
	quits   atomic.Int32
	done    chan struct{} // closed when Run returns
	started atomic.Bool
	result  *journal.Journal // what Run returned, once done is closed
	err     error

	subMu      sync.Mutex
	subs       map[chan Snapshot]struct{}
	last       *Snapshot
	subsClosed bool
}

// New returns a runner for cfg.
func New(cfg Config) *Runner {
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	if cfg.Dwell <= 0 {
		cfg.Dwell = DefaultDwell
	}
	if cfg.RPCTimeout <= 0 {
		cfg.RPCTimeout = DefaultRPCTimeout
	}
	if cfg.SetupTimeout <= 0 {
		cfg.SetupTimeout = DefaultSetupTimeout
	}
	if cfg.Ledger == nil {
		cfg.Ledger = ledger.New()
	}
	return &Runner{
		cfg:   cfg,
		msgs:  make(chan func(*run), 64),
		quit:  make(chan struct{}),
		force: make(chan struct{}),
		done:  make(chan struct{}),
		subs:  map[chan Snapshot]struct{}{},
	}
}

// Run sets the subject up, walks the chapters until the last one is done
// (headless) or Quit is called or ctx ends, then reverts every active fault
// and tears down. It always returns the journal. The error is non-nil when
// the plugin failed (Setup, an RPC, the plugin process died); Result in the
// journal says passed, failed or aborted.
func (r *Runner) Run(ctx context.Context) (j *journal.Journal, err error) {
	if !r.started.CompareAndSwap(false, true) {
		return &journal.Journal{}, errors.New("runner: Run called twice; create a new Runner with New")
	}
	defer close(r.done)
	defer r.closeSubscribers()
	if r.cfg.Plugin == nil || len(r.cfg.Chapters) == 0 {
		return &journal.Journal{}, errors.New("runner: no subject or no chapters to run")
	}
	defer func() { r.result, r.err = j, err }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Cleanup RPCs outlive ctx; only a second Quit cuts them short.
	cleanup, giveUp := context.WithCancel(context.Background())
	defer giveUp()
	go func() {
		select {
		case <-r.force:
			giveUp()
		case <-cleanup.Done():
		}
	}()
	return newRun(r, ctx, cleanup).run()
}

// Started reports whether Run was called.
func (r *Runner) Started() bool { return r.started.Load() }

// Done is closed when Run has returned.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Result is what Run returned; call it after Done is closed.
func (r *Runner) Result() (*journal.Journal, error) {
	<-r.done
	return r.result, r.err
}

// Subscribe returns a channel that always holds the latest Snapshot (older
// ones are dropped) and a function to unsubscribe. It is closed when Run
// returns.
func (r *Runner) Subscribe() (<-chan Snapshot, func()) {
	ch := make(chan Snapshot, 1)
	r.subMu.Lock()
	defer r.subMu.Unlock()
	if r.last != nil {
		ch <- *r.last
	}
	if r.subsClosed {
		close(ch)
		return ch, func() {}
	}
	r.subs[ch] = struct{}{}
	return ch, func() {
		r.subMu.Lock()
		defer r.subMu.Unlock()
		if _, ok := r.subs[ch]; ok {
			delete(r.subs, ch)
			close(ch)
		}
	}
}

// Next advances to the next chapter (refused, with a Notice, while a
// blocks_advance chapter runs its countdown or action). From a chapter
// shown again by Prev it moves back toward the newest one without
// re-running anything.
func (r *Runner) Next() { r.send(func(u *run) { u.next() }) }

// Prev shows the previous chapter again without re-running it.
func (r *Runner) Prev() { r.send(func(u *run) { u.prev() }) }

// Quit ends the run: active chaos is reverted and the subject torn down.
// It returns at once; Run returns when the cleanup is done. A second Quit
// gives up waiting on a plugin that hangs during that cleanup (the reverts
// it cuts short are journalled as failed).
func (r *Runner) Quit() {
	switch r.quits.Add(1) {
	case 1:
		close(r.quit)
	case 2:
		close(r.force)
	}
}

// Restart carries on with p, a freshly launched and configured plugin, in
// place of one that crashed or hangs: p's Setup reconciles what the old
// process left behind, the health stream moves to p, faults still active are
// reverted through p later, and PluginError is cleared. The caller stops the
// old process. Ignored unless the run is walking its chapters.
func (r *Runner) Restart(p subject.Plugin) { r.send(func(u *run) { u.restart(p) }) }

// send queues f for the loop goroutine; it gives up once Run has returned.
func (r *Runner) send(f func(*run)) {
	select {
	case r.msgs <- f:
	case <-r.done:
	}
}

// publish hands s to every subscriber, replacing what it has not read yet.
func (r *Runner) publish(s Snapshot) {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	r.last = &s
	for ch := range r.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s // never blocks: this is the only sender and the buffer is empty
	}
}

func (r *Runner) closeSubscribers() {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	r.subsClosed = true
	for ch := range r.subs {
		close(ch)
	}
	clear(r.subs)
}
