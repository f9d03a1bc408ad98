package runner

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/status"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/sdk"
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
	health    *sdk.HealthSnapshot
	events    []Event // the newest maxEvents
	notice    string
	noticeID  int
	pluginErr string

	finished     bool // the loop should stop
	early        bool // the run ended before its last chapter was done
	err          error
	actionCancel context.CancelFunc
	healthCancel context.CancelFunc
	healthStream int // which health stream is current

	subject Subject // the plugin; Restart replaces it

	j   *journal.Journal
	rec *recorder
}

// activeFault is an injected fault not yet reverted.
type activeFault struct {
	entry int // index in j.Chaos
	cfg   *sdk.ChaosConfig
	until time.Time
}

func newRun(r *Runner, ctx, cleanup context.Context) *run {
	now := time.Now()
	j := &journal.Journal{
		Subject:        r.cfg.Description.GetName(),
		SubjectVersion: r.cfg.Description.GetVersion(),
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
	u := &run{r: r, cfg: r.cfg, subject: r.cfg.Subject, ctx: ctx, cleanup: cleanup, view: -1, frontier: -1, j: j, rec: newRecorder(j)}
	for _, c := range r.cfg.Chapters {
		u.chapters = append(u.chapters, newChapterRun(c))
	}
	return u
}

// run is the loop: Setup, the chapters, then stop.
func (u *run) run() (j *journal.Journal, err error) {
	defer func() {
		if p := recover(); p != nil {
			u.cleanupAfterPanic()
			panic(p)
		}
	}()
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

// callSetup calls Subject.Setup, progress into events.
func (u *run) callSetup() error {
	return u.stage(u.ctx, journal.KindSetup, u.subject.Setup)
}

// stage runs Setup or Teardown (kind) under SetupTimeout, progress into events.
func (u *run) stage(parent context.Context, kind string, call func(context.Context, func(*sdk.ProgressEvent)) error) error {
	u.event(kind, kind+" of "+u.j.Subject)
	u.publish()
	ctx, cancel := context.WithTimeout(parent, u.cfg.SetupTimeout)
	defer cancel()
	err := call(ctx, func(p *sdk.ProgressEvent) {
		u.event(kind, p.GetMessage())
		u.publish()
	})
	if err == nil {
		u.event(kind, kind+" done")
	}
	return err
}

// restart carries on with a new plugin process in place of one that failed:
// its Setup reconciles what the old one left, the health stream moves to it,
// and it reverts the faults still active (their handles are self-contained).
func (u *run) restart(s Subject) {
	if u.phase != PhaseRunning {
		return
	}
	u.event(journal.KindSetup, "plugin restarted")
	if u.actionCancel != nil {
		u.actionCancel()
	}
	u.subject = s
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
		u.leave(u.frontier)
	}
	u.publish()
	u.revertAll(revertedByExit)
	u.teardown()
	u.phase = PhaseDone
	u.notice = ""
	u.completeJournal()
	u.publish()
	return u.j, u.err
}

func (u *run) teardown() {
	err := u.stage(u.cleanup, journal.KindTeardown, u.subject.Teardown)
	if err != nil {
		u.event(journal.KindError, "teardown: "+err.Error())
		if u.err == nil {
			u.err = fmt.Errorf("teardown: %w", err)
		}
	}
}

// cleanupAfterPanic reverts what it can and tears down, so a bug in the
// runner never leaves a fault behind.
func (u *run) cleanupAfterPanic() {
	defer func() { _ = recover() }() // the state may be broken; the first panic is the one to report
	for _, f := range u.active {
		ctx, cancel := context.WithTimeout(context.Background(), u.cfg.RPCTimeout)
		_, _ = u.subject.RevertChaos(ctx, u.j.Chaos[f.entry].Handle, f.cfg)
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), u.cfg.SetupTimeout)
	defer cancel()
	_ = u.subject.Teardown(ctx, nil)
}

// pluginFailed records a failed RPC or a dead plugin. Headless runs end
// (aborted); interactive ones stay up so the user can see it and quit.
func (u *run) pluginFailed(what string, err error) {
	msg := what + ": " + plainMessage(err)
	u.event(journal.KindError, msg)
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

// PluginError is a plugin call that failed during a run. Its message is the
// plugin's own, without gRPC's framing; Unwrap gives the gRPC error.
type PluginError struct {
	What string // the call or step, e.g. "setup"
	Err  error
}

func (e *PluginError) Error() string { return "plugin error: " + e.What + ": " + plainMessage(e.Err) }

// Unwrap returns the underlying error.
func (e *PluginError) Unwrap() error { return e.Err }

// plainMessage is err's text without gRPC's "rpc error: code = … desc ="
// prefix, which says nothing to a user.
func plainMessage(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

// event appends a timestamped line to the journal and the events panel.
func (u *run) event(kind, msg string) {
	e := Event{At: time.Now(), Kind: kind, Message: msg}
	u.j.Events = append(u.j.Events, journal.Event{At: e.At, Kind: kind, Message: msg})
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

// completeJournal fills in chapters, open violation spans and the result.
func (u *run) completeJournal() {
	u.j.FinishedAt = time.Now()
	u.j.Chapters = make([]journal.Chapter, len(u.chapters))
	allPassed := true
	for i, c := range u.chapters {
		u.j.Chapters[i] = c.journal(i)
		if u.j.Chapters[i].Status != journal.Passed {
			allPassed = false
		}
	}
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
