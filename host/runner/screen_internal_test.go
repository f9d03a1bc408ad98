package runner

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/subject"
)

// Every kind of change a Snapshot can go through is recorded and rebuilt,
// through the journal as written to disk: status lines dropped from the
// front past maxStatusLines, notices and plugin errors set and cleared,
// a chapter left and shown again, faults injected and all reverted,
// health with nodes, metrics (NaN and infinities too), counters and
// violations changing, an error, a zero time, and more events than a
// Snapshot lists.
func TestScreenRecordRoundTripsEveryChange(t *testing.T) {
	start := time.Date(2026, 11, 27, 13, 0, 0, 0, time.Local)
	j := &journal.Journal{Subject: "example", SubjectVersion: "2.0.0", StartedAt: start}
	chapters := []*chapterRun{
		newChapterRun(0, subject.Chapter{Title: "one", Narration: "first", KeyHint: "q: quit", Skip: "needs namespaces"}),
		newChapterRun(1, subject.Chapter{Title: "two", BlocksAdvance: true, Expectations: []subject.Expectation{
			{Mode: subject.Eventually, Check: subject.Check{Kind: subject.CheckAllNodes, State: subject.Up}, Within: time.Second},
			{Mode: subject.Holds, Check: subject.Check{Kind: subject.CheckAllNodes, State: subject.Up}, Within: time.Second, WhileFault: true},
		}}),
	}
	rec := newScreenRecorder(j, chapters)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms+1) * time.Millisecond) }
	health := func(ms int, edit func(h *subject.Health)) *subject.Health {
		h := &subject.Health{TakenAt: at(ms).UTC(),
			Nodes:    []subject.Node{{ID: "n1", Name: "n1", State: subject.Up}, {ID: "n2", Name: "n2", Role: "leader", State: subject.Up}},
			Metrics:  []subject.Metric{{Name: "ops", Value: 1.5, Unit: "req/s", Kind: subject.MetricRate}, {Name: "total", Value: 10, Kind: subject.MetricCounter}},
			Counters: []subject.Counter{{Key: "tenant", Count: 3, Limit: 10}}}
		if edit != nil {
			edit(h)
		}
		return h
	}
	var published []Snapshot
	var recent []*subject.Health
	events := 0
	s := Snapshot{Subject: j.Subject, SubjectVersion: j.SubjectVersion, StartedAt: start, Index: -1, Chapters: make([]ChapterSummary, 2)}
	s.Chapters[0].Title, s.Chapters[1].Title = "one", "two"
	views := []*ChapterView{chapters[0].view(), chapters[1].view()}
	step := func(ms int, edit func()) {
		s.Chapters = append([]ChapterSummary(nil), s.Chapters...)
		s.Chaos = append([]ActiveChaos{}, s.Chaos...)
		edit()
		if s.Index >= 0 {
			s.Current = views[s.Index]
		}
		if len(recent) > 0 {
			s.Health, s.Recent = recent[len(recent)-1], recent[max(0, len(recent)-RecentHealth):]
		}
		for len(j.Events) < events {
			j.Events = append(j.Events, journal.Event{At: at(ms), Kind: journal.KindStatus, Message: fmt.Sprint("event ", len(j.Events))})
		}
		s.Events = nil
		for _, e := range j.Events[max(0, len(j.Events)-maxEvents):] {
			s.Events = append(s.Events, Event{At: e.At, Kind: e.Kind, Severity: subject.ParseSeverity(e.Severity), Message: e.Message})
		}
		rec.add(at(ms), s, len(j.Events))
		published = append(published, s)
	}
	edit := func(i int, f func(v *ChapterView)) {
		v := *views[i]
		v.Status = append([]StatusLine(nil), v.Status...)
		v.Expectations = append([]ExpectationView(nil), v.Expectations...)
		f(&v)
		views[i] = &v
	}
	step(0, func() {})
	step(10, func() { s.Phase, s.Index, s.Chapters[0].Status = PhaseRunning, 0, statusRunning; events = 3 })
	step(20, func() { recent = append(recent, health(20, nil)) })
	step(30, func() {
		recent = append(recent, health(30, func(h *subject.Health) {
			h.Metrics[0].Value, h.Metrics[1].Value = math.NaN(), math.Inf(1)
			h.Nodes[1].State, h.Nodes[1].Detail = subject.Down, "killed"
			h.Counters[0].Count = 11
			h.Violations = []subject.Violation{{Invariant: "node_down", Severity: subject.Critical, Target: "n2", Message: "down", Since: at(25)}}
		}))
		recent = append(recent, health(31, func(h *subject.Health) {
			h.TakenAt, h.Metrics[0].Value = time.Time{}, math.Inf(-1)
			h.Violations = []subject.Violation{{Invariant: "node_down", Severity: subject.Critical, Target: "n2", Message: "down", Since: at(25)}}
		}))
	})
	step(35, func() {
		recent = append(recent, health(35, func(h *subject.Health) {
			h.Nodes[1].State, h.Nodes[1].Address = subject.Paused, "10.0.0.2"
			h.Violations = []subject.Violation{{Invariant: "node_down", Severity: subject.Warning, Target: "n2", Message: "down for 2s", Since: at(26)}}
		}))
	})
	step(40, func() { s.Notice = "wait: action still running" })
	step(50, func() {
		s.Notice, s.Index, s.Chapters[0].Status, s.Chapters[1].Status = "", 1, journal.Passed, statusRunning
		s.Chaos = []ActiveChaos{{Kind: "NODE_KILL", Label: "kill (NODE_KILL)", Target: "n2", InjectedAt: at(50), Until: at(5050)}}
		edit(1, func(v *ChapterView) {
			v.CountdownUntil, v.ActionRunning = at(1050), true
			v.Expectations[0].Armed, v.Expectations[0].Deadline = true, at(1050)
			v.Expectations[0].Description = "the node we killed (n2) is DOWN" // the fault's target filled in
			v.Expectations[1].Armed = true
		})
	})
	for i := range maxStatusLines + 7 { // past the bound: the oldest lines go
		step(60+i, func() {
			edit(1, func(v *ChapterView) {
				v.Status = append(v.Status, StatusLine{Severity: subject.Severity(i % 3), Message: fmt.Sprint("line ", i)})
				if len(v.Status) > maxStatusLines {
					v.Status = v.Status[len(v.Status)-maxStatusLines:]
				}
			})
			events += 4
		})
	}
	step(200, func() { s.Index = 0 }) // shown again, unchanged
	step(210, func() {
		s.Index = 1
		edit(1, func(v *ChapterView) {
			v.CountdownUntil, v.ActionRunning, v.Error = time.Time{}, false, "on-enter action failed: boom"
			v.Expectations[0].State, v.Expectations[0].MetAt, v.Expectations[0].Reason = Met, at(205), "2/2 UP"
			v.Expectations[1].State, v.Expectations[1].BrokenAt, v.Expectations[1].Reason = Broken, at(206), "broken at 13:00:00.206: n2 DOWN"
		})
	})
	step(220, func() {
		s.Chaos, s.PluginError = nil, "plugin exited"
		recent = append(recent, health(220, func(h *subject.Health) {
			h.Nodes = nil
			h.Metrics = nil
			h.Error = "health stream: EOF"
			h.Note = "the host kept 2,000 of 2,500 nodes"
		}))
	})
	step(230, func() { s.PluginError, s.Phase, s.Chapters[1].Status = "", PhaseDone, journal.Failed })

	back := Reread(t, j)
	r, err := ReadRecording(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Frames) != len(published) {
		t.Fatalf("%d frames rebuilt from %d published snapshots (each one changed something)", len(r.Frames), len(published))
	}
	for i, p := range published {
		if got, want := Canon(r.Frames[i].Snapshot), Canon(p); !reflect.DeepEqual(got, want) {
			t.Fatalf("frame %d:\n got %+v\nwant %+v", i+1, got, want)
		}
		if ms := []int{0, 10, 20, 30, 35, 40, 50}; i < len(ms) && !r.Frames[i].At.Equal(at(ms[i])) {
			t.Errorf("frame %d at %v", i+1, r.Frames[i].At)
		}
	}
	if len(back.Screen.Health[3].Violation) != 1 || len(back.Screen.Health[3].Node) != 1 {
		t.Errorf("a violation's message and a node's state changed in place, yet the record holds %+v", back.Screen.Health[3])
	}
	if h := r.Frames[len(r.Frames)-1].Snapshot.Health; h == nil || !math.IsInf(r.Healths[2].Metrics[0].Value, -1) || !math.IsNaN(r.Healths[1].Metrics[0].Value) {
		t.Errorf("non-finite metric values did not survive: %+v", r.Healths)
	}
}

// A damaged screen record is an error that says so, never a panic.
func TestDamagedScreenRecordIsAnError(t *testing.T) {
	five := 5
	for name, s := range map[string]*journal.Screen{
		"chapter index":  {Version: 1, EventsShown: 200, Frames: []journal.Frame{{At: 1, Index: &five}}},
		"health count":   {Version: 1, EventsShown: 200, Frames: []journal.Frame{{At: 1, Health: 3}}},
		"events count":   {Version: 1, EventsShown: 200, Frames: []journal.Frame{{At: 1, Events: 3}}},
		"no frame":       {Version: 1, EventsShown: 200},
		"newer version":  {Version: journal.ScreenVersion + 1, EventsShown: 200},
		"unknown phase":  {Version: 1, EventsShown: 200, Frames: []journal.Frame{{At: 1, Phase: "dancing"}}},
		"node field":     {Version: 1, EventsShown: 200, Health: []journal.HealthRecord{{TakenAt: 1, Nodes: &[]journal.HealthNode{{ID: "a"}}}, {TakenAt: 2, Node: map[int]map[string]string{0: {"colour": "red"}}}}, Frames: []journal.Frame{{At: 1}}},
		"metric value":   {Version: 1, EventsShown: 200, Health: []journal.HealthRecord{{TakenAt: 1, Values: map[int]journal.Number{4: 1}}}, Frames: []journal.Frame{{At: 1}}},
		"other chapter":  {Version: 1, EventsShown: 200, Chapters: []journal.ScreenChapter{{Title: "a"}}, Frames: []journal.Frame{{At: 1, Chapter: &journal.ChapterChange{Index: 0}}}},
		"status dropped": {Version: 1, EventsShown: 200, Chapters: []journal.ScreenChapter{{Title: "a"}}, Frames: []journal.Frame{{At: 1, Index: new(int), Chapter: &journal.ChapterChange{StatusDropped: 2}}}},
	} {
		if _, err := ReadRecording(&journal.Journal{Screen: s}); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
	if _, err := ReadRecording(&journal.Journal{}); err != ErrNoScreen {
		t.Errorf("a journal without a screen record: %v, want ErrNoScreen", err)
	}
}

// Every field of a Snapshot is one the screen record writes and reads
// (screen.go): a field added to Snapshot, ChapterView, ExpectationView,
// ActiveChaos or Event without recording it would be lost to replays.
func TestScreenRecordKnowsEverySnapshotField(t *testing.T) {
	recorded := map[reflect.Type][]string{
		reflect.TypeFor[Snapshot]():          {"Subject", "SubjectVersion", "StartedAt", "Phase", "Index", "Chapters", "Current", "Chaos", "Health", "Recent", "Events", "Notice", "PluginError"},
		reflect.TypeFor[ChapterView]():       {"Title", "Narration", "KeyHint", "BlocksAdvance", "CountdownUntil", "SteadyWait", "ActionRunning", "Status", "Expectations", "Error", "Skip"},
		reflect.TypeFor[ExpectationView]():   {"Description", "Mode", "State", "Armed", "Deadline", "MetAt", "BrokenAt", "Reason"},
		reflect.TypeFor[ChapterSummary]():    {"Title", "Status"},
		reflect.TypeFor[ActiveChaos]():       {"Kind", "Label", "Target", "InjectedAt", "Until"},
		reflect.TypeFor[StatusLine]():        {"Severity", "Message"},
		reflect.TypeFor[Event]():             {"At", "Kind", "Severity", "Message"},
		reflect.TypeFor[subject.Health]():    {"TakenAt", "Nodes", "Metrics", "Counters", "Violations", "Error", "Note"},
		reflect.TypeFor[subject.Node]():      {"ID", "Name", "Role", "State", "Address", "Detail"},
		reflect.TypeFor[subject.Metric]():    {"Name", "Value", "Unit", "Kind"},
		reflect.TypeFor[subject.Counter]():   {"Key", "Count", "Limit"},
		reflect.TypeFor[subject.Violation](): {"Invariant", "Severity", "Target", "Message", "Since"},
	}
	for typ, fields := range recorded {
		var have []string
		for f := range typ.Fields() {
			have = append(have, f.Name)
		}
		if fmt.Sprint(have) != fmt.Sprint(fields) {
			t.Errorf("%s has fields %v; the screen record writes %v: record the new ones in host/runner/screen.go (and journal.Screen), then list them here", typ, have, fields)
		}
	}
}
