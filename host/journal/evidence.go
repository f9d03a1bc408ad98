package journal

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Evidence is what health showed around one injection: the state just
// before it, what changed while the fault was active, and the state after
// the revert. A Warning is set when no observable effect followed (the
// fault may not have landed) or when health never came back.
type Evidence struct {
	Before HealthAt     `json:"before"`
	During HealthChange `json:"during"`
	// After is nil when the fault was never reverted.
	After *HealthAt `json:"after,omitempty"`
	// EffectAt is the first observable effect: a node leaving its
	// before-state, a violation raised or a metric leaving its range.
	EffectAt *time.Time `json:"effect_at,omitempty"`
	// RecoveredAt is when every node was back in its before-state and
	// every violation raised during the fault had cleared.
	RecoveredAt *time.Time `json:"recovered_at,omitempty"`
	Warning     string     `json:"warning,omitempty"`
}

// HealthAt is health at one instant, rebuilt from the journal.
type HealthAt struct {
	At         time.Time     `json:"at"`
	Nodes      []NodeState   `json:"nodes"`
	Violations []string      `json:"violations"` // invariants raised at At
	Metrics    []MetricValue `json:"metrics,omitempty"`
}

// NodeState is one node's state at an instant.
type NodeState struct {
	Node  string `json:"node"`
	State string `json:"state"`
}

// MetricValue is a metric's latest value at an instant.
type MetricValue struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// HealthChange is what differed from the before-state while the fault
// was active (from injection to a short grace after the revert).
type HealthChange struct {
	From       time.Time     `json:"from"`
	To         time.Time     `json:"to"`
	Nodes      []NodeChange  `json:"nodes,omitempty"`
	Violations []Raised      `json:"violations,omitempty"`
	Metrics    []MetricShift `json:"metrics,omitempty"`
}

// Raised is a violation first raised in the window.
type Raised struct {
	Invariant string    `json:"invariant"`
	At        time.Time `json:"at"`
}

// NodeChange is a node that left its before-state in the window.
type NodeChange struct {
	Node   string    `json:"node"`
	At     time.Time `json:"at"`     // first change
	States []string  `json:"states"` // states entered, in order
}

// MetricShift is a metric whose values in the window left the range it
// had before the injection.
type MetricShift struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"` // first value out of range
	// Low and High bound the normal range: the values seen in the
	// BaselineWindow before the injection, widened by a tolerance.
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// Min and Max are the values seen in the window.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// Rate is set when the metric is a cumulative counter: the figures
	// are then its rate per second, not its running total.
	Rate bool `json:"rate,omitempty"`
}

// Windows used to judge evidence.
const (
	// EffectGrace extends the during-window past the revert: detection
	// can lag the fault by a poll interval or a timeout.
	EffectGrace = 3 * time.Second
	// BaselineWindow is how far back before an injection a metric's
	// normal range is taken from.
	BaselineWindow = 30 * time.Second
	// AfterWindow is how long after the revert the after-state is taken
	// (earlier if the run ends or the next fault is injected).
	AfterWindow = 30 * time.Second
	// metricTolerance widens a metric's baseline range by this share of
	// its mean, so ordinary noise is not taken for an effect.
	metricTolerance = 0.25
)

// AddEvidence fills Evidence on every chaos entry. Call it once the run
// is over, before writing the journal. Its cost is about linear in the
// journal's size (plus sorting), however many nodes and faults it holds.
func (j *Journal) AddEvidence() {
	h := newHistory(j)
	for i := range j.Chaos {
		ev := h.evidence(i)
		j.Chaos[i].Evidence = &ev
	}
}

// EvidenceFor computes the evidence for j.Chaos[i] from the node
// transitions, violation spans and metric series in j. It does not
// modify j.
func EvidenceFor(j *Journal, i int) Evidence { return newHistory(j).evidence(i) }

// history is a journal arranged for lookups by time, built once and shared
// by the evidence of every fault: lookups are binary searches, and the
// recovery is found in one sweep (before, each candidate instant rebuilt
// every node's state: nodes × transitions).
type history struct {
	j      *Journal
	end    time.Time
	names  []string                    // nodes in order of first appearance
	byNode map[string][]NodeTransition // each node's transitions in time order
	trans  []NodeTransition            // every transition in time order
	sorted []MetricSeries              // j.Metrics[i] in time order
	series map[string]MetricSeries     // Observed(metric), by name
	inject []time.Time                 // injection times, in order
}

func newHistory(j *Journal) *history {
	h := &history{j: j, end: runEnd(j), names: NodeNames(j), byNode: map[string][]NodeTransition{},
		series: make(map[string]MetricSeries, len(j.Metrics))}
	h.trans = slices.Clone(j.Nodes)
	slices.SortStableFunc(h.trans, func(a, b NodeTransition) int { return a.At.Compare(b.At) })
	for _, tr := range h.trans {
		h.byNode[tr.Node] = append(h.byNode[tr.Node], tr)
	}
	for _, m := range j.Metrics {
		m.Points = slices.Clone(m.Points)
		slices.SortStableFunc(m.Points, func(a, b Point) int { return a.At.Compare(b.At) })
		h.sorted = append(h.sorted, m)
		h.series[m.Name] = Observed(m)
	}
	for _, c := range j.Chaos {
		h.inject = append(h.inject, c.InjectedAt)
	}
	slices.SortFunc(h.inject, time.Time.Compare)
	return h
}

// evidence is EvidenceFor(h.j, i).
func (h *history) evidence(i int) Evidence {
	c := h.j.Chaos[i]
	end := h.end
	ev := Evidence{Before: h.healthAt(c.InjectedAt.Add(-time.Nanosecond))}
	ev.Before.At = c.InjectedAt

	to := end
	if c.RevertedAt != nil && c.RevertedAt.Add(EffectGrace).Before(end) {
		to = c.RevertedAt.Add(EffectGrace)
	}
	ev.During = h.change(ev.Before, c.InjectedAt, to)
	ev.EffectAt = firstEffect(ev.During)

	if c.RevertedAt != nil {
		at, until := c.RevertedAt.Add(AfterWindow), time.Duration(0)
		if next := h.nextInjection(*c.RevertedAt); !next.IsZero() && next.Before(at) {
			at, until = next, time.Nanosecond // just before the next fault
		}
		if at.After(end) {
			at = end
		}
		after := h.healthAt(at.Add(-until))
		after.At = at
		ev.After = &after
	}

	switch {
	case ev.EffectAt == nil:
		ev.Warning = fmt.Sprintf("no observable effect: no node changed state, no violation was raised and no metric left its range in the %s after the injection; check that %q reached its target",
			roundDur(to.Sub(c.InjectedAt)), c.Name)
	case c.RevertedAt == nil:
		ev.Warning = "never reverted: the run ended with this fault active"
	default:
		// Look for recovery until the next fault, and at least
		// AfterWindow past the revert.
		horizon, by := c.RevertedAt.Add(AfterWindow), fmt.Sprintf("%s after the revert", AfterWindow)
		if next := h.nextInjection(*c.RevertedAt); next.After(horizon) {
			horizon, by = next, "the next fault"
		}
		if !horizon.Before(end) {
			horizon, by = end, "the end of the run"
		}
		g := judge{h: h, before: ev.Before, during: ev.During,
			metricsOnly: len(ev.During.Nodes) == 0 && len(ev.During.Violations) == 0}
		ev.RecoveredAt = g.recovery(*ev.EffectAt, horizon)
		if ev.RecoveredAt == nil {
			ev.Warning = fmt.Sprintf("no recovery seen by %s: %s", by, strings.Join(g.outstanding(horizon), ", "))
		}
	}
	return ev
}

// judge decides when health is back after one fault: every node in its
// before-state and every violation raised during the fault cleared; when
// the fault showed only in metrics, every metric back in its range.
type judge struct {
	h           *history
	before      HealthAt
	during      HealthChange
	metricsOnly bool
}

// outstanding lists what was not back at t.
func (g judge) outstanding(t time.Time) []string {
	var out []string
	for _, n := range g.before.Nodes {
		if s := g.h.stateAt(n.Node, t); s != n.State {
			out = append(out, fmt.Sprintf("%s %s (was %s)", n.Node, s, n.State))
		}
	}
	for _, r := range g.during.Violations {
		if raisedAt(g.h.j, r.Invariant, t) {
			out = append(out, r.Invariant+" still raised")
		}
	}
	if g.metricsOnly {
		for _, m := range g.during.Metrics {
			if v, ok := valueAt(g.h.series[m.Name], t); ok && !inRange(m, v) {
				out = append(out, fmt.Sprintf("%s still out of range (%g)", m.Name, math.Round(v*100)/100))
			}
		}
	}
	return out
}

// recovery is the first instant in [effect, horizon] with nothing
// outstanding; nil when there was none. It sweeps the candidate instants
// (a transition, a violation cleared, a metric back in range) in time
// order, keeping count of what is outstanding as it goes.
func (g judge) recovery(effect, horizon time.Time) *time.Time {
	h := g.h
	var candidates []time.Time
	in := func(t time.Time) bool { return !t.Before(effect) && !t.After(horizon) }
	for _, tr := range window(h.trans, effect, horizon) {
		candidates = append(candidates, tr.At)
	}
	for _, v := range h.j.Violations {
		if v.ClearedAt != nil && in(*v.ClearedAt) {
			candidates = append(candidates, *v.ClearedAt)
		}
	}
	if g.metricsOnly {
		for _, m := range g.during.Metrics {
			for _, p := range h.series[m.Name].Points {
				if in(p.At) && inRange(m, p.Value) {
					candidates = append(candidates, p.At)
				}
			}
		}
	}
	slices.SortFunc(candidates, time.Time.Compare)
	if len(candidates) == 0 {
		return nil
	}

	// Nodes: each before-node's state as the sweep passes its transitions.
	want := make(map[string]string, len(g.before.Nodes))
	for _, n := range g.before.Nodes {
		want[n.Node] = n.State
	}
	state := make(map[string]string, len(want))
	badNodes, next := len(want), 0 // no transition seen yet: every node is off
	passNodes := func(t time.Time) {
		for ; next < len(h.trans) && !h.trans[next].At.After(t); next++ {
			tr := h.trans[next]
			w, tracked := want[tr.Node]
			if !tracked {
				continue
			}
			if state[tr.Node] != w {
				badNodes--
			}
			state[tr.Node] = tr.State
			if tr.State != w {
				badNodes++
			}
		}
	}

	// Violations raised during the fault: spans raised and cleared, in order.
	type mark struct {
		at  time.Time
		inv string
		d   int
	}
	tracked := map[string]int{} // invariant -> spans raised now
	for _, r := range g.during.Violations {
		tracked[r.Invariant] = 0
	}
	var marks []mark
	for _, v := range h.j.Violations {
		if _, ok := tracked[v.Invariant]; !ok || v.ClearedAt != nil && !v.ClearedAt.After(v.RaisedAt) {
			continue // a span cleared before it was raised never counts
		}
		marks = append(marks, mark{v.RaisedAt, v.Invariant, 1})
		if v.ClearedAt != nil {
			marks = append(marks, mark{*v.ClearedAt, v.Invariant, -1})
		}
	}
	slices.SortStableFunc(marks, func(a, b mark) int { return a.at.Compare(b.at) })
	raised, nextMark := 0, 0 // invariants raised now
	passViolations := func(t time.Time) {
		for ; nextMark < len(marks) && !marks[nextMark].at.After(t); nextMark++ {
			m := marks[nextMark]
			was := tracked[m.inv] > 0
			tracked[m.inv] += m.d
			if now := tracked[m.inv] > 0; now != was {
				if now {
					raised++
				} else {
					raised--
				}
			}
		}
	}

	// Metrics (when the fault showed only there): each one's latest value.
	type level struct {
		shift MetricShift
		pts   []Point
		next  int
		off   bool
	}
	var levels []*level
	if g.metricsOnly {
		for _, m := range g.during.Metrics {
			levels = append(levels, &level{shift: m, pts: h.series[m.Name].Points})
		}
	}
	offMetrics := 0
	passMetrics := func(t time.Time) {
		for _, l := range levels {
			moved := false
			for ; l.next < len(l.pts) && !l.pts[l.next].At.After(t); l.next++ {
				moved = true
			}
			if !moved {
				continue
			}
			off := !inRange(l.shift, l.pts[l.next-1].Value)
			if off != l.off {
				l.off = off
				if off {
					offMetrics++
				} else {
					offMetrics--
				}
			}
		}
	}

	for _, t := range candidates {
		passNodes(t)
		passViolations(t)
		passMetrics(t)
		if badNodes == 0 && raised == 0 && offMetrics == 0 {
			return &t
		}
	}
	return nil
}

// window is the part of trs (in time order) within [from, to].
func window(trs []NodeTransition, from, to time.Time) []NodeTransition {
	lo := sort.Search(len(trs), func(k int) bool { return !trs[k].At.Before(from) })
	hi := sort.Search(len(trs), func(k int) bool { return trs[k].At.After(to) })
	if hi < lo {
		return nil
	}
	return trs[lo:hi]
}

// stateAt is node's state at t (its last transition at or before t), or ""
// when the node had not been seen yet.
func (h *history) stateAt(node string, t time.Time) string {
	trs := h.byNode[node]
	k := sort.Search(len(trs), func(k int) bool { return trs[k].At.After(t) })
	if k == 0 {
		return ""
	}
	return trs[k-1].State
}

// nextInjection is the first injection strictly after t (zero if none).
func (h *history) nextInjection(t time.Time) time.Time {
	k := sort.Search(len(h.inject), func(k int) bool { return h.inject[k].After(t) })
	if k == len(h.inject) {
		return time.Time{}
	}
	return h.inject[k]
}

// raisedAt reports whether invariant was raised (and not cleared) at t.
func raisedAt(j *Journal, invariant string, t time.Time) bool {
	for _, v := range j.Violations {
		if v.Invariant == invariant && !v.RaisedAt.After(t) && (v.ClearedAt == nil || v.ClearedAt.After(t)) {
			return true
		}
	}
	return false
}

// valueAt is m's last value at or before t.
func valueAt(m MetricSeries, t time.Time) (float64, bool) {
	v, ok := 0.0, false
	for _, p := range m.Points {
		if p.At.After(t) {
			break
		}
		v, ok = p.Value, true
	}
	return v, ok
}

// Observed is m as evidence compares it, and as a chart should show it: a
// counter (declared so by its plugin; in journals older than protocol 2, a
// running total that never decreases, in a unit that is not already a
// rate) becomes its rate per second, so a counter growing as usual is not
// taken for an effect. Other series are returned as they are.
func Observed(m MetricSeries) MetricSeries {
	if isCounter(m) {
		return rates(m)
	}
	return m
}

func isCounter(m MetricSeries) bool {
	if m.Kind != "" {
		return m.Kind == "counter" && len(m.Points) >= 2
	}
	if strings.Contains(m.Unit, "/") || len(m.Points) < 3 {
		return false
	}
	for k := 1; k < len(m.Points); k++ {
		if m.Points[k].Value < m.Points[k-1].Value {
			return false
		}
	}
	return m.Points[len(m.Points)-1].Value > m.Points[0].Value
}

// rates turns a running total into per-second rates between samples.
func rates(m MetricSeries) MetricSeries {
	r := MetricSeries{Name: m.Name, Unit: m.Unit + "/s", Kind: "rate"}
	for k := 1; k < len(m.Points); k++ {
		dt := m.Points[k].At.Sub(m.Points[k-1].At).Seconds()
		if dt <= 0 {
			continue
		}
		r.Points = append(r.Points, Point{At: m.Points[k].At, Value: (m.Points[k].Value - m.Points[k-1].Value) / dt})
	}
	return r
}

// healthAt rebuilds health at t: the last transition of each node at or
// before t, the violations raised and not yet cleared, the latest metric
// values.
func (h *history) healthAt(t time.Time) HealthAt {
	j := h.j
	ha := HealthAt{At: t, Nodes: []NodeState{}, Violations: []string{}}
	for _, name := range h.names {
		if s := h.stateAt(name, t); s != "" {
			ha.Nodes = append(ha.Nodes, NodeState{Node: name, State: s})
		}
	}
	seen := map[string]bool{}
	for _, v := range j.Violations {
		if !v.RaisedAt.After(t) && (v.ClearedAt == nil || v.ClearedAt.After(t)) && !seen[v.Invariant] {
			seen[v.Invariant] = true
			ha.Violations = append(ha.Violations, v.Invariant)
		}
	}
	sort.Strings(ha.Violations)
	for i, m := range j.Metrics {
		pts := h.sorted[i].Points
		if k := sort.Search(len(pts), func(k int) bool { return pts[k].At.After(t) }); k > 0 {
			ha.Metrics = append(ha.Metrics, MetricValue{Name: m.Name, Value: pts[k-1].Value})
		}
	}
	return ha
}

// NodeNames lists the journal's nodes in order of first appearance.
func NodeNames(j *Journal) []string {
	var names []string
	seen := map[string]bool{}
	for _, tr := range j.Nodes {
		if !seen[tr.Node] {
			seen[tr.Node] = true
			names = append(names, tr.Node)
		}
	}
	return names
}

// StateAt is node's state at t (its last transition at or before t), or
// "" when the node had not been seen yet.
func StateAt(j *Journal, node string, t time.Time) string {
	state := ""
	var when time.Time
	for _, tr := range j.Nodes {
		if tr.Node == node && !tr.At.After(t) && !tr.At.Before(when) {
			state, when = tr.State, tr.At
		}
	}
	return state
}

// change finds what left the before-state in [from, to].
func (h *history) change(before HealthAt, from, to time.Time) HealthChange {
	j := h.j
	hc := HealthChange{From: from, To: to}
	in := func(t time.Time) bool { return !t.Before(from) && !t.After(to) }

	was := map[string]string{}
	for _, n := range before.Nodes {
		was[n.Node] = n.State
	}
	byNode := map[string]int{}
	for _, tr := range window(h.trans, from, to) {
		k, ok := byNode[tr.Node]
		if !ok {
			if tr.State == was[tr.Node] {
				continue // a repeat of the before-state is no change
			}
			byNode[tr.Node] = len(hc.Nodes)
			hc.Nodes = append(hc.Nodes, NodeChange{Node: tr.Node, At: tr.At, States: []string{tr.State}})
			continue
		}
		if states := hc.Nodes[k].States; states[len(states)-1] != tr.State {
			hc.Nodes[k].States = append(states, tr.State)
		}
	}

	seen := map[string]bool{}
	for _, v := range j.Violations {
		if in(v.RaisedAt) && !seen[v.Invariant] {
			seen[v.Invariant] = true
			hc.Violations = append(hc.Violations, Raised{Invariant: v.Invariant, At: v.RaisedAt})
		}
	}

	for i, m := range j.Metrics {
		if s, ok := shift(h.series[m.Name], from, to); ok {
			s.Rate = isCounter(h.sorted[i])
			hc.Metrics = append(hc.Metrics, s)
		}
	}
	return hc
}

// shift reports whether m left its baseline range (the values in the
// BaselineWindow before from, widened by metricTolerance of their mean)
// during [from, to].
func shift(m MetricSeries, from, to time.Time) (MetricShift, bool) {
	// Points are in time order: skip to the baseline window.
	first, _ := slices.BinarySearchFunc(m.Points, from.Add(-BaselineWindow), func(p Point, t time.Time) int { return p.At.Compare(t) })
	pts := m.Points[first:]
	lo, hi, sum, n := math.Inf(1), math.Inf(-1), 0.0, 0 // baseline
	for _, p := range pts {
		if !p.At.Before(from) {
			break
		}
		lo, hi, sum, n = math.Min(lo, p.Value), math.Max(hi, p.Value), sum+p.Value, n+1
	}
	if n < 2 {
		return MetricShift{}, false // no baseline to compare with
	}
	tol := math.Max(metricTolerance*math.Abs(sum/float64(n)), 1e-9)
	s := MetricShift{Name: m.Name, Low: lo - tol, High: hi + tol, Min: math.Inf(1), Max: math.Inf(-1)}
	out := false
	for _, p := range pts[n:] {
		if p.At.After(to) {
			break
		}
		s.Min, s.Max = math.Min(s.Min, p.Value), math.Max(s.Max, p.Value)
		if !out && !inRange(s, p.Value) {
			out, s.At = true, p.At
		}
	}
	return s, out
}

func firstEffect(hc HealthChange) *time.Time {
	var times []time.Time
	for _, n := range hc.Nodes {
		times = append(times, n.At)
	}
	for _, v := range hc.Violations {
		times = append(times, v.At)
	}
	for _, m := range hc.Metrics {
		times = append(times, m.At)
	}
	if len(times) == 0 {
		return nil
	}
	first := times[0]
	for _, t := range times[1:] {
		if t.Before(first) {
			first = t
		}
	}
	return &first
}

// inRange reports whether v is within the metric's normal range.
func inRange(s MetricShift, v float64) bool { return v >= s.Low && v <= s.High }

// runEnd is FinishedAt, or the latest timestamp in the journal when the
// run did not record one.
func runEnd(j *Journal) time.Time {
	if !j.FinishedAt.IsZero() {
		return j.FinishedAt
	}
	_, end := j.Span()
	return end
}

// Span is the run's time range: StartedAt to FinishedAt, widened to every
// timestamp in the journal (a run cut short may lack either).
func (j *Journal) Span() (start, end time.Time) {
	note := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if start.IsZero() || t.Before(start) {
			start = t
		}
		if end.IsZero() || t.After(end) {
			end = t
		}
	}
	note(j.StartedAt)
	note(j.FinishedAt)
	for _, c := range j.Chapters {
		if c.StartedAt != nil {
			note(*c.StartedAt)
		}
		if c.FinishedAt != nil {
			note(*c.FinishedAt)
		}
	}
	for _, c := range j.Chaos {
		note(c.InjectedAt)
		if c.RevertedAt != nil {
			note(*c.RevertedAt)
		}
	}
	for _, v := range j.Violations {
		note(v.RaisedAt)
		if v.ClearedAt != nil {
			note(*v.ClearedAt)
		}
	}
	for _, tr := range j.Nodes {
		note(tr.At)
	}
	for _, m := range j.Metrics {
		for _, p := range m.Points {
			note(p.At)
		}
	}
	for _, e := range j.Events {
		note(e.At)
	}
	return start, end
}

// roundDur rounds d for messages: whole seconds above 10s, else tenths.
func roundDur(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
