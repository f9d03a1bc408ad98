package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/subject"
)

// maxEvents bounds Snapshot.Events (the journal keeps every event).
const maxEvents = 200

// noticeFor is how long a Notice stays up.
const noticeFor = 4 * time.Second

// run is the state of one Run. Only the loop goroutine touches it; other
// goroutines and timers reach it through Runner.send.
type run struct {
	r   *Runner
	cfg Config
	ctx context.Context // ends on Quit or when Run's ctx ends
	// cleanup is for reverts and teardown: it survives ctx, and ends only
	// on a second Quit.
	cleanup context.Context

	phase     Phase
	view      int // chapter shown; -1 before the first
	frontier  int // newest chapter entered; -1 before the first
	chapters  []*chapterRun
	active    []activeFault
	health    *subject.Health
	recent    []*subject.Health // health snapshots shown, oldest first; the last is health
	events    []Event           // the newest maxEvents
	notice    string
	noticeID  int
	pluginErr string

	finished     bool // the loop should stop
	early        bool // the run ended before its last chapter was done
	err          error
	actionCancel context.CancelFunc
	healthCancel context.CancelFunc
	healthStream int // which health stream is current

	plugin subject.Plugin // Restart replaces it
	ledger *ledger.Ledger

	j      *journal.Journal
	rec    *recorder
	screen *screenRecorder
}

func newRun(r *Runner, ctx, cleanup context.Context) *run {
	now := time.Now()
	j := &journal.Journal{
		Subject:        r.cfg.Description.Name,
		SubjectVersion: r.cfg.Description.Version,
		Options:        r.cfg.Options,
		Headless:       r.cfg.Headless,
		StartedAt:      now,
		Chapters:       []journal.Chapter{},
		Chaos:          []journal.Chaos{},
		ViolationsSeen: []journal.ViolationSeen{},
		Violations:     []journal.ViolationSpan{},
		Nodes:          []journal.NodeTransition{},
		Metrics:        []journal.MetricSeries{},
		Events:         []journal.Event{},
	}
	u := &run{r: r, cfg: r.cfg, plugin: r.cfg.Plugin, ledger: r.cfg.Ledger, ctx: ctx, cleanup: cleanup, view: -1, frontier: -1, j: j, rec: newRecorder(j)}
	for i, c := range r.cfg.Chapters {
		u.chapters = append(u.chapters, newChapterRun(i, c))
	}
	u.screen = newScreenRecorder(j, u.chapters)
	return u
}

// run is the loop: Setup, the chapters, then stop. A panic in it is a bug:
// what is active is reverted and torn down, and Run returns a *PanicError.
func (u *run) run() (j *journal.Journal, err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			u.cleanupAfterPanic()
			u.early = true
			func() {
				defer func() { _ = recover() }() // the state may be too broken to complete
				u.completeJournal()
			}()
			j, err = u.j, &PanicError{Value: p, Stack: stack}
		}
	}()
	for _, n := range u.cfg.Notes {
		u.eventSev(journal.KindStatus, subject.Warning, n)
	}
	u.publish()
	if !u.setup() {
		return u.stop()
	}
	u.phase = PhaseRunning
	u.startHealth()
	u.enter(0)
	u.publish()
	for !u.finished {
		select {
		case f := <-u.r.msgs:
			f(u)
		case <-u.ctx.Done():
			u.event(journal.KindChapter, "quit: stopping the run")
			// Quitting on the last chapter of an interactive demo is its
			// normal end; anywhere else the run was cut short.
			u.finish(u.cfg.Headless || u.frontier < len(u.chapters)-1)
		}
		u.publish()
	}
	return u.stop()
}

// setup sets the subject up before the first chapter; false means the run
// cannot go on.
func (u *run) setup() bool {
	err := u.callSetup()
	if err == nil {
		return true
	}
	u.early = true
	if u.ctx.Err() != nil {
		u.event(journal.KindSetup, "setup interrupted: quitting")
	} else {
		u.pluginFailed("setup", err)
	}
	return false
}

// callSetup calls the plugin's Setup, progress into events.
func (u *run) callSetup() error {
	return u.stage(u.ctx, journal.KindSetup, u.plugin.Setup)
}

// stage runs Setup or Teardown (kind) under SetupTimeout, progress into events.
func (u *run) stage(parent context.Context, kind string, call func(context.Context, func(subject.Line)) error) error {
	u.event(kind, kind+" of "+u.j.Subject)
	u.publish()
	ctx, cancel := context.WithTimeout(parent, u.cfg.SetupTimeout)
	defer cancel()
	err := call(ctx, func(l subject.Line) {
		u.eventSev(kind, l.Severity, l.Message)
		u.publish()
	})
	if err == nil {
		u.event(kind, kind+" done")
	}
	return err
}

// restart carries on with a new plugin process in place of one that failed:
// it reverts the faults the old one left active (their handles are
// self-contained; reason crash), so what the screen shows as active is
// what is; its Setup reconciles what the old one left; the health stream
// moves to it.
func (u *run) restart(p subject.Plugin) {
	if u.phase != PhaseRunning {
		return
	}
	u.event(journal.KindSetup, "plugin restarted")
	if u.actionCancel != nil {
		u.actionCancel()
	}
	u.plugin = p
	u.revertAll(ledger.ByCrash)
	err := u.callSetup()
	u.startHealth()
	if err != nil {
		if u.ctx.Err() == nil {
			u.pluginFailed("setup after restart", err)
		}
		return
	}
	u.pluginErr, u.err = "", nil
}

// finish ends the loop; early marks the run aborted.
func (u *run) finish(early bool) {
	u.finished = true
	u.early = u.early || early
}

// stop reverts every active fault, tears down and completes the journal.
func (u *run) stop() (*journal.Journal, error) {
	u.phase = PhaseStopping
	u.notice = "stopping: reverting chaos and tearing down (quit again to stop waiting)"
	if u.healthCancel != nil {
		u.healthCancel()
	}
	if u.frontier >= 0 {
		if c := u.chapters[u.frontier]; u.pluginErr != "" && !c.left {
			// The plugin failed while this chapter ran: it did not pass.
			c.fail("the run ended: " + u.pluginErr)
		}
		u.leave(u.frontier)
	}
	u.publish()
	u.revertAll(ledger.ByExit)
	u.teardown()
	u.phase = PhaseDone
	u.notice = ""
	u.completeJournal()
	u.publish()
	return u.j, u.err
}

func (u *run) teardown() {
	err := u.stage(u.cleanup, journal.KindTeardown, u.plugin.Teardown)
	if err != nil {
		u.eventSev(journal.KindError, subject.Critical, "teardown: "+err.Error())
		if u.err == nil {
			u.err = &PluginError{What: "teardown", Err: err}
		}
	}
}

// cleanupAfterPanic reverts what it can and tears down, so a bug in the
// runner never leaves a fault behind.
func (u *run) cleanupAfterPanic() {
	defer func() { _ = recover() }() // the state may be broken; the first panic is the one to report
	for _, id := range u.ledger.Unreverted() {
		ctx, cancel := context.WithTimeout(context.Background(), u.cfg.RPCTimeout)
		_, _ = u.ledger.Revert(ctx, u.plugin, id, ledger.ByExit)
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), u.cfg.SetupTimeout)
	defer cancel()
	_ = u.plugin.Teardown(ctx, nil)
}

// fatal reports whether err must end the run: the plugin marked it fatal,
// or the plugin is gone.
func fatal(err error) bool {
	return errors.Is(err, subject.ErrFatal) || errors.Is(err, subject.ErrUnreachable)
}

// pluginFailed records a plugin error that ends the run: a fatal error or a
// dead plugin. Headless runs end (aborted); interactive ones stay up so the
// user can see it and quit (or restart the plugin).
func (u *run) pluginFailed(what string, err error) {
	msg := what + ": " + err.Error()
	u.eventSev(journal.KindError, subject.Critical, msg)
	if u.pluginErr == "" {
		u.pluginErr = msg
	}
	if u.err == nil {
		u.err = &PluginError{What: what, Err: err}
	}
	if u.cfg.Headless {
		u.finish(true)
	}
}

// PanicError is a bug in the runner: it panicked, reverted what was active
// and tore down.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error in the runner: %v; the run was stopped and its chaos reverted", e.Value)
}

// PluginError is a plugin failure that ended (or, in the terminal UI,
// halted) a run. Its message is the plugin's own.
type PluginError struct {
	What string // the call or step, e.g. "setup"
	Err  error
}

func (e *PluginError) Error() string { return "plugin error: " + e.What + ": " + e.Err.Error() }

// Unwrap returns the plugin's error.
func (e *PluginError) Unwrap() error { return e.Err }

// event appends a timestamped line to the journal and the events panel.
func (u *run) event(kind, msg string) { u.eventSev(kind, subject.Info, msg) }

// eventSev is event with a severity.
func (u *run) eventSev(kind string, sev subject.Severity, msg string) {
	e := Event{At: time.Now(), Kind: kind, Severity: sev, Message: msg}
	je := journal.Event{At: e.At, Kind: kind, Message: msg}
	if sev != subject.Info {
		je.Severity = sev.String()
	}
	u.j.Events = append(u.j.Events, je)
	u.events = append(u.events, e)
	if len(u.events) > maxEvents {
		u.events = append([]Event(nil), u.events[len(u.events)-maxEvents:]...)
	}
}

// setNotice shows msg until noticeFor passes or another notice replaces it.
func (u *run) setNotice(msg string) {
	u.notice = msg
	u.noticeID++
	id := u.noticeID
	u.after(noticeFor, func(u *run) {
		if u.noticeID == id {
			u.notice = ""
		}
	})
}

// after runs f on the loop goroutine once d has passed.
func (u *run) after(d time.Duration, f func(*run)) {
	time.AfterFunc(d, func() { u.r.send(f) })
}

// completeJournal fills in chapters, faults and the result.
func (u *run) completeJournal() {
	u.j.FinishedAt = time.Now()
	u.j.Chapters = make([]journal.Chapter, len(u.chapters))
	allPassed := true
	for i, c := range u.chapters {
		u.j.Chapters[i] = c.journal()
		if u.j.Chapters[i].Status != journal.Passed && c.ch.Skip == "" {
			allPassed = false
		}
	}
	u.ledger.Fill(u.j)
	switch {
	case u.early:
		u.j.Result = ResultAborted
	case allPassed:
		u.j.Result = journal.Passed
	default:
		u.j.Result = journal.Failed
	}
	u.event(journal.KindChapter, "run "+u.j.Result)
	u.j.FinishedAt = time.Now()
}
