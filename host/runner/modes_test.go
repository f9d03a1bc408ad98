package runner_test

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
)

// scripted is a plugin whose health the test sets: every set is pushed to
// the health stream at once (as a plugin that reports changes does), and
// the last one is repeated every interval.
type scripted struct {
	mu       sync.Mutex
	health   subject.Health
	changed  chan struct{}
	injected []time.Time
	reverted []time.Time
	action   error // what EnterChapter returns
}

func newScripted(h subject.Health) *scripted {
	return &scripted{health: h, changed: make(chan struct{})}
}

// set makes h the plugin's health and pushes it.
func (s *scripted) set(h subject.Health) {
	s.mu.Lock()
	s.health = h
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *scripted) Setup(context.Context, func(subject.Line)) error    { return nil }
func (s *scripted) Teardown(context.Context, func(subject.Line)) error { return nil }

func (s *scripted) EnterChapter(_ context.Context, _ string, status func(subject.Line)) error {
	status(subject.Line{Severity: subject.Warning, Message: "acting"})
	return s.action
}

func (s *scripted) InjectChaos(_ context.Context, f subject.Fault) (subject.Injected, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.injected = append(s.injected, time.Now())
	return subject.Injected{Handle: "h", Target: "node-1", Detail: "did " + f.Kind}, nil
}

func (s *scripted) RevertChaos(_ context.Context, r subject.Revert) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reverted = append(s.reverted, time.Now())
	return "undid " + r.Fault.Kind, nil
}

func (s *scripted) WatchHealth(ctx context.Context, interval time.Duration, each func(subject.Health)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.mu.Lock()
		h, changed := s.health, s.changed
		s.mu.Unlock()
		h.TakenAt = time.Now()
		each(h)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-changed:
		}
	}
}

func (s *scripted) times() (injected, reverted []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.injected...), append([]time.Time(nil), s.reverted...)
}

// Health states the tests switch between.
var (
	calm     = subject.Health{Nodes: []subject.Node{{ID: "node-1", State: subject.Up}}}
	troubled = subject.Health{
		Nodes:      []subject.Node{{ID: "node-1", State: subject.Degraded}},
		Violations: []subject.Violation{{Invariant: "lag", Target: "node-1", Message: "lag 900ms"}},
		Metrics:    []subject.Metric{{Name: "lag_ms", Value: 900, Unit: "ms"}},
	}
)

var modeDesc = subject.Description{Name: "modes", Faults: []subject.FaultKind{{Kind: "FREEZE"}}}

func noLag() subject.Check {
	return subject.Check{Kind: subject.CheckViolationAbsent, Invariant: "lag"}
}
func lagSeen() subject.Check {
	return subject.Check{Kind: subject.CheckViolationPresent, Invariant: "lag"}
}
func allUp() subject.Check { return subject.Check{Kind: subject.CheckAllNodes, State: subject.Up} }

// runModes runs chapters headless against p and returns the journal.
func runModes(t *testing.T, p subject.Plugin, chapters ...subject.Chapter) *journal.Journal {
	t.Helper()
	if err := subject.CheckChapters(modeDesc, chapters); err != nil {
		t.Fatalf("test chapters invalid: %v", err)
	}
	r := runner.New(runner.Config{
		Plugin: p, Description: modeDesc, Chapters: chapters, Headless: true,
		HealthInterval: 40 * time.Millisecond, Dwell: 10 * time.Millisecond,
		RPCTimeout: 5 * time.Second, SetupTimeout: 5 * time.Second,
	})
	j, err := started(t, context.Background(), r)()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return j
}

func expectation(t *testing.T, j *journal.Journal, chapter, k int) journal.Expectation {
	t.Helper()
	es := j.Chapters[chapter].Expectations
	if k >= len(es) {
		t.Fatalf("chapter %d has %d expectations: %+v", chapter, len(es), es)
	}
	return es[k]
}

// A hold is met only at the end of its window: a plugin whose health is
// fine at first and breaks later must fail it (an eventually expectation
// would have passed on the first snapshot).
func TestHoldsFailsAtTheFirstSnapshotThatBreaksIt(t *testing.T) {
	p := newScripted(calm)
	breakAt := time.AfterFunc(300*time.Millisecond, func() { p.set(troubled) })
	defer breakAt.Stop()
	j := runModes(t, p, subject.Chapter{ID: "1", Title: "steady writes",
		Expectations: []subject.Expectation{{Mode: subject.Holds, Check: noLag(), Within: 2 * time.Second}}})

	e := expectation(t, j, 0, 0)
	if e.Met || e.BrokenAt == nil {
		t.Fatalf("hold = %+v, want broken", e)
	}
	if e.Mode != "holds" || !strings.Contains(e.Reason, "lag on node-1 present: lag 900ms") {
		t.Errorf("hold reason = %q (mode %q), want the values that broke it", e.Reason, e.Mode)
	}
	if j.Chapters[0].Status != journal.Failed || j.Result != journal.Failed {
		t.Errorf("chapter %s, result %s; want both failed", j.Chapters[0].Status, j.Result)
	}
	// It failed at once, not at the end of its 2s window.
	if took := j.Chapters[0].FinishedAt.Sub(*j.Chapters[0].StartedAt); took > 1500*time.Millisecond {
		t.Errorf("the chapter took %s: a broken hold should end it at the breaking snapshot", took)
	}
}

func TestHoldsIsMetOnlyWhenItsWindowEnds(t *testing.T) {
	p := newScripted(calm)
	const window = 400 * time.Millisecond
	j := runModes(t, p, subject.Chapter{ID: "1", Title: "steady",
		Expectations: []subject.Expectation{{Mode: subject.Holds, Check: allUp(), Within: window}}})
	e := expectation(t, j, 0, 0)
	if !e.Met || e.MetAt == nil {
		t.Fatalf("hold = %+v, want met", e)
	}
	if held := e.MetAt.Sub(*j.Chapters[0].StartedAt); held < window {
		t.Errorf("met after %s, before its %s window ended", held, window)
	}
	if !strings.Contains(e.Reason, "snapshots") {
		t.Errorf("reason %q does not say how many snapshots it held in", e.Reason)
	}
}

func TestHoldsWhileFaultLastsUntilTheRevert(t *testing.T) {
	p := newScripted(calm)
	j := runModes(t, p, subject.Chapter{ID: "1", Title: "freeze a follower",
		Fault:        &subject.Fault{Kind: "FREEZE", Duration: 400 * time.Millisecond},
		Expectations: []subject.Expectation{{Mode: subject.Holds, Check: noLag(), WhileFault: true}}})
	e := expectation(t, j, 0, 0)
	injected, reverted := p.times()
	if !e.Met || len(injected) != 1 || len(reverted) != 1 {
		t.Fatalf("hold = %+v, injected %v, reverted %v; want met, one fault", e, injected, reverted)
	}
	if e.MetAt.Before(reverted[0]) {
		t.Errorf("held until %v, before the revert at %v", e.MetAt, reverted[0])
	}

	// The same fault while the health breaks mid-way: broken.
	p = newScripted(calm)
	breakAt := time.AfterFunc(200*time.Millisecond, func() { p.set(troubled) })
	defer breakAt.Stop()
	j = runModes(t, p, subject.Chapter{ID: "1", Title: "freeze a follower",
		Fault:        &subject.Fault{Kind: "FREEZE", Duration: time.Second},
		Expectations: []subject.Expectation{{Mode: subject.Holds, Check: noLag(), WhileFault: true}}})
	if e := expectation(t, j, 0, 0); e.Met || e.BrokenAt == nil {
		t.Errorf("hold = %+v, want broken while the fault was active", e)
	}
}

// A before expectation holds the injection back until the steady state is
// seen.
func TestBeforeWaitsForTheSteadyStateThenInjects(t *testing.T) {
	p := newScripted(troubled)
	calmAt := time.Now().Add(300 * time.Millisecond)
	settle := time.AfterFunc(time.Until(calmAt), func() { p.set(calm) })
	defer settle.Stop()
	j := runModes(t, p, subject.Chapter{ID: "1", Title: "kill", Fault: &subject.Fault{Kind: "FREEZE"},
		Expectations: []subject.Expectation{
			{Mode: subject.Before, Check: allUp(), Within: 3 * time.Second},
			{Mode: subject.Eventually, Check: allUp(), Within: 3 * time.Second},
		}})
	injected, _ := p.times()
	if len(injected) != 1 {
		t.Fatalf("injected %d times, want once", len(injected))
	}
	if injected[0].Before(calmAt) {
		t.Errorf("injected at %v, before the steady state at %v", injected[0], calmAt)
	}
	if e := expectation(t, j, 0, 0); !e.Met || e.Mode != "before" {
		t.Errorf("before = %+v, want met", e)
	}
	if j.Chapters[0].Status != journal.Passed {
		t.Errorf("chapter %s: %+v", j.Chapters[0].Status, j.Chapters[0])
	}
}

func TestBeforeTimingOutSkipsTheFault(t *testing.T) {
	p := newScripted(troubled)
	j := runModes(t, p,
		subject.Chapter{ID: "1", Title: "kill", Fault: &subject.Fault{Kind: "FREEZE"},
			Expectations: []subject.Expectation{
				{Mode: subject.Before, Check: allUp(), Within: 300 * time.Millisecond},
				{Mode: subject.Eventually, Check: lagSeen(), Within: 3 * time.Second},
			}},
		subject.Chapter{ID: "2", Title: "next"})
	if injected, _ := p.times(); len(injected) != 0 {
		t.Fatalf("the fault was injected %d times although the steady state was never seen", len(injected))
	}
	c := j.Chapters[0]
	if c.Status != journal.Failed || !strings.Contains(c.Error, "fault not injected") {
		t.Errorf("chapter = %s %q, want failed: fault not injected", c.Status, c.Error)
	}
	if e := c.Expectations[1]; e.Met || !strings.Contains(e.Reason, "not checked") {
		t.Errorf("the eventually expectation = %+v, want not checked", e)
	}
	if j.Chapters[1].Status != journal.Passed {
		t.Errorf("the run did not go on: next chapter %s", j.Chapters[1].Status)
	}
	if len(j.Chaos) != 0 {
		t.Errorf("journal has faults %+v", j.Chaos)
	}
}

// An after expectation's clock starts at the revert: a snapshot that
// satisfied it earlier does not count.
func TestAfterCountsOnlySnapshotsAfterTheRevert(t *testing.T) {
	p := newScripted(calm)
	// The fault makes the lag appear; its revert (at 400ms) clears it 200ms later.
	inject := time.AfterFunc(50*time.Millisecond, func() { p.set(troubled) })
	defer inject.Stop()
	var clearedAt time.Time
	var mu sync.Mutex
	j := func() *journal.Journal {
		clear := time.AfterFunc(600*time.Millisecond, func() {
			mu.Lock()
			clearedAt = time.Now()
			mu.Unlock()
			p.set(calm)
		})
		defer clear.Stop()
		return runModes(t, p, subject.Chapter{ID: "1", Title: "freeze", Fault: &subject.Fault{Kind: "FREEZE", Duration: 400 * time.Millisecond},
			Expectations: []subject.Expectation{{Mode: subject.After, Check: noLag(), Within: 3 * time.Second}}})
	}()
	e := expectation(t, j, 0, 0)
	_, reverted := p.times()
	mu.Lock()
	defer mu.Unlock()
	if !e.Met || len(reverted) != 1 {
		t.Fatalf("after = %+v, reverts %v; want met after one revert", e, reverted)
	}
	if e.MetAt.Before(clearedAt) {
		t.Errorf("met at %v, before the lag cleared at %v (the revert was at %v)", e.MetAt, clearedAt, reverted[0])
	}
}

func TestAfterInARevertChapterTimesOutWhenRecoveryNeverComes(t *testing.T) {
	p := newScripted(calm)
	j := runModes(t, p,
		subject.Chapter{ID: "1", Title: "freeze", Fault: &subject.Fault{Kind: "FREEZE"},
			Expectations: []subject.Expectation{{Mode: subject.Eventually, Check: allUp(), Within: time.Second}}},
		subject.Chapter{ID: "2", Title: "heal", RevertChaos: true,
			Expectations: []subject.Expectation{{Mode: subject.After, Check: lagSeen(), Within: 300 * time.Millisecond}}})
	if _, reverted := p.times(); len(reverted) != 1 {
		t.Fatalf("reverted %d times, want once (by the revert chapter)", len(reverted))
	}
	e := expectation(t, j, 1, 0)
	if e.Met || !strings.Contains(e.Reason, "timed out") || e.Mode != "after" {
		t.Errorf("after = %+v, want timed out", e)
	}
	if j.Chaos[0].RevertedBy != "chapter" || j.Chaos[0].RevertDetail != "undid FREEZE" {
		t.Errorf("chaos = %+v, want reverted by the chapter with the plugin's line", j.Chaos[0])
	}
}

// A failing action fails its chapter only; a fatal one ends the run.
func TestFailingActionFailsItsChapterAndTheRunGoesOn(t *testing.T) {
	p := newScripted(calm)
	p.action = &subject.CallError{Message: "could not reach node-3"}
	j := runModes(t, p,
		subject.Chapter{ID: "1", Title: "act", HasAction: true},
		subject.Chapter{ID: "2", Title: "next", Expectations: []subject.Expectation{{Mode: subject.Eventually, Check: allUp(), Within: time.Second}}})
	if c := j.Chapters[0]; c.Status != journal.Failed || c.Error != "on-enter action failed: could not reach node-3" {
		t.Errorf("chapter 1 = %s %q, want failed with the plugin's words", c.Status, c.Error)
	}
	if j.Chapters[1].Status != journal.Passed || j.Result != journal.Failed {
		t.Errorf("chapter 2 %s, result %s; want passed, failed", j.Chapters[1].Status, j.Result)
	}
}

func TestFatalActionAbortsTheRun(t *testing.T) {
	p := newScripted(calm)
	p.action = &subject.CallError{Message: "the cluster is gone", Kind: subject.ErrFatal}
	r := runner.New(runner.Config{
		Plugin: p, Description: modeDesc, Headless: true, Dwell: 10 * time.Millisecond,
		Chapters: []subject.Chapter{{ID: "1", Title: "act", HasAction: true}, {ID: "2", Title: "never"}},
	})
	j, err := started(t, context.Background(), r)()
	var pe *runner.PluginError
	if !errors.As(err, &pe) || !errors.Is(err, subject.ErrFatal) {
		t.Fatalf("Run error = %v, want a fatal plugin error", err)
	}
	if j.Result != runner.ResultAborted || j.Chapters[1].StartedAt != nil {
		t.Errorf("result %s, chapter 2 started %v; want aborted before it", j.Result, j.Chapters[1].StartedAt)
	}
}

// A hold lasting while a fault with no duration is active goes on past its
// chapter until a revert_chaos chapter reverts the fault: a snapshot that
// breaks it in the meantime fails the chapter it belongs to.
func TestHoldWhileFaultOutlastsItsChapter(t *testing.T) {
	chapters := func() []subject.Chapter {
		return []subject.Chapter{
			{ID: "1", Title: "freeze a follower", Fault: &subject.Fault{Kind: "FREEZE"},
				Expectations: []subject.Expectation{{Mode: subject.Holds, Check: noLag(), WhileFault: true}}},
			{ID: "2", Title: "meanwhile", Expectations: []subject.Expectation{{Mode: subject.Holds, Check: allUp(), Within: 600 * time.Millisecond}}},
			{ID: "3", Title: "heal", RevertChaos: true},
		}
	}
	p := newScripted(calm)
	j := runModes(t, p, chapters()...)
	_, reverted := p.times()
	if len(reverted) != 1 {
		t.Fatalf("reverted %d times, want once", len(reverted))
	}
	e := expectation(t, j, 0, 0)
	if !e.Met || e.MetAt.Before(reverted[0]) || j.Chapters[0].Status != journal.Passed {
		t.Errorf("chapter 1 %s, hold %+v; want it held until the revert at %v", j.Chapters[0].Status, e, reverted[0])
	}

	// The lag appears while chapter 2 runs: chapter 1's hold breaks.
	p = newScripted(calm)
	lag := time.AfterFunc(300*time.Millisecond, func() { p.set(subject.Health{Nodes: calm.Nodes, Violations: troubled.Violations}) })
	defer lag.Stop()
	j = runModes(t, p, chapters()...)
	if e := expectation(t, j, 0, 0); e.Met || e.BrokenAt == nil || j.Chapters[0].Status != journal.Failed {
		t.Errorf("chapter 1 %s, hold %+v; want broken after the chapter was left", j.Chapters[0].Status, e)
	}
	if j.Chapters[1].Status != journal.Passed {
		t.Errorf("chapter 2 = %s, want passed (its own hold is about nodes)", j.Chapters[1].Status)
	}
}

// A chapter the plugin skips (it cannot run here) runs nothing, shows its
// reason, and does not fail a run whose other chapters pass.
func TestSkippedChapterRunsNothingAndTheRunPasses(t *testing.T) {
	p := newScripted(calm)
	j := runModes(t, p,
		subject.Chapter{ID: "1", Title: "calm", Expectations: []subject.Expectation{{Check: allUp(), Within: time.Second}}},
		subject.Chapter{ID: "2", Title: "partition", Skip: "needs root for network namespaces", HasAction: true,
			Fault:        &subject.Fault{Kind: "FREEZE"},
			Expectations: []subject.Expectation{{Check: lagSeen(), Within: time.Second}}},
		subject.Chapter{ID: "3", Title: "done"})
	if injected, _ := p.times(); len(injected) != 0 {
		t.Errorf("a skipped chapter injected %d faults", len(injected))
	}
	c := j.Chapters[1]
	if c.Status != journal.Skipped || c.SkipReason != "needs root for network namespaces" {
		t.Errorf("chapter 2 = %s (%q), want skipped with the plugin's reason", c.Status, c.SkipReason)
	}
	if e := c.Expectations[0]; e.Met || !strings.Contains(e.Reason, "the chapter is skipped") {
		t.Errorf("its expectation = %+v", e)
	}
	if j.Result != journal.Passed {
		t.Errorf("result = %s, want passed: only the plugin's skip kept chapter 2 from running", j.Result)
	}
}

// A check on "{fault.target}" is about whatever the fault hit.
func TestFaultTargetIsFilledInAtTheInjection(t *testing.T) {
	p := newScripted(calm) // its injections hit node-1
	breakAt := time.AfterFunc(100*time.Millisecond, func() {
		p.set(subject.Health{Nodes: []subject.Node{{ID: "node-1", State: subject.Down}, {ID: "node-2", State: subject.Up}}})
	})
	defer breakAt.Stop()
	j := runModes(t, p, subject.Chapter{ID: "1", Title: "kill", Fault: &subject.Fault{Kind: "FREEZE"},
		Expectations: []subject.Expectation{{Check: subject.Check{Kind: subject.CheckNode, Target: subject.FaultTarget, State: subject.Down}, Within: 3 * time.Second}}})
	e := expectation(t, j, 0, 0)
	if !e.Met || e.Description != "node node-1 DOWN within 3s" {
		t.Errorf("expectation = %+v, want met and described with the node the fault hit", e)
	}
}

// A plugin's NaN or infinite metric value never costs the report (JSON has
// no NaN): the sample is left out of the journal's series.
func TestNonFiniteMetricValuesKeepTheJournalWritable(t *testing.T) {
	h := calm
	h.Metrics = []subject.Metric{{Name: "ratio", Value: math.NaN()}, {Name: "rate", Value: math.Inf(1)}, {Name: "ok", Value: 1}}
	j := runModes(t, newScripted(h), subject.Chapter{ID: "1", Title: "calm",
		Expectations: []subject.Expectation{{Check: allUp(), Within: time.Second}}})
	if err := j.Encode(io.Discard); err != nil {
		t.Fatalf("the journal cannot be written: %v", err)
	}
	for _, m := range j.Metrics {
		if m.Name != "ok" {
			t.Errorf("series %q kept a value JSON cannot hold: %+v", m.Name, m.Points)
		}
	}
}

// Notes (faults an earlier run left) are among the events from the start,
// where the terminal UI shows them.
func TestNotesAreShownAmongTheEvents(t *testing.T) {
	r := runner.New(runner.Config{
		Plugin: newScripted(calm), Description: modeDesc, Headless: true, Dwell: 10 * time.Millisecond,
		Chapters: []subject.Chapter{{ID: "1", Title: "only"}},
		Notes:    []string{"an earlier run left faults unreverted: FREEZE on node-1"},
	})
	j, err := started(t, context.Background(), r)()
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Events) == 0 || j.Events[0].Message != "an earlier run left faults unreverted: FREEZE on node-1" || j.Events[0].Severity != "WARNING" {
		t.Errorf("first events = %+v, want the note as a warning", j.Events[:min(3, len(j.Events))])
	}
}
