package runner

import (
	"strconv"
	"time"

	"github.com/demohost/demohost/host/expect"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/subject"
)

// expectationRun is one expectation's progress. Its clock starts (armedAt)
// when its mode says: before expectations when the chapter is entered,
// eventually and holds ones at the injection (or the chapter's start), after
// ones at the revert.
type expectationRun struct {
	exp      subject.Expectation
	desc     string
	state    ExpectationState
	armedAt  time.Time // zero until its clock starts
	deadline time.Time // zero for a hold lasting while the fault is active
	metAt    time.Time
	brokenAt time.Time
	seen     int    // snapshots checked (holds)
	reason   string // what the latest snapshot showed, or why it failed
}

// arm starts the clocks of chapter c's pending expectations of mode m.
func (u *run) arm(c *chapterRun, m subject.Mode, from time.Time) {
	for k, e := range c.exps {
		if e.exp.Mode != m || e.state != Pending || !e.armedAt.IsZero() {
			continue
		}
		e.armedAt = from
		if e.exp.Check.Target == subject.FaultTarget && c.hit != "" {
			e.exp.Check.Target = c.hit
			e.desc = expect.Describe(e.exp)
		}
		if e.exp.WhileFault {
			continue // resolved when the chapter's fault is reverted
		}
		e.deadline = from.Add(e.exp.Within)
		i := c.index
		u.after(time.Until(e.deadline), func(u *run) { u.expire(i, k) })
	}
}

// pending reports whether an expectation of mode m is still pending.
func (c *chapterRun) pending(m subject.Mode) bool {
	for _, e := range c.exps {
		if e.exp.Mode == m && e.state == Pending {
			return true
		}
	}
	return false
}

// skipChecks marks every pending expectation that needed the fault as not
// checked, with why.
func (u *run) skipChecks(c *chapterRun, why string) {
	for _, e := range c.exps {
		if e.state == Pending && e.exp.Mode != subject.Before {
			e.state, e.reason = NotChecked, why
		}
	}
}

// expire settles expectation k of chapter i when its deadline passes: a
// hold that was never broken is met (if it saw a snapshot); anything else
// still pending timed out.
func (u *run) expire(i, k int) {
	c := u.chapters[i]
	e := c.exps[k]
	if c.left || e.state != Pending {
		return
	}
	if e.exp.Mode == subject.Holds {
		u.endHold(e, e.deadline)
	} else {
		e.state = TimedOut
		if e.reason == "" {
			e.reason = "no health snapshot since its clock started"
		}
		e.reason = "timed out; last seen: " + e.reason
		u.eventSev(journal.KindExpect, subject.Warning, "timed out: "+e.desc+" ("+e.reason+")")
	}
	if e.exp.Mode == subject.Before && (c.steadyWait || !c.countdownUntil.IsZero()) {
		// The fault was still waiting for the steady state: it never comes.
		u.skipFault(i, "the steady state was not seen: "+e.desc)
	}
	u.maybeAdvance(i)
}

// endHold settles a hold at the end of its window.
func (u *run) endHold(e *expectationRun, at time.Time) {
	if e.seen == 0 {
		e.state = TimedOut
		e.reason = "no health snapshot during its window"
		u.eventSev(journal.KindExpect, subject.Warning, "not checked: "+e.desc+" ("+e.reason+")")
		return
	}
	e.state, e.metAt = Met, at
	u.event(journal.KindExpect, "held: "+e.desc+" ("+plural(e.seen, "snapshot")+")")
}

// faultReverted settles what waited for fault a's revert at t: the holds
// that last while it is active (in its chapter, or carried on past it), and
// the after expectations of its chapter.
func (u *run) faultReverted(a activeFault, t time.Time) {
	c := u.chapters[a.chapter]
	if c.left && !c.carried {
		return
	}
	for _, e := range c.exps {
		if e.exp.WhileFault && e.state == Pending && !e.armedAt.IsZero() {
			u.endHold(e, t)
		}
	}
	if c.carried {
		u.settle(c)
		return
	}
	u.arm(c, subject.After, t)
	u.maybeAdvance(a.chapter)
}

// evaluate checks the armed expectations of the newest chapter, and of
// chapters left with a hold still going on, against h.
func (u *run) evaluate(h *subject.Health, now time.Time) {
	for _, c := range u.chapters {
		if c.carried {
			u.check(c, h, now)
			if c.resolved() && !c.pending(subject.Holds) {
				u.settle(c)
			}
		}
	}
	if u.frontier < 0 {
		return
	}
	i := u.frontier
	c := u.chapters[i]
	if c.left {
		return
	}
	u.check(c, h, now)
	if c.steadyWait && !c.pending(subject.Before) {
		u.injectAndStart(i)
	}
	u.maybeAdvance(i)
}

// check evaluates chapter c's armed, pending expectations against h.
func (u *run) check(c *chapterRun, h *subject.Health, now time.Time) {
	takenAt := h.TakenAt
	if takenAt.IsZero() {
		takenAt = now
	}
	for _, e := range c.exps {
		// Only snapshots taken after the clock started count: an older one
		// may predate the fault.
		if e.state != Pending || e.armedAt.IsZero() || takenAt.Before(e.armedAt) {
			continue
		}
		met, reason := expect.Evaluate(e.exp.Check, h)
		e.reason = reason
		switch {
		case e.exp.Mode == subject.Holds && !met:
			e.state, e.brokenAt = Broken, now
			e.reason = "broken at " + now.Format("15:04:05.000") + ": " + reason
			u.eventSev(journal.KindExpect, subject.Warning, "broken: "+e.desc+" ("+e.reason+")")
		case e.exp.Mode == subject.Holds:
			e.seen++
		case met:
			e.state, e.metAt = Met, now
			u.event(journal.KindExpect, "met: "+e.desc+" ("+reason+")")
		}
	}
}

// journal is the expectation's outcome for the report.
func (e *expectationRun) journal(entered bool) journal.Expectation {
	je := journal.Expectation{Description: e.desc, Mode: e.exp.Mode.String(), Met: e.state == Met, Deadline: e.deadline}
	if e.state == Met {
		je.MetAt = timePtr(e.metAt)
	}
	if e.state == Broken {
		je.BrokenAt = timePtr(e.brokenAt)
	}
	switch {
	case e.state == Met && e.exp.Mode != subject.Holds:
	case e.state == Met:
		je.Reason = "held in " + plural(e.seen, "snapshot")
	case !entered:
		je.Reason = "chapter not reached"
	case e.state == Pending && e.armedAt.IsZero():
		je.Reason = "not checked: its clock never started"
	case e.state == Pending:
		je.Reason = "still pending when the chapter ended; last seen: " + orNone(e.reason)
	default:
		je.Reason = e.reason
	}
	return je
}

func orNone(s string) string {
	if s == "" {
		return "no health snapshot"
	}
	return s
}

// plural is "1 snapshot", "2 snapshots".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
