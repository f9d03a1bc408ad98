package runner

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/subject"
)

// This file writes the journal's screen record (journal.Screen) as the
// run publishes Snapshots, and reads it back into the same Snapshots for
// `demohost replay`. Writing and reading sit side by side so that they
// stay each other's inverse; screen_test.go checks that they do.

var phaseNames = []string{PhaseStarting: "starting", PhaseRunning: "running", PhaseStopping: "stopping", PhaseDone: "done"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase %d", int(p))
}

var stateNames = []string{Pending: "pending", Met: "met", TimedOut: "timed_out", Broken: "broken", NotChecked: "not_checked"}

func (s ExpectationState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state %d", int(s))
}

// screenRecorder writes each Snapshot the run publishes into the journal's
// screen record as what changed since the one before.
type screenRecorder struct {
	s     *journal.Screen
	start time.Time
	last  Snapshot       // the last recorded
	shown []*ChapterView // each chapter as last recorded
	// health is the last health recorded (lastH, by identity), of nHealth.
	health  subject.Health
	lastH   *subject.Health
	nHealth int
	nEvents int
}

// newScreenRecorder starts j's screen record for chapters, none entered.
func newScreenRecorder(j *journal.Journal, chapters []*chapterRun) *screenRecorder {
	s := &journal.Screen{Version: journal.ScreenVersion, EventsShown: maxEvents,
		Chapters: []journal.ScreenChapter{}, Health: []journal.HealthRecord{}, Frames: []journal.Frame{}}
	j.Screen = s
	r := &screenRecorder{s: s, start: j.StartedAt, last: Snapshot{Index: -1, Chapters: make([]ChapterSummary, len(chapters))}}
	for _, c := range chapters {
		v := c.view()
		sc := journal.ScreenChapter{Title: v.Title, Narration: v.Narration, KeyHint: v.KeyHint, BlocksAdvance: v.BlocksAdvance, Skip: v.Skip}
		for _, e := range v.Expectations {
			sc.Expectations = append(sc.Expectations, journal.ScreenExpectation{Description: e.Description, Mode: e.Mode.String()})
		}
		s.Chapters = append(s.Chapters, sc)
		r.shown = append(r.shown, v)
	}
	return r
}

// add records s, published at at, when the journal held events events.
func (r *screenRecorder) add(at time.Time, s Snapshot, events int) {
	f := journal.Frame{At: r.stamp(at)}
	changed := false
	if s.Phase != r.last.Phase {
		f.Phase, changed = s.Phase.String(), true
	}
	if s.Index != r.last.Index {
		f.Index, changed = ptr(s.Index), true
	}
	for i, c := range s.Chapters {
		if c.Status != r.last.Chapters[i].Status {
			if f.Statuses == nil {
				f.Statuses = map[int]string{}
			}
			f.Statuses[i], changed = c.Status, true
		}
	}
	if s.Current != nil && s.Index >= 0 && s.Index < len(r.shown) {
		if cc, ok := r.chapterChange(s.Index, r.shown[s.Index], s.Current); ok {
			f.Chapter, changed = &cc, true
		}
		r.shown[s.Index] = s.Current
	}
	if !slices.EqualFunc(s.Chaos, r.last.Chaos, sameChaos) {
		list := make([]journal.ActiveFault, 0, len(s.Chaos))
		for _, a := range s.Chaos {
			list = append(list, journal.ActiveFault{Kind: a.Kind, Label: a.Label, Target: a.Target,
				InjectedAt: r.stamp(a.InjectedAt), Until: r.stamp(a.Until)})
		}
		f.Chaos, changed = &list, true
	}
	if r.addHealth(s.Recent) {
		f.Health, changed = r.nHealth, true
	}
	if events != r.nEvents {
		r.nEvents = events
		f.Events, changed = events, true
	}
	if s.Notice != r.last.Notice {
		f.Notice, changed = ptr(s.Notice), true
	}
	if s.PluginError != r.last.PluginError {
		f.PluginError, changed = ptr(s.PluginError), true
	}
	r.last = s
	if changed || len(r.s.Frames) == 0 {
		r.s.Frames = append(r.s.Frames, f)
	}
}

func (r *screenRecorder) stamp(t time.Time) int64 { return journal.Stamp(r.start, t) }

func sameChaos(a, b ActiveChaos) bool {
	return a.Kind == b.Kind && a.Label == b.Label && a.Target == b.Target && a.InjectedAt.Equal(b.InjectedAt) && a.Until.Equal(b.Until)
}

// addHealth records the health snapshots of recent not yet recorded (those
// after the last one recorded); it reports whether there were any.
func (r *screenRecorder) addHealth(recent []*subject.Health) bool {
	news := HealthAfter(recent, r.lastH)
	for _, h := range news {
		r.s.Health = append(r.s.Health, r.healthRecord(&r.health, h))
		r.health, r.lastH = *h, h
		r.nHealth++
	}
	return len(news) > 0
}

// healthRecord is h as what changed since old.
func (r *screenRecorder) healthRecord(old, h *subject.Health) journal.HealthRecord {
	rec := journal.HealthRecord{TakenAt: r.stamp(h.TakenAt)}
	if !slices.EqualFunc(old.Nodes, h.Nodes, func(a, b subject.Node) bool { return a.ID == b.ID && a.Name == b.Name }) {
		list := make([]journal.HealthNode, 0, len(h.Nodes))
		for _, n := range h.Nodes {
			list = append(list, journal.HealthNode{ID: n.ID, Name: n.Name, Role: n.Role, State: n.State.String(), Address: n.Address, Detail: n.Detail})
		}
		rec.Nodes = &list
	} else {
		for i, n := range h.Nodes {
			if changed := nodeChange(old.Nodes[i], n); len(changed) > 0 {
				if rec.Node == nil {
					rec.Node = map[int]map[string]string{}
				}
				rec.Node[i] = changed
			}
		}
	}
	if !slices.EqualFunc(old.Metrics, h.Metrics, func(a, b subject.Metric) bool { return a.Name == b.Name && a.Unit == b.Unit && a.Kind == b.Kind }) {
		list := make([]journal.HealthMetric, 0, len(h.Metrics))
		for _, m := range h.Metrics {
			list = append(list, journal.HealthMetric{Name: m.Name, Value: journal.Number(m.Value), Unit: m.Unit, Kind: m.Kind.String()})
		}
		rec.Metrics = &list
	} else {
		for i, m := range h.Metrics {
			if math.Float64bits(m.Value) != math.Float64bits(old.Metrics[i].Value) {
				if rec.Values == nil {
					rec.Values = map[int]journal.Number{}
				}
				rec.Values[i] = journal.Number(m.Value)
			}
		}
	}
	if !slices.EqualFunc(old.Counters, h.Counters, func(a, b subject.Counter) bool { return a.Key == b.Key && a.Limit == b.Limit }) {
		list := make([]journal.HealthCounter, 0, len(h.Counters))
		for _, c := range h.Counters {
			list = append(list, journal.HealthCounter{Key: c.Key, Count: c.Count, Limit: c.Limit})
		}
		rec.Counters = &list
	} else {
		for i, c := range h.Counters {
			if c.Count != old.Counters[i].Count {
				if rec.Counts == nil {
					rec.Counts = map[int]int64{}
				}
				rec.Counts[i] = c.Count
			}
		}
	}
	if !slices.EqualFunc(old.Violations, h.Violations, func(a, b subject.Violation) bool { return a.Invariant == b.Invariant && a.Target == b.Target }) {
		list := make([]journal.HealthViolation, 0, len(h.Violations))
		for _, v := range h.Violations {
			list = append(list, journal.HealthViolation{Invariant: v.Invariant, Severity: severity(v.Severity), Target: v.Target,
				Message: v.Message, Since: r.stamp(v.Since)})
		}
		rec.Violations = &list
	} else {
		for i, v := range h.Violations {
			if vc, ok := r.violationChange(old.Violations[i], v); ok {
				if rec.Violation == nil {
					rec.Violation = map[int]journal.ViolationChange{}
				}
				rec.Violation[i] = vc
			}
		}
	}
	if h.Error != old.Error {
		rec.Error = ptr(h.Error)
	}
	if h.Note != old.Note {
		rec.Note = ptr(h.Note)
	}
	return rec
}

// nodeField is a node's field that may change in place, by its name in the
// screen record.
type nodeField struct {
	name string
	get  func(*subject.Node) string
	set  func(*subject.Node, string)
}

var nodeFields = []nodeField{
	{"role", func(n *subject.Node) string { return n.Role }, func(n *subject.Node, v string) { n.Role = v }},
	{"state", func(n *subject.Node) string { return n.State.String() }, func(n *subject.Node, v string) { n.State = subject.ParseNodeState(v) }},
	{"address", func(n *subject.Node) string { return n.Address }, func(n *subject.Node, v string) { n.Address = v }},
	{"detail", func(n *subject.Node) string { return n.Detail }, func(n *subject.Node, v string) { n.Detail = v }},
}

// nodeChange is the fields of n that differ from old, by name.
func nodeChange(old, n subject.Node) map[string]string {
	var m map[string]string
	for _, f := range nodeFields {
		if v := f.get(&n); v != f.get(&old) {
			if m == nil {
				m = map[string]string{}
			}
			m[f.name] = v
		}
	}
	return m
}

func (r *screenRecorder) violationChange(old, v subject.Violation) (journal.ViolationChange, bool) {
	var vc journal.ViolationChange
	changed := false
	if v.Severity != old.Severity {
		vc.Severity, changed = ptr(severity(v.Severity)), true
	}
	if v.Message != old.Message {
		vc.Message, changed = ptr(v.Message), true
	}
	if !v.Since.Equal(old.Since) {
		vc.Since, changed = ptr(r.stamp(v.Since)), true
	}
	return vc, changed
}

// severity is s as the journal writes it: "" for INFO.
func severity(s subject.Severity) string {
	if s == subject.Info {
		return ""
	}
	return s.String()
}

// chapterChange is how chapter i changed from old to v.
func (r *screenRecorder) chapterChange(i int, old, v *ChapterView) (journal.ChapterChange, bool) {
	cc := journal.ChapterChange{Index: i}
	changed := false
	if !v.CountdownUntil.Equal(old.CountdownUntil) {
		cc.CountdownUntil, changed = ptr(r.stamp(v.CountdownUntil)), true
	}
	if v.SteadyWait != old.SteadyWait {
		cc.SteadyWait, changed = ptr(v.SteadyWait), true
	}
	if v.ActionRunning != old.ActionRunning {
		cc.ActionRunning, changed = ptr(v.ActionRunning), true
	}
	if !slices.Equal(v.Status, old.Status) {
		// The lines are appended and, past maxStatusLines, dropped from the
		// front: find how many were dropped.
		drop := 0
		for drop < len(old.Status) && !isPrefix(old.Status[drop:], v.Status) {
			drop++
		}
		cc.StatusDropped = drop
		for _, l := range v.Status[len(old.Status)-drop:] {
			cc.StatusAdded = append(cc.StatusAdded, journal.StatusLine{Severity: severity(l.Severity), Message: l.Message})
		}
		changed = true
	}
	for k, e := range v.Expectations {
		if k >= len(old.Expectations) {
			break // never: a chapter's expectations are fixed
		}
		if ec, ok := r.expectationChange(old.Expectations[k], e); ok {
			if cc.Expectations == nil {
				cc.Expectations = map[int]journal.ExpectationChange{}
			}
			cc.Expectations[k], changed = ec, true
		}
	}
	if v.Error != old.Error {
		cc.Error, changed = ptr(v.Error), true
	}
	return cc, changed
}

func isPrefix(prefix, s []StatusLine) bool {
	return len(prefix) <= len(s) && slices.Equal(prefix, s[:len(prefix)])
}

func (r *screenRecorder) expectationChange(old, e ExpectationView) (journal.ExpectationChange, bool) {
	var ec journal.ExpectationChange
	changed := false
	if e.Description != old.Description {
		ec.Description, changed = ptr(e.Description), true
	}
	if e.State != old.State {
		ec.State, changed = e.State.String(), true
	}
	if e.Armed != old.Armed {
		ec.Armed, changed = ptr(e.Armed), true
	}
	for _, t := range []struct {
		now, was time.Time
		field    **int64
	}{{e.Deadline, old.Deadline, &ec.Deadline}, {e.MetAt, old.MetAt, &ec.MetAt}, {e.BrokenAt, old.BrokenAt, &ec.BrokenAt}} {
		if !t.now.Equal(t.was) {
			*t.field, changed = ptr(r.stamp(t.now)), true
		}
	}
	if e.Reason != old.Reason {
		ec.Reason, changed = ptr(e.Reason), true
	}
	return ec, changed
}

func ptr[T any](v T) *T { return &v }

// Recording is a journal's screen record read back: every Snapshot the
// run published, at its time, and every health snapshot it showed.
type Recording struct {
	Frames []RecordedFrame
	// Healths are the health snapshots shown, in order; a frame's Health
	// is Healths[frame.Healths-1].
	Healths []*subject.Health
}

// RecordedFrame is one published Snapshot and when it was published.
type RecordedFrame struct {
	// At is when the Snapshot was published (never before the frame
	// before: a wall clock set back during the run does not reorder).
	At       time.Time
	Snapshot Snapshot
	// Healths is how many of Recording.Healths had been shown.
	Healths int
}

// ErrNoScreen is returned by ReadRecording for a journal written before
// demohost recorded what its screen showed.
var ErrNoScreen = errors.New("it holds no screen record (it was written by a demohost older than replay): record the run again with --report FILE")

// ReadRecording rebuilds, from j's screen record and events, every
// Snapshot the run published, as it was published.
func ReadRecording(j *journal.Journal) (*Recording, error) {
	s := j.Screen
	switch {
	case s == nil:
		return nil, ErrNoScreen
	case s.Version > journal.ScreenVersion || s.Version < 1:
		return nil, fmt.Errorf("its screen record has version %d; this demohost reads up to %d: use a newer demohost", s.Version, journal.ScreenVersion)
	case s.EventsShown < 1:
		return nil, fmt.Errorf("its screen record shows %d events: not a demohost journal", s.EventsShown)
	}
	d := &decoder{start: j.StartedAt.Round(0), j: j, index: -1}
	if err := d.chapters(s.Chapters); err != nil {
		return nil, err
	}
	for _, e := range j.Events {
		d.events = append(d.events, Event{At: e.At, Kind: e.Kind, Severity: subject.ParseSeverity(e.Severity), Message: e.Message})
	}
	rec := &Recording{}
	var last subject.Health
	for i, hr := range s.Health {
		h, err := d.health(&last, hr)
		if err != nil {
			return nil, fmt.Errorf("its screen record is damaged: health snapshot %d: %w", i+1, err)
		}
		rec.Healths = append(rec.Healths, h)
		last = *h
	}
	d.healths = rec.Healths
	var at time.Time
	for i, f := range s.Frames {
		snap, err := d.frame(f, s.EventsShown)
		if err != nil {
			return nil, fmt.Errorf("its screen record is damaged: frame %d: %w", i+1, err)
		}
		if t := journal.Unstamp(d.start, f.At); i == 0 || t.After(at) {
			at = t
		}
		rec.Frames = append(rec.Frames, RecordedFrame{At: at, Snapshot: snap, Healths: d.nHealth})
	}
	if len(rec.Frames) == 0 {
		return nil, errors.New("its screen record has no frame: the run published nothing")
	}
	return rec, nil
}

// decoder is the state ReadRecording rebuilds frame by frame.
type decoder struct {
	start   time.Time
	j       *journal.Journal
	titles  []string
	views   []*ChapterView // each chapter as last shown
	events  []Event
	healths []*subject.Health

	phase       Phase
	index       int
	statuses    []string
	chaos       []ActiveChaos
	nHealth     int
	nEvents     int
	notice      string
	pluginError string
}

func (d *decoder) at(t int64) time.Time { return journal.Unstamp(d.start, t) }

// chapters sets every chapter up as it is before the run enters it (as
// chapterRun.view shows a chapter not entered).
func (d *decoder) chapters(cs []journal.ScreenChapter) error {
	for i, c := range cs {
		v := &ChapterView{Title: c.Title, Narration: c.Narration, KeyHint: c.KeyHint, BlocksAdvance: c.BlocksAdvance, Skip: c.Skip,
			Expectations: make([]ExpectationView, len(c.Expectations))}
		for k, e := range c.Expectations {
			m, ok := subject.ParseMode(e.Mode)
			if !ok {
				return fmt.Errorf("its screen record is damaged: chapter %d, expectation %d: mode %q", i+1, k+1, e.Mode)
			}
			v.Expectations[k] = ExpectationView{Description: e.Description, Mode: m}
		}
		d.titles = append(d.titles, c.Title)
		d.views = append(d.views, v)
	}
	d.statuses = make([]string, len(cs))
	return nil
}

// frame applies f and returns the Snapshot it stands for.
func (d *decoder) frame(f journal.Frame, shown int) (Snapshot, error) {
	if f.Phase != "" {
		p := slices.Index(phaseNames, f.Phase)
		if p < 0 {
			return Snapshot{}, fmt.Errorf("phase %q", f.Phase)
		}
		d.phase = Phase(p)
	}
	if f.Index != nil {
		if *f.Index < -1 || *f.Index >= len(d.views) {
			return Snapshot{}, fmt.Errorf("chapter %d of %d", *f.Index+1, len(d.views))
		}
		d.index = *f.Index
	}
	for i, st := range f.Statuses {
		if i < 0 || i >= len(d.statuses) {
			return Snapshot{}, fmt.Errorf("status of chapter %d of %d", i+1, len(d.statuses))
		}
		d.statuses[i] = st
	}
	if c := f.Chapter; c != nil {
		if c.Index != d.index || c.Index < 0 {
			return Snapshot{}, fmt.Errorf("a change to chapter %d while chapter %d is shown", c.Index+1, d.index+1)
		}
		v, err := d.chapterChange(d.views[c.Index], c)
		if err != nil {
			return Snapshot{}, fmt.Errorf("chapter %d: %w", c.Index+1, err)
		}
		d.views[c.Index] = v
	}
	if f.Chaos != nil {
		d.chaos = make([]ActiveChaos, 0, len(*f.Chaos))
		for _, a := range *f.Chaos {
			d.chaos = append(d.chaos, ActiveChaos{Kind: a.Kind, Label: a.Label, Target: a.Target, InjectedAt: d.at(a.InjectedAt), Until: d.at(a.Until)})
		}
	}
	if f.Health != 0 {
		if f.Health < 0 || f.Health > len(d.healths) {
			return Snapshot{}, fmt.Errorf("health snapshot %d of %d", f.Health, len(d.healths))
		}
		d.nHealth = f.Health
	}
	if f.Events != 0 {
		if f.Events < 0 || f.Events > len(d.events) {
			return Snapshot{}, fmt.Errorf("event %d of %d", f.Events, len(d.events))
		}
		d.nEvents = f.Events
	}
	if f.Notice != nil {
		d.notice = *f.Notice
	}
	if f.PluginError != nil {
		d.pluginError = *f.PluginError
	}
	s := Snapshot{
		Subject: d.j.Subject, SubjectVersion: d.j.SubjectVersion, StartedAt: d.j.StartedAt,
		Phase: d.phase, Index: d.index, Chapters: make([]ChapterSummary, len(d.titles)),
		Chaos: make([]ActiveChaos, len(d.chaos)), Notice: d.notice, PluginError: d.pluginError,
	}
	for i, t := range d.titles {
		s.Chapters[i] = ChapterSummary{Title: t, Status: d.statuses[i]}
	}
	copy(s.Chaos, d.chaos)
	if d.index >= 0 {
		s.Current = d.views[d.index]
	}
	if n := d.nHealth; n > 0 {
		s.Health = d.healths[n-1]
		s.Recent = d.healths[max(0, n-RecentHealth):n:n]
	}
	if n := d.nEvents; n > 0 {
		s.Events = d.events[max(0, n-shown):n:n]
	}
	return s, nil
}

// chapterChange is old changed by c, as a new view (old is shared by the
// Snapshots already rebuilt).
func (d *decoder) chapterChange(old *ChapterView, c *journal.ChapterChange) (*ChapterView, error) {
	v := *old
	if c.CountdownUntil != nil {
		v.CountdownUntil = d.at(*c.CountdownUntil)
	}
	if c.SteadyWait != nil {
		v.SteadyWait = *c.SteadyWait
	}
	if c.ActionRunning != nil {
		v.ActionRunning = *c.ActionRunning
	}
	if c.StatusDropped != 0 || len(c.StatusAdded) > 0 {
		if c.StatusDropped < 0 || c.StatusDropped > len(old.Status) {
			return nil, fmt.Errorf("%d status lines dropped of %d", c.StatusDropped, len(old.Status))
		}
		v.Status = append([]StatusLine(nil), old.Status[c.StatusDropped:]...)
		for _, l := range c.StatusAdded {
			v.Status = append(v.Status, StatusLine{Severity: subject.ParseSeverity(l.Severity), Message: l.Message})
		}
	}
	var err error
	v.Expectations, err = patch(old.Expectations, c.Expectations, "expectation", func(e *ExpectationView, ec journal.ExpectationChange) error {
		if ec.Description != nil {
			e.Description = *ec.Description
		}
		if ec.State != "" {
			st := slices.Index(stateNames, ec.State)
			if st < 0 {
				return fmt.Errorf("state %q", ec.State)
			}
			e.State = ExpectationState(st)
		}
		if ec.Armed != nil {
			e.Armed = *ec.Armed
		}
		for _, t := range []struct {
			from *int64
			to   *time.Time
		}{{ec.Deadline, &e.Deadline}, {ec.MetAt, &e.MetAt}, {ec.BrokenAt, &e.BrokenAt}} {
			if t.from != nil {
				*t.to = d.at(*t.from)
			}
		}
		if ec.Reason != nil {
			e.Reason = *ec.Reason
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c.Error != nil {
		v.Error = *c.Error
	}
	return &v, nil
}

// health is last changed by r, as a new health snapshot.
func (d *decoder) health(last *subject.Health, r journal.HealthRecord) (*subject.Health, error) {
	h := *last
	h.TakenAt = d.at(r.TakenAt)
	if r.Nodes != nil {
		h.Nodes = make([]subject.Node, 0, len(*r.Nodes))
		for _, n := range *r.Nodes {
			h.Nodes = append(h.Nodes, node(n))
		}
	}
	var err error
	h.Nodes, err = patch(h.Nodes, r.Node, "node", func(n *subject.Node, fields map[string]string) error {
		for name, v := range fields {
			k := slices.IndexFunc(nodeFields, func(f nodeField) bool { return f.name == name })
			if k < 0 {
				return fmt.Errorf("field %q", name)
			}
			nodeFields[k].set(n, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.Metrics != nil {
		h.Metrics = make([]subject.Metric, 0, len(*r.Metrics))
		for _, m := range *r.Metrics {
			h.Metrics = append(h.Metrics, subject.Metric{Name: m.Name, Value: float64(m.Value), Unit: m.Unit, Kind: subject.ParseMetricKind(m.Kind)})
		}
	}
	if h.Metrics, err = patch(h.Metrics, r.Values, "metric", func(m *subject.Metric, v journal.Number) error { m.Value = float64(v); return nil }); err != nil {
		return nil, err
	}
	if r.Counters != nil {
		h.Counters = make([]subject.Counter, 0, len(*r.Counters))
		for _, c := range *r.Counters {
			h.Counters = append(h.Counters, subject.Counter{Key: c.Key, Count: c.Count, Limit: c.Limit})
		}
	}
	if h.Counters, err = patch(h.Counters, r.Counts, "counter", func(c *subject.Counter, n int64) error { c.Count = n; return nil }); err != nil {
		return nil, err
	}
	if r.Violations != nil {
		h.Violations = make([]subject.Violation, 0, len(*r.Violations))
		for _, v := range *r.Violations {
			h.Violations = append(h.Violations, subject.Violation{Invariant: v.Invariant, Severity: subject.ParseSeverity(v.Severity),
				Target: v.Target, Message: v.Message, Since: d.at(v.Since)})
		}
	}
	h.Violations, err = patch(h.Violations, r.Violation, "violation", func(v *subject.Violation, vc journal.ViolationChange) error {
		if vc.Severity != nil {
			v.Severity = subject.ParseSeverity(*vc.Severity)
		}
		if vc.Message != nil {
			v.Message = *vc.Message
		}
		if vc.Since != nil {
			v.Since = d.at(*vc.Since)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		h.Error = *r.Error
	}
	if r.Note != nil {
		h.Note = *r.Note
	}
	return &h, nil
}

// patch is list with the changes by index applied, on a copy (list is
// shared by the Snapshots already rebuilt); what names an element in errors.
func patch[T, C any](list []T, changes map[int]C, what string, apply func(*T, C) error) ([]T, error) {
	if len(changes) == 0 {
		return list, nil
	}
	list = slices.Clone(list)
	for i, c := range changes {
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("%s %d of %d", what, i+1, len(list))
		}
		if err := apply(&list[i], c); err != nil {
			return nil, fmt.Errorf("%s %d: %w", what, i+1, err)
		}
	}
	return list, nil
}

func node(n journal.HealthNode) subject.Node {
	return subject.Node{ID: n.ID, Name: n.Name, Role: n.Role, State: subject.ParseNodeState(n.State), Address: n.Address, Detail: n.Detail}
}
