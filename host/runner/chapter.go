package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/demohost/demohost/host/expect"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/ledger"
	"github.com/demohost/demohost/host/subject"
)

// Chapter statuses besides the journal's final ones.
const statusRunning = "running"

// maxStatusLines bounds a chapter's on-enter status lines.
const maxStatusLines = 50

// chapterRun is one chapter's progress. A chapter is entered at most once;
// Prev only shows its stored state again.
type chapterRun struct {
	index          int
	ch             subject.Chapter
	status         string // "", running, passed, failed, skipped
	entered, left  bool
	startedAt      time.Time
	finishedAt     time.Time
	countdownUntil time.Time // zero: no countdown running
	// steadyWait: the countdown is over and the injection waits for the
	// chapter's before expectations.
	steadyWait    bool
	actionRunning bool
	dwelling      bool // headless: waiting out Dwell
	hit           string // the target the chapter's fault hit
	lines         []StatusLine
	exps          []*expectationRun
	err           string // the chapter failed outside its expectations
	// carried: the chapter was left while a hold lasting as long as its
	// fault was still holding; it settles when the fault is reverted.
	carried bool
}

func newChapterRun(i int, c subject.Chapter) *chapterRun {
	cr := &chapterRun{index: i, ch: c}
	for _, e := range c.Expectations {
		cr.exps = append(cr.exps, &expectationRun{exp: e, desc: expect.Describe(e)})
	}
	return cr
}

// busy reports whether the countdown, the wait for the steady state or the
// on-enter action still runs.
func (c *chapterRun) busy() bool {
	return !c.countdownUntil.IsZero() || c.steadyWait || c.actionRunning
}

// resolved reports whether every expectation has an outcome, but for holds
// that last while a fault with no duration is active: those go on after the
// chapter is left, until a revert_chaos chapter (or the end) reverts it.
func (c *chapterRun) resolved() bool {
	for _, e := range c.exps {
		if e.state == Pending && !c.outlasts(e) {
			return false
		}
	}
	return true
}

// outlasts reports whether e holds for as long as the chapter's fault,
// which has no duration and was injected: it may outlast the chapter.
func (c *chapterRun) outlasts(e *expectationRun) bool {
	return e.exp.WhileFault && c.ch.Fault != nil && c.ch.Fault.Duration == 0 && !e.armedAt.IsZero()
}

// fail marks the chapter failed for a reason outside its expectations (the
// first reason is kept).
func (c *chapterRun) fail(why string) {
	if c.err == "" {
		c.err = why
	}
}

// finalStatus is passed if every expectation was met, failed if one failed
// (or the chapter failed otherwise), skipped if one is still pending.
func (c *chapterRun) finalStatus() string {
	if !c.entered || c.ch.Skip != "" {
		return journal.Skipped
	}
	if c.err != "" {
		return journal.Failed
	}
	status := journal.Passed
	for _, e := range c.exps {
		switch e.state {
		case TimedOut, Broken:
			return journal.Failed
		case Pending, NotChecked:
			status = journal.Skipped
		}
	}
	return status
}

// next handles the Next command.
func (u *run) next() {
	if u.phase != PhaseRunning || u.frontier < 0 {
		return
	}
	if u.view < u.frontier {
		u.view++
		u.notice = ""
		return
	}
	c := u.chapters[u.frontier]
	if c.ch.BlocksAdvance && c.busy() {
		switch {
		case !c.countdownUntil.IsZero():
			left := (time.Until(c.countdownUntil) + time.Second - 1).Truncate(time.Second)
			u.setNotice(fmt.Sprintf("wait: chaos countdown %s", expect.FormatDuration(left)))
		case c.steadyWait:
			u.setNotice("wait: the steady state comes before the fault")
		default:
			u.setNotice("wait: action still running")
		}
		return
	}
	if u.frontier == len(u.chapters)-1 {
		u.setNotice("last chapter — press q to quit")
		return
	}
	u.notice = ""
	u.advance()
}

// prev handles the Prev command.
func (u *run) prev() {
	if u.view > 0 {
		u.view--
		u.notice = ""
	}
}

// advance leaves the newest chapter and enters the one after it; after the
// last one the run is over.
func (u *run) advance() {
	u.leave(u.frontier)
	if u.frontier == len(u.chapters)-1 {
		u.finish(false)
		return
	}
	u.enter(u.frontier + 1)
}

// enter starts chapter i: revert (if asked), the steady-state checks and
// the countdown, the fault, then the on-enter action; the expectations'
// clocks start as their modes say.
func (u *run) enter(i int) {
	c := u.chapters[i]
	following := u.view == u.frontier
	u.frontier = i
	if following {
		u.view = i
	}
	c.entered, c.status, c.startedAt = true, statusRunning, time.Now()
	u.event(journal.KindChapter, fmt.Sprintf("chapter %d/%d: %s", i+1, len(u.chapters), c.ch.Title))
	if c.ch.Skip != "" {
		u.skip(i)
		return
	}
	if c.ch.RevertChaos {
		u.revertAll(ledger.ByChapter)
		u.arm(c, subject.After, time.Now())
	}
	u.arm(c, subject.Before, time.Now())
	if c.ch.Fault == nil {
		u.startChapter(i, time.Now())
		return
	}
	if d := c.ch.Countdown; d > 0 {
		c.countdownUntil = time.Now().Add(d)
		u.event(journal.KindChaos, fmt.Sprintf("%s in %s", c.ch.Fault.Label(), expect.FormatDuration(d)))
		u.tick(i)
		return
	}
	u.countdownOver(i)
}

// skip shows chapter i as skipped for the plugin's reason: nothing of it
// runs, and headless runs move on after the dwell.
func (u *run) skip(i int) {
	c := u.chapters[i]
	u.eventSev(journal.KindChapter, subject.Warning, fmt.Sprintf("chapter %d skipped: %s", i+1, c.ch.Skip))
	for _, e := range c.exps {
		e.state, e.reason = NotChecked, "not checked: the chapter is skipped ("+c.ch.Skip+")"
	}
	u.maybeAdvance(i)
}

// tick wakes the countdown at each whole second left.
func (u *run) tick(i int) {
	c := u.chapters[i]
	left := time.Until(c.countdownUntil)
	if left <= 0 {
		c.countdownUntil = time.Time{}
		u.countdownOver(i)
		return
	}
	wait := left % time.Second
	if wait == 0 {
		wait = time.Second
	}
	u.after(wait, func(u *run) {
		if !c.left && !c.countdownUntil.IsZero() {
			u.tick(i)
		}
	})
}

// countdownOver injects chapter i's fault once its before expectations are
// met, waiting for them if need be.
func (u *run) countdownOver(i int) {
	c := u.chapters[i]
	if c.pending(subject.Before) {
		c.steadyWait = true
		u.event(journal.KindChaos, c.ch.Fault.Label()+" waits for the steady state")
		return
	}
	u.injectAndStart(i)
}

// injectAndStart injects chapter i's fault, then starts the chapter. A
// failed injection fails the chapter only, unless it is fatal.
func (u *run) injectAndStart(i int) {
	c := u.chapters[i]
	c.steadyWait = false
	at, hit, err := u.inject(i, *c.ch.Fault)
	if err != nil {
		if u.ctx.Err() != nil {
			return // quitting; the loop stops next
		}
		what := "inject " + faultLabel(*c.ch.Fault)
		c.fail(what + " failed: " + err.Error())
		if fatal(err) {
			u.pluginFailed(what, err)
		} else {
			u.eventSev(journal.KindError, subject.Critical, fmt.Sprintf("chapter %d: %s failed: %s", i+1, what, err))
		}
		u.skipChecks(c, "not checked: the fault was not injected")
		u.maybeAdvance(i)
		return
	}
	c.hit = hit
	u.startChapter(i, at)
}

// skipFault gives up chapter i's fault: a before expectation failed, so the
// steady state the fault needs was never seen.
func (u *run) skipFault(i int, why string) {
	c := u.chapters[i]
	c.countdownUntil, c.steadyWait = time.Time{}, false
	c.fail("fault not injected: " + why)
	u.eventSev(journal.KindChaos, subject.Warning, fmt.Sprintf("%s not injected: %s", c.ch.Fault.Label(), why))
	u.skipChecks(c, "not checked: the fault was not injected")
}

// startChapter starts the expectations that run from the fault (or the
// chapter's start) and the on-enter action.
func (u *run) startChapter(i int, from time.Time) {
	c := u.chapters[i]
	u.arm(c, subject.Eventually, from)
	u.arm(c, subject.Holds, from)
	if !c.ch.HasAction {
		u.maybeAdvance(i)
		return
	}
	ctx, cancel := context.WithCancel(u.ctx)
	u.actionCancel = cancel
	c.actionRunning = true
	plugin := u.plugin
	go func() {
		err := plugin.EnterChapter(ctx, c.ch.ID, func(l subject.Line) {
			u.r.send(func(u *run) { u.actionStatus(i, l) })
		})
		u.r.send(func(u *run) { u.actionEnded(i, err, ctx.Err() != nil) })
	}()
}

func (u *run) actionStatus(i int, l subject.Line) {
	c := u.chapters[i]
	c.lines = append(c.lines, StatusLine(l))
	if len(c.lines) > maxStatusLines {
		c.lines = append([]StatusLine(nil), c.lines[len(c.lines)-maxStatusLines:]...)
	}
	u.eventSev(journal.KindStatus, l.Severity, l.Message)
}

// actionEnded settles the on-enter action: an error fails the chapter and
// the run goes on, unless the error is fatal or the plugin is gone.
func (u *run) actionEnded(i int, err error, cancelled bool) {
	c := u.chapters[i]
	c.actionRunning = false
	if err != nil && !cancelled {
		c.fail("on-enter action failed: " + err.Error())
		if fatal(err) {
			u.pluginFailed(fmt.Sprintf("chapter %d action", i+1), err)
		} else {
			u.eventSev(journal.KindError, subject.Critical, fmt.Sprintf("chapter %d failed: its on-enter action: %s", i+1, err))
			if i == u.view {
				u.setNotice(fmt.Sprintf("chapter %d failed: %s", i+1, err))
			}
		}
	}
	u.maybeAdvance(i)
}

// maybeAdvance moves on from chapter i when it is done: headless once the
// countdown and action are over and every expectation is resolved (or after
// Dwell without expectations); auto_advance chapters once their action
// ended and their expectations are resolved.
func (u *run) maybeAdvance(i int) {
	c := u.chapters[i]
	if i != u.frontier || c.left || c.busy() || u.finished || u.phase != PhaseRunning {
		return
	}
	if c.ch.AutoAdvance && c.resolved() {
		u.advance()
		return
	}
	if !u.cfg.Headless {
		return
	}
	if len(c.exps) > 0 {
		if c.resolved() {
			u.advance()
		}
		return
	}
	if !c.dwelling {
		c.dwelling = true
		u.after(u.cfg.Dwell, func(u *run) {
			if i == u.frontier && !c.left && !u.finished {
				u.advance()
			}
		})
	}
}

// leave closes chapter i: its action stops and its status is settled.
func (u *run) leave(i int) {
	c := u.chapters[i]
	if c.left || !c.entered {
		return
	}
	if c.actionRunning && u.actionCancel != nil {
		u.actionCancel()
	}
	c.left = true
	c.countdownUntil, c.steadyWait = time.Time{}, false
	c.finishedAt = time.Now()
	for _, e := range c.exps {
		if e.state == Pending && c.outlasts(e) && u.faultActive(i) {
			c.carried = true
		}
	}
	if c.carried {
		c.status = statusRunning
		u.event(journal.KindChapter, fmt.Sprintf("chapter %d goes on holding while its fault is active: %s", i+1, c.ch.Title))
		return
	}
	u.settle(c)
}

// settle gives a left chapter its final status and says it.
func (u *run) settle(c *chapterRun) {
	c.carried = false
	c.status = c.finalStatus()
	msg := fmt.Sprintf("chapter %d %s: %s", c.index+1, c.status, c.ch.Title)
	if c.err != "" {
		msg += " (" + c.err + ")"
	}
	u.event(journal.KindChapter, msg)
}

// faultActive reports whether chapter i's fault is still active.
func (u *run) faultActive(i int) bool {
	for _, a := range u.active {
		if a.chapter == i {
			return true
		}
	}
	return false
}

// journal is the chapter's outcome for the report.
func (c *chapterRun) journal() journal.Chapter {
	out := journal.Chapter{
		Index:        c.index,
		Title:        c.ch.Title,
		Status:       c.finalStatus(),
		Expectations: []journal.Expectation{},
		Error:        c.err,
		SkipReason:   c.ch.Skip,
	}
	if c.left && !c.carried {
		out.Status = c.status
	}
	if c.entered {
		out.StartedAt = timePtr(c.startedAt)
	}
	if !c.finishedAt.IsZero() {
		out.FinishedAt = timePtr(c.finishedAt)
	}
	for _, e := range c.exps {
		out.Expectations = append(out.Expectations, e.journal(c.entered))
	}
	return out
}

func timePtr(t time.Time) *time.Time { return &t }
