package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/demohost/demohost/host/expect"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/sdk"
)

// Chapter statuses besides the journal's final ones.
const statusRunning = "running"

// maxStatusLines bounds a chapter's on-enter status lines.
const maxStatusLines = 50

// chapterRun is one chapter's progress. A chapter is entered at most once;
// Prev only shows its stored state again.
type chapterRun struct {
	ch             *sdk.Chapter
	status         string // "", running, passed, failed, skipped
	entered, left  bool
	startedAt      time.Time
	finishedAt     time.Time
	countdownUntil time.Time // zero: no countdown running
	actionRunning  bool
	dwelling       bool // headless: waiting out Dwell
	lines          []string
	exps           []*expectationRun
	err            string // the chapter failed outside its expectations
}

// expectationRun is one expectation's progress.
type expectationRun struct {
	exp      *sdk.Expectation
	desc     string
	state    ExpectationState
	armedAt  time.Time // zero until its clock starts (after the chaos)
	deadline time.Time
	metAt    time.Time
	reason   string // what the latest snapshot showed
}

func newChapterRun(c *sdk.Chapter) *chapterRun {
	cr := &chapterRun{ch: c}
	for _, e := range c.GetExpectations() {
		cr.exps = append(cr.exps, &expectationRun{exp: e, desc: expect.Describe(e)})
	}
	return cr
}

// busy reports whether the countdown or the on-enter action still runs.
func (c *chapterRun) busy() bool { return !c.countdownUntil.IsZero() || c.actionRunning }

// resolved reports whether every expectation is met or timed out.
func (c *chapterRun) resolved() bool {
	for _, e := range c.exps {
		if e.state == Pending {
			return false
		}
	}
	return true
}

// finalStatus is passed if every expectation was met, failed if one timed
// out (or the chapter failed otherwise), skipped if one is still pending.
func (c *chapterRun) finalStatus() string {
	if !c.entered {
		return journal.Skipped
	}
	status := journal.Passed
	for _, e := range c.exps {
		switch e.state {
		case TimedOut:
			return journal.Failed
		case Pending:
			status = journal.Skipped
		}
	}
	if c.err != "" {
		return journal.Failed
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
	if c.ch.GetBlocksAdvance() && c.busy() {
		if !c.countdownUntil.IsZero() {
			left := (time.Until(c.countdownUntil) + time.Second - 1).Truncate(time.Second)
			u.setNotice(fmt.Sprintf("wait: chaos countdown %s", expect.FormatDuration(left)))
		} else {
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

// enter starts chapter i: revert (if asked), countdown and chaos, then the
// on-enter action; expectations start their clocks with the chaos.
func (u *run) enter(i int) {
	c := u.chapters[i]
	following := u.view == u.frontier
	u.frontier = i
	if following {
		u.view = i
	}
	c.entered, c.status, c.startedAt = true, statusRunning, time.Now()
	u.event(journal.KindChapter, fmt.Sprintf("chapter %d/%d: %s", i+1, len(u.chapters), c.ch.GetTitle()))
	if c.ch.GetRevertChaos() {
		u.revertAll(revertedByChapter)
	}
	if c.ch.GetChaos() == nil {
		u.startChapter(i, time.Now())
		return
	}
	if d := c.ch.GetChaosCountdown().AsDuration(); d > 0 {
		c.countdownUntil = time.Now().Add(d)
		u.event(journal.KindChaos, fmt.Sprintf("%s in %s", chaosName(c.ch.GetChaos()), expect.FormatDuration(d)))
		u.tick(i)
		return
	}
	u.injectAndStart(i)
}

// tick wakes the countdown at each whole second left, and injects at zero.
func (u *run) tick(i int) {
	c := u.chapters[i]
	left := time.Until(c.countdownUntil)
	if left <= 0 {
		c.countdownUntil = time.Time{}
		u.injectAndStart(i)
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

// injectAndStart injects chapter i's chaos, then starts the chapter.
func (u *run) injectAndStart(i int) {
	c := u.chapters[i]
	at, err := u.inject(i, c.ch.GetChaos())
	if err != nil {
		if u.ctx.Err() != nil {
			return // quitting; the loop stops next
		}
		c.err = "inject chaos: " + err.Error()
		u.pluginFailed("inject chaos "+chaosName(c.ch.GetChaos()), err)
	}
	u.startChapter(i, at)
}

// startChapter starts the expectations' clocks at from and the on-enter action.
func (u *run) startChapter(i int, from time.Time) {
	c := u.chapters[i]
	for k, e := range c.exps {
		within := e.exp.GetWithin().AsDuration()
		e.armedAt, e.deadline = from, from.Add(within)
		u.after(time.Until(e.deadline), func(u *run) { u.expire(i, k) })
	}
	if !c.ch.GetHasAction() {
		u.maybeAdvance(i)
		return
	}
	ctx, cancel := context.WithCancel(u.ctx)
	u.actionCancel = cancel
	c.actionRunning = true
	subject := u.subject
	go func() {
		err := subject.EnterChapter(ctx, i, func(ev *sdk.ChapterEvent) {
			u.r.send(func(u *run) { u.actionStatus(i, ev.GetMessage()) })
		})
		u.r.send(func(u *run) { u.actionEnded(i, err, ctx.Err() != nil) })
	}()
}

func (u *run) actionStatus(i int, msg string) {
	c := u.chapters[i]
	c.lines = append(c.lines, msg)
	if len(c.lines) > maxStatusLines {
		c.lines = append([]string(nil), c.lines[len(c.lines)-maxStatusLines:]...)
	}
	u.event(journal.KindStatus, msg)
}

func (u *run) actionEnded(i int, err error, cancelled bool) {
	c := u.chapters[i]
	c.actionRunning = false
	if err != nil && !cancelled {
		c.err = "on-enter action: " + err.Error()
		u.pluginFailed(fmt.Sprintf("chapter %d action", i+1), err)
	}
	u.maybeAdvance(i)
}

// expire times out expectation k of chapter i if it is still pending.
func (u *run) expire(i, k int) {
	c := u.chapters[i]
	e := c.exps[k]
	if c.left || e.state != Pending {
		return
	}
	e.state = TimedOut
	if e.reason == "" {
		e.reason = "no health snapshot since the chapter started"
	}
	e.reason = "timed out; last seen: " + e.reason
	u.event(journal.KindExpect, "timed out: "+e.desc+" ("+e.reason+")")
	u.maybeAdvance(i)
}

// evaluate checks the newest chapter's pending expectations against snap.
func (u *run) evaluate(snap *sdk.HealthSnapshot, now time.Time) {
	if u.frontier < 0 {
		return
	}
	i := u.frontier
	c := u.chapters[i]
	if c.left {
		return
	}
	takenAt := now
	if snap.GetTakenAt() != nil {
		takenAt = snap.GetTakenAt().AsTime()
	}
	for _, e := range c.exps {
		// Only snapshots taken after the clock started count: an older one
		// may predate the chaos.
		if e.state != Pending || e.armedAt.IsZero() || takenAt.Before(e.armedAt) {
			continue
		}
		met, reason := expect.Evaluate(e.exp, snap)
		e.reason = reason
		if met {
			e.state, e.metAt = Met, now
			u.event(journal.KindExpect, "met: "+e.desc+" ("+reason+")")
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
	if c.ch.GetAutoAdvance() && c.resolved() {
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
	c.countdownUntil = time.Time{}
	c.finishedAt = time.Now()
	c.status = c.finalStatus()
	msg := fmt.Sprintf("chapter %d %s: %s", i+1, c.status, c.ch.GetTitle())
	if c.err != "" {
		msg += " (" + c.err + ")"
	}
	u.event(journal.KindChapter, msg)
}

// journal is the chapter's outcome for the report.
func (c *chapterRun) journal(i int) journal.Chapter {
	out := journal.Chapter{
		Index:        i,
		Title:        c.ch.GetTitle(),
		Status:       c.finalStatus(),
		Expectations: []journal.Expectation{},
		Error:        c.err,
	}
	if c.left {
		out.Status = c.status
	}
	if c.entered {
		out.StartedAt = timePtr(c.startedAt)
	}
	if !c.finishedAt.IsZero() {
		out.FinishedAt = timePtr(c.finishedAt)
	}
	for _, e := range c.exps {
		je := journal.Expectation{Description: e.desc, Met: e.state == Met, Deadline: e.deadline}
		switch {
		case e.state == Met:
			je.MetAt = timePtr(e.metAt)
		case !c.entered:
			je.Reason = "chapter not reached"
		case e.state == Pending && e.armedAt.IsZero():
			je.Reason = "not checked: the chaos was never injected"
		case e.state == Pending:
			je.Reason = "still pending when the chapter ended; last seen: " + orNone(e.reason)
		default:
			je.Reason = e.reason
		}
		out.Expectations = append(out.Expectations, je)
	}
	return out
}

func timePtr(t time.Time) *time.Time { return &t }

func orNone(s string) string {
	if s == "" {
		return "no health snapshot"
	}
	return s
}
