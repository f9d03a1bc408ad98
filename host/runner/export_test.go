package runner

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/subject"
)

// Reread is j written as --report writes it and read back.
func Reread(t *testing.T, j *journal.Journal) *journal.Journal {
	t.Helper()
	var b bytes.Buffer
	if err := j.Encode(&b); err != nil {
		t.Fatal(err)
	}
	var back journal.Journal
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("the journal does not read back: %v", err)
	}
	return &back
}

// Canon is s with every time in UTC and without its monotonic reading,
// every empty list nil, and NaN (not equal to itself) as -MaxFloat64: two Snapshots that hold the same state are
// then reflect.DeepEqual, wherever their times were read from.
func Canon(s Snapshot) Snapshot {
	s.StartedAt = utc(s.StartedAt)
	s.Chapters = orNil(s.Chapters)
	if s.Current != nil {
		v := *s.Current
		v.CountdownUntil = utc(v.CountdownUntil)
		v.Status = orNil(v.Status)
		v.Expectations = orNil(append([]ExpectationView(nil), v.Expectations...))
		for i := range v.Expectations {
			e := &v.Expectations[i]
			e.Deadline, e.MetAt, e.BrokenAt = utc(e.Deadline), utc(e.MetAt), utc(e.BrokenAt)
		}
		s.Current = &v
	}
	s.Chaos = orNil(append([]ActiveChaos(nil), s.Chaos...))
	for i := range s.Chaos {
		s.Chaos[i].InjectedAt, s.Chaos[i].Until = utc(s.Chaos[i].InjectedAt), utc(s.Chaos[i].Until)
	}
	s.Health = canonHealth(s.Health)
	var recent []*subject.Health
	for _, h := range s.Recent {
		recent = append(recent, canonHealth(h))
	}
	s.Recent = recent
	s.Events = orNil(append([]Event(nil), s.Events...))
	for i := range s.Events {
		s.Events[i].At = utc(s.Events[i].At)
	}
	return s
}

func canonHealth(h *subject.Health) *subject.Health {
	if h == nil {
		return nil
	}
	c := *h
	c.TakenAt = utc(c.TakenAt)
	c.Nodes, c.Counters = orNil(c.Nodes), orNil(c.Counters)
	c.Metrics = orNil(append([]subject.Metric(nil), c.Metrics...))
	for i := range c.Metrics {
		if math.IsNaN(c.Metrics[i].Value) { // not equal to itself
			c.Metrics[i].Value = -math.MaxFloat64
		}
	}
	c.Violations = orNil(append([]subject.Violation(nil), c.Violations...))
	for i := range c.Violations {
		c.Violations[i].Since = utc(c.Violations[i].Since)
	}
	return &c
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}

func orNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
