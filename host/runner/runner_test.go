package runner_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
)

func TestHeadlessRunPassesEveryExampleChapter(t *testing.T) {
	l := launchExample(t, fastOptions)
	cfg, spy := l.config(true)
	log, logDir := attachLedger(t, &cfg)
	r := runner.New(cfg)
	snaps, _ := r.Subscribe()

	j, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(logDir, "*")); len(left) != 0 {
		t.Errorf("chaos log kept %v although every fault was reverted", left)
	}
	if !hasEvent(j, journal.KindSetup, "node-1 started") || !hasEvent(j, journal.KindTeardown, "node-1 stopped") {
		t.Errorf("setup/teardown progress missing from events: %+v", j.Events)
	}
	if j.Result != journal.Passed {
		t.Errorf("result = %q, want passed; chapters: %+v", j.Result, j.Chapters)
	}
	if j.Subject != "example" || j.SubjectVersion == "" {
		t.Errorf("subject = %q %q", j.Subject, j.SubjectVersion)
	}
	if len(j.Chapters) != len(l.chapters) {
		t.Fatalf("journal has %d chapters, want %d", len(j.Chapters), len(l.chapters))
	}
	for _, c := range j.Chapters {
		if c.Status != journal.Passed {
			t.Errorf("chapter %q: %s (%+v)", c.Title, c.Status, c.Expectations)
		}
		for _, e := range c.Expectations {
			if !e.Met || e.MetAt == nil || e.MetAt.After(e.Deadline) {
				t.Errorf("chapter %q: expectation %q not met in time: %+v", c.Title, e.Description, e)
			}
		}
	}
	if len(j.Chaos) != 1 {
		t.Fatalf("chaos entries = %d, want 1: %+v", len(j.Chaos), j.Chaos)
	}
	c := j.Chaos[0]
	if c.Type != "NODE_KILL" || c.Target != "node-2" || c.Params["count"] != "1" || c.Handle == "" || c.RevertedAt == nil || c.RevertedBy != "chapter" || c.RevertError != "" || c.RevertDetail != "started node-2 again" {
		t.Errorf("chaos entry = %+v, want NODE_KILL count=1 on node-2 reverted by the recovery chapter, with the plugin's line", c)
	}
	if len(j.ViolationsSeen) != 1 || j.ViolationsSeen[0].Invariant != "node_down" || j.ViolationsSeen[0].FirstSeen.Before(c.InjectedAt) {
		t.Errorf("violations seen = %+v, want node_down after the injection", j.ViolationsSeen)
	}
	if len(j.Violations) != 1 || j.Violations[0].Target != "node-2" || j.Violations[0].ClearedAt == nil {
		t.Errorf("violation spans = %+v, want node_down on node-2, cleared", j.Violations)
	}
	if !hasTransition(j, "node-2", "DOWN") || !hasTransition(j, "node-1", "UP") {
		t.Errorf("node transitions = %+v, want every node UP first and node-2 DOWN", j.Nodes)
	}
	if len(j.Metrics) == 0 || len(j.Events) == 0 || j.FinishedAt.Before(j.StartedAt) {
		t.Errorf("metrics %d, events %d, started %v finished %v", len(j.Metrics), len(j.Events), j.StartedAt, j.FinishedAt)
	}
	spy.assertAllUpBeforeTeardown(t)

	// The subscriber saw the run through to the end, then the channel closed.
	var last runner.Snapshot
	for s := range snaps {
		last = s
	}
	if last.Phase != runner.PhaseDone {
		t.Errorf("last snapshot phase = %d, want PhaseDone", last.Phase)
	}
}

func hasEvent(j *journal.Journal, kind, text string) bool {
	for _, e := range j.Events {
		if e.Kind == kind && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

func hasTransition(j *journal.Journal, node, state string) bool {
	for _, n := range j.Nodes {
		if n.Node == node && n.State == state {
			return true
		}
	}
	return false
}

func TestTimedOutExpectationFailsTheChapterAndTheRunGoesOn(t *testing.T) {
	opts := map[string]string{"countdown": "0s", "detect_after": "1h", "target": "node-2"}
	l := launchExample(t, opts)
	// node_down is never raised (detect_after 1h); give up on it quickly.
	kill := chapterWithChaos(t, l.chapters)
	kill.Expectations = []subject.Expectation{{Mode: subject.Eventually, Check: subject.Check{Kind: subject.CheckViolationPresent, Invariant: "node_down"}, Within: 300 * time.Millisecond}}
	cfg, spy := l.config(true)

	j, err := runner.New(cfg).Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if j.Result != journal.Failed {
		t.Errorf("result = %q, want failed", j.Result)
	}
	for _, c := range j.Chapters {
		want := journal.Passed
		if c.Title == kill.Title {
			want = journal.Failed
			e := c.Expectations[0]
			if e.Met || !strings.Contains(e.Reason, "timed out") || !strings.Contains(e.Reason, "no node_down") {
				t.Errorf("failed expectation = %+v, want a timeout reason naming node_down", e)
			}
		}
		if c.Status != want {
			t.Errorf("chapter %q = %s, want %s", c.Title, c.Status, want)
		}
	}
	spy.assertAllUpBeforeTeardown(t)
}

// chapterWithChaos returns the example's chapter that injects a fault.
func chapterWithChaos(t *testing.T, chapters []subject.Chapter) *subject.Chapter {
	t.Helper()
	for i := range chapters {
		if chapters[i].Fault != nil {
			return &chapters[i]
		}
	}
	t.Fatal("the example has no chaos chapter")
	return nil
}

// interactive starts an interactive run of the launched example.
func interactive(t *testing.T, l *launched, ctx context.Context) (*runner.Runner, *spy, <-chan runner.Snapshot, func() (*journal.Journal, error)) {
	t.Helper()
	cfg, spy := l.config(false)
	r := runner.New(cfg)
	snaps, _ := r.Subscribe()
	wait := started(t, ctx, r)
	waitSnapshot(t, snaps, 10*time.Second, "the first chapter passing", func(s runner.Snapshot) bool {
		return s.Phase == runner.PhaseRunning && s.Index == 0 && allMet(s.Current)
	})
	return r, spy, snaps, wait
}

func allMet(c *runner.ChapterView) bool {
	for _, e := range c.Expectations {
		if e.State != runner.Met {
			return false
		}
	}
	return true
}

// atChaos waits until the chaos chapter is shown with its fault active and
// the node it killed reported DOWN.
func atChaos(t *testing.T, snaps <-chan runner.Snapshot) runner.Snapshot {
	t.Helper()
	return waitSnapshot(t, snaps, 10*time.Second, "the kill chapter with node-2 DOWN", func(s runner.Snapshot) bool {
		return s.Index == 2 && len(s.Chaos) == 1 && nodeState(s, "node-2") == subject.Down
	})
}

func nodeState(s runner.Snapshot, id string) subject.NodeState {
	if s.Health == nil {
		return subject.Unknown
	}
	for _, n := range s.Health.Nodes {
		if n.ID == id {
			return n.State
		}
	}
	return subject.Unknown
}

func TestBlocksAdvanceRefusesWhileTheActionRunsThenAutoAdvances(t *testing.T) {
	l := launchExample(t, fastOptions)
	r, spy, snaps, wait := interactive(t, l, context.Background())

	r.Next()
	waitSnapshot(t, snaps, 5*time.Second, "the warm-up action running", func(s runner.Snapshot) bool {
		return s.Index == 1 && s.Current.ActionRunning
	})
	r.Next()
	s := waitSnapshot(t, snaps, 5*time.Second, "a refusal notice", func(s runner.Snapshot) bool { return s.Notice != "" })
	if s.Notice != "wait: action still running" || s.Index != 1 {
		t.Errorf("notice %q at chapter %d, want the action refusal at chapter 1", s.Notice, s.Index)
	}
	// auto_advance: once the action ends the runner moves on by itself.
	s = atChaos(t, snaps)
	if s.Chapters[1].Status != journal.Passed {
		t.Errorf("warm-up chapter = %q, want passed", s.Chapters[1].Status)
	}
	r.Quit()
	if _, err := wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if entered, _, _ := spy.calls(); len(entered) != 1 || entered[0] != "warm-up" {
		t.Errorf("EnterChapter calls = %v, want only the warm-up chapter's action", entered)
	}
}

func TestBlocksAdvanceRefusesDuringTheCountdown(t *testing.T) {
	l := launchExample(t, fastOptions)
	chapterWithChaos(t, l.chapters).Countdown = 3 * time.Second
	r, spy, snaps, wait := interactive(t, l, context.Background())

	r.Next()
	s := waitSnapshot(t, snaps, 10*time.Second, "the countdown", func(s runner.Snapshot) bool {
		return s.Index == 2 && !s.Current.CountdownUntil.IsZero()
	})
	if len(s.Chaos) != 0 {
		t.Errorf("chaos active during the countdown: %+v", s.Chaos)
	}
	r.Next()
	s = waitSnapshot(t, snaps, 5*time.Second, "a refusal notice", func(s runner.Snapshot) bool { return s.Notice != "" })
	if !strings.HasPrefix(s.Notice, "wait: chaos countdown ") || s.Index != 2 {
		t.Errorf("notice %q at chapter %d, want a countdown refusal at chapter 2", s.Notice, s.Index)
	}
	r.Quit()
	j, err := wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, injected, _ := spy.calls(); len(j.Chaos) != 0 || len(injected) != 0 {
		t.Errorf("quitting during the countdown injected chaos: %+v", j.Chaos)
	}
	if j.Result != runner.ResultAborted || j.Chapters[2].Status != journal.Skipped || j.Chapters[4].Status != journal.Skipped {
		t.Errorf("result %q, chapters %+v: want aborted with the rest skipped", j.Result, j.Chapters)
	}
}

func TestChaosIsRevertedAtTheEndOfItsDuration(t *testing.T) {
	l := launchExample(t, fastOptions)
	chapterWithChaos(t, l.chapters).Fault.Duration = 300 * time.Millisecond
	r, spy, snaps, wait := interactive(t, l, context.Background())

	r.Next()
	s := atChaos(t, snaps)
	if s.Chaos[0].Until.IsZero() {
		t.Error("active chaos has no end time although it has a duration")
	}
	waitSnapshot(t, snaps, 5*time.Second, "the fault reverted while still on its chapter", func(s runner.Snapshot) bool {
		return s.Index == 2 && len(s.Chaos) == 0 && nodeState(s, "node-2") == subject.Up
	})
	r.Quit()
	j, err := wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if c := j.Chaos[0]; c.RevertedBy != "duration" || c.RevertedAt == nil || c.RevertedAt.Sub(c.InjectedAt) < 300*time.Millisecond {
		t.Errorf("chaos = %+v, want reverted by duration after 300ms", c)
	}
	if _, _, reverted := spy.calls(); len(reverted) != 1 {
		t.Errorf("reverts = %v, want exactly one", reverted)
	}
}

func TestPrevShowsAChapterAgainAndNextReturnsWithoutRerunning(t *testing.T) {
	l := launchExample(t, fastOptions)
	r, spy, snaps, wait := interactive(t, l, context.Background())

	r.Next()
	atChaos(t, snaps)
	r.Prev()
	s := waitSnapshot(t, snaps, 5*time.Second, "chapter 2 shown again", func(s runner.Snapshot) bool { return s.Index == 1 })
	if s.Current.Title != l.chapters[1].Title || s.Current.ActionRunning || len(s.Current.Status) == 0 || s.Chapters[1].Status != journal.Passed {
		t.Errorf("previous chapter view = %+v, want its finished state with its status lines", s.Current)
	}
	r.Prev()
	waitSnapshot(t, snaps, 5*time.Second, "chapter 1 shown again", func(s runner.Snapshot) bool { return s.Index == 0 })
	r.Next()
	r.Next()
	s = waitSnapshot(t, snaps, 5*time.Second, "back at the kill chapter, node_down seen", func(s runner.Snapshot) bool {
		return s.Index == 2 && allMet(s.Current)
	})
	if len(s.Chaos) != 1 {
		t.Errorf("fault no longer active after Prev/Next: %+v", s.Chaos)
	}
	r.Next() // recovery: reverts the fault
	waitSnapshot(t, snaps, 10*time.Second, "recovery met", func(s runner.Snapshot) bool {
		return s.Index == 3 && len(s.Chaos) == 0 && allMet(s.Current)
	})
	r.Next()
	waitSnapshot(t, snaps, 5*time.Second, "the last chapter", func(s runner.Snapshot) bool { return s.Index == 4 })
	r.Next()
	s = waitSnapshot(t, snaps, 5*time.Second, "the last-chapter notice", func(s runner.Snapshot) bool { return s.Notice != "" })
	if s.Notice != "last chapter — press q to quit" || s.Index != 4 {
		t.Errorf("notice %q at %d", s.Notice, s.Index)
	}
	r.Quit()
	j, err := wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Quitting on the last chapter is the demo's normal end.
	if j.Result != journal.Passed {
		t.Errorf("result = %q, want passed; chapters %+v", j.Result, j.Chapters)
	}
	if entered, injected, _ := spy.calls(); len(entered) != 1 || len(injected) != 1 {
		t.Errorf("actions run %v, faults injected %v: want each once", entered, injected)
	}
	if j.Chaos[0].RevertedBy != "chapter" {
		t.Errorf("chaos = %+v, want reverted by the recovery chapter", j.Chaos[0])
	}
	spy.assertAllUpBeforeTeardown(t)
}

func TestQuitAndCancelDuringActiveChaosRevertIt(t *testing.T) {
	for _, tt := range []struct {
		name string
		stop func(r *runner.Runner, cancel context.CancelFunc)
	}{
		{"quit", func(r *runner.Runner, _ context.CancelFunc) { r.Quit() }},
		{"ctx cancel", func(_ *runner.Runner, cancel context.CancelFunc) { cancel() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := launchExample(t, fastOptions)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, spy, snaps, wait := interactive(t, l, ctx)
			r.Next()
			atChaos(t, snaps)

			tt.stop(r, cancel)
			j, err := wait()
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			assertRevertedOnExit(t, j)
			spy.assertAllUpBeforeTeardown(t)
		})
	}
}

func assertRevertedOnExit(t *testing.T, j *journal.Journal) {
	t.Helper()
	if len(j.Chaos) != 1 {
		t.Fatalf("chaos = %+v, want one entry", j.Chaos)
	}
	if c := j.Chaos[0]; c.RevertedBy != "exit" || c.RevertedAt == nil || c.RevertError != "" {
		t.Errorf("chaos = %+v, want reverted on exit", c)
	}
	if j.Result != runner.ResultAborted {
		t.Errorf("result = %q, want aborted", j.Result)
	}
	for _, c := range j.Chapters[3:] {
		if c.Status != journal.Skipped {
			t.Errorf("chapter %q = %s, want skipped", c.Title, c.Status)
		}
	}
}
