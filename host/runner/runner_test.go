package runner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/sdk"
)

func TestHeadlessRunPassesEveryExampleChapter(t *testing.T) {
	l := launchExample(t, fastOptions)
	cfg, spy := l.config(true)
	r := runner.New(cfg)
	snaps, _ := r.Subscribe()

	j, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
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
	if c.Type != "CONTAINER_KILL" || c.Target != "node-2" || c.Handle == "" || c.RevertedAt == nil || c.RevertedBy != "chapter" || c.RevertError != "" {
		t.Errorf("chaos entry = %+v, want CONTAINER_KILL on node-2 reverted by the recovery chapter", c)
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
	kill.Expectations = []*sdk.Expectation{sdk.ExpectViolation("node_down", 300*time.Millisecond)}
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

// chapterWithChaos returns the example's chaos chapter.
func chapterWithChaos(t *testing.T, chapters []*sdk.Chapter) *sdk.Chapter {
	t.Helper()
	for _, c := range chapters {
		if c.Chaos != nil {
			return c
		}
	}
	t.Fatal("the example has no chaos chapter")
	return nil
}
