package tui

import (
	"time"

	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
)

// historyLen is how many health samples a metric's sparkline keeps.
const historyLen = 120

// view is what the screen shows besides the Snapshot: state that belongs to
// the view, not the demo.
type view struct {
	th       theme
	keys     []keyAction // the bindings in force: the footer and help list them
	help     bool        // the ? overlay is open
	quitting bool        // the user asked to quit
	ended    string      // the run ended without being asked to; why
	replay   *replayInfo // a playback's speed and state; nil for a live run
	// restart relaunches a crashed plugin (Options.Restart; nil: no r key).
	restart    func() (subject.Plugin, error)
	restarting bool                 // a relaunch is under way
	restartErr string               // why the last relaunch failed
	history    map[string][]float64 // per metric: values charted (a counter's rates)
	totals     map[string]sample    // per counter metric: the last total seen
	lastSeen   *subject.Health      // the health snapshot history was last fed from
	watches    []watchPanel
	frame      frame   // what the screen was last given
	narration  wrapped // the current narration, wrapped
}

// wrapped is a narration parsed and wrapped to a width, kept until either
// changes: done every frame, a large narration cost more than a frame.
type wrapped struct {
	text  string
	width int
	lines []styledLine
}

// narrationLines is text (narration markup) wrapped to width, from the
// cache when neither changed since the last frame.
func (v *view) narrationLines(text string, width int) []styledLine {
	if n := &v.narration; n.lines != nil && n.width == width && n.text == text {
		return n.lines
	}
	var lines []styledLine
	for _, l := range wrap(v.th.cells(text, v.th.base()), width) {
		lines = append(lines, segments(l))
	}
	if lines == nil {
		lines = []styledLine{}
	}
	v.narration = wrapped{text: text, width: width, lines: lines}
	return lines
}

// watchSource is a --watch process as the view reads it (*watch.Process).
type watchSource interface {
	Lines() []string
	Exited() (bool, string)
}

type watchPanel struct {
	name string
	src  watchSource
}

func newView(th theme) *view {
	return &view{th: th, keys: keysFor(liveMode), history: map[string][]float64{}, totals: map[string]sample{}}
}

// sample is a counter's total at one instant.
type sample struct {
	at    time.Time
	total float64
}

// observe feeds the metric history with the health snapshots s brings
// that it has not seen: those of s.Recent after the last one seen, so a
// Snapshot the loop never read loses no sample.
func (v *view) observe(s *runner.Snapshot) {
	recent := s.Recent
	if len(recent) == 0 && s.Health != nil {
		recent = []*subject.Health{s.Health}
	}
	for _, h := range runner.HealthAfter(recent, v.lastSeen) {
		v.observeHealth(h)
	}
}

// observeHealth adds one health snapshot's metrics to the history.
func (v *view) observeHealth(h *subject.Health) {
	if h == nil || h == v.lastSeen {
		return
	}
	if v.lastSeen != nil && h.TakenAt.Equal(v.lastSeen.TakenAt) {
		return // the same sample in a new snapshot
	}
	v.lastSeen = h
	for _, m := range h.Metrics {
		value := m.Value
		if m.Kind == subject.MetricCounter {
			last, ok := v.totals[m.Name]
			v.totals[m.Name] = sample{h.TakenAt, m.Value}
			dt := h.TakenAt.Sub(last.at).Seconds()
			if !ok || dt <= 0 || m.Value < last.total { // first sample, or the counter restarted
				continue
			}
			value = (m.Value - last.total) / dt
		}
		hist := append(v.history[m.Name], value)
		if len(hist) > historyLen {
			hist = hist[len(hist)-historyLen:]
		}
		v.history[m.Name] = hist
	}
}

// resetCharts forgets the metric history, to chart again from the start.
func (v *view) resetCharts() {
	v.history, v.totals, v.lastSeen = map[string][]float64{}, map[string]sample{}, nil
}

// rate is a counter metric's latest rate per second (0 before two samples).
func (v *view) rate(name string) float64 {
	if h := v.history[name]; len(h) > 0 {
		return h[len(h)-1]
	}
	return 0
}

// nextTick is when the next number on screen (a clock, a countdown, time
// left) changes; zero when nothing shown depends on time.
func nextTick(s *runner.Snapshot, now time.Time) time.Time {
	var next time.Time
	consider := func(ref time.Time) {
		if ref.IsZero() {
			return
		}
		t := nextSecond(now, ref)
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if s.Phase == runner.PhaseRunning || s.Phase == runner.PhaseStopping {
		consider(s.StartedAt)
	}
	for _, c := range s.Chaos {
		if c.Until.After(now) {
			consider(c.Until)
		}
	}
	if c := s.Current; c != nil {
		if c.CountdownUntil.After(now) {
			consider(c.CountdownUntil)
		}
		for _, e := range c.Expectations {
			if e.State == runner.Pending && e.Deadline.After(now) {
				consider(e.Deadline)
			}
		}
	}
	return next
}

// nextSecond is the first instant after now that is a whole number of
// seconds away from ref: when a clock counting from (or down to) ref ticks.
func nextSecond(now, ref time.Time) time.Time {
	d := now.Sub(ref)
	n := d / time.Second
	if d < 0 && d%time.Second != 0 {
		n-- // floor, not truncation, below zero
	}
	return ref.Add((n + 1) * time.Second)
}

// secondsLeft is the whole seconds until t, rounded up, as shown.
func secondsLeft(now, t time.Time) int {
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
