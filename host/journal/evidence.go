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
// is over, before writing the journal.
func (j *Journal) AddEvidence() {
	for i := range j.Chaos {
		ev := EvidenceFor(j, i)
		j.Chaos[i].Evidence = &ev
	}
}

// EvidenceFor computes the evidence for j.Chaos[i] from the node
// transitions, violation spans and metric series in j. It does not
// modify j.
func EvidenceFor(j *Journal, i int) Evidence {
	c := j.Chaos[i]
	end := runEnd(j)
	series := observedSeries(j)
	ev := Evidence{Before: healthAt(j, c.InjectedAt.Add(-time.Nanosecond))}
	ev.Before.At = c.InjectedAt

	to := end
	if c.RevertedAt != nil && c.RevertedAt.Add(EffectGrace).Before(end) {
		to = c.RevertedAt.Add(EffectGrace)
	}
	ev.During = change(j, series, ev.Before, c.InjectedAt, to)
	ev.EffectAt = firstEffect(ev.During)

	if c.RevertedAt != nil {
		at, until := c.RevertedAt.Add(AfterWindow), time.Duration(0)
		if next := nextInjection(j, *c.RevertedAt); !next.IsZero() && next.Before(at) {
			at, until = next, time.Nanosecond // just before the next fault
		}
		if at.After(end) {
			at = end
		}
		after := healthAt(j, at.Add(-until))
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
		if next := nextInjection(j, *c.RevertedAt); next.After(horizon) {
			horizon, by = next, "the next fault"
		}
		if !horizon.Before(end) {
			horizon, by = end, "the end of the run"
		}
		g := judge{j: j, series: series, before: ev.Before, during: ev.During,
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
	j           *Journal
	series      map[string]MetricSeries
	before      HealthAt
	during      HealthChange
	metricsOnly bool
}

// outstanding lists what was not back at t.
func (g judge) outstanding(t time.Time) []string {
	var out []string
	for _, n := range g.before.Nodes {
		if s := StateAt(g.j, n.Node, t); s != n.State {
			out = append(out, fmt.Sprintf("%s %s (was %s)", n.Node, s, n.State))
		}
	}
	for _, r := range g.during.Violations {
		if raisedAt(g.j, r.Invariant, t) {
			out = append(out, r.Invariant+" still raised")
		}
	}
	if g.metricsOnly {
		for _, m := range g.during.Metrics {
			if v, ok := valueAt(g.series[m.Name], t); ok && !inRange(m, v) {
				out = append(out, fmt.Sprintf("%s still out of range (%g)", m.Name, math.Round(v*100)/100))
			}
		}
	}
	return out
}

// recovery is the first instant in [effect, horizon] with nothing
// outstanding; nil when there was none.
func (g judge) recovery(effect, horizon time.Time) *time.Time {
	var candidates []time.Time
	in := func(t time.Time) bool { return !t.Before(effect) && !t.After(horizon) }
	for _, tr := range g.j.Nodes {
		if in(tr.At) {
			candidates = append(candidates, tr.At)
		}
	}
	for _, v := range g.j.Violations {
		if v.ClearedAt != nil && in(*v.ClearedAt) {
			candidates = append(candidates, *v.ClearedAt)
		}
	}
	if g.metricsOnly {
		for _, m := range g.during.Metrics {
			for _, p := range g.series[m.Name].Points {
				if in(p.At) && inRange(m, p.Value) {
					candidates = append(candidates, p.At)
				}
			}
		}
	}
	slices.SortFunc(candidates, time.Time.Compare)
	for _, t := range candidates {
		if len(g.outstanding(t)) == 0 {
			return &t
		}
	}
	return nil
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

// observedSeries is every metric as evidence compares it (see Observed),
// keyed by name.
func observedSeries(j *Journal) map[string]MetricSeries {
	out := make(map[string]MetricSeries, len(j.Metrics))
	for _, m := range j.Metrics {
		out[m.Name] = Observed(m)
	}
	return out
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
func healthAt(j *Journal, t time.Time) HealthAt {
	h := HealthAt{At: t, Nodes: []NodeState{}, Violations: []string{}}
	for _, name := range NodeNames(j) {
		if s := StateAt(j, name, t); s != "" {
			h.Nodes = append(h.Nodes, NodeState{Node: name, State: s})
		}
	}
	seen := map[string]bool{}
	for _, v := range j.Violations {
		if !v.RaisedAt.After(t) && (v.ClearedAt == nil || v.ClearedAt.After(t)) && !seen[v.Invariant] {
			seen[v.Invariant] = true
			h.Violations = append(h.Violations, v.Invariant)
		}
	}
	sort.Strings(h.Violations)
	for _, m := range j.Metrics {
		var last *Point
		for k := range m.Points {
			if m.Points[k].At.After(t) {
				break
			}
			last = &m.Points[k]
		}
		if last != nil {
			h.Metrics = append(h.Metrics, MetricValue{Name: m.Name, Value: last.Value})
		}
	}
	return h
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
func change(j *Journal, series map[string]MetricSeries, before HealthAt, from, to time.Time) HealthChange {
	hc := HealthChange{From: from, To: to}
	in := func(t time.Time) bool { return !t.Before(from) && !t.After(to) }

	was := map[string]string{}
	for _, n := range before.Nodes {
		was[n.Node] = n.State
	}
	byNode := map[string]int{}
	for _, tr := range j.Nodes {
		if !in(tr.At) {
			continue
		}
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

	for _, m := range j.Metrics {
		observed := series[m.Name]
		if s, ok := shift(observed, from, to); ok {
			s.Rate = isCounter(m)
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

// nextInjection is the first injection strictly after t (zero if none).
func nextInjection(j *Journal, t time.Time) time.Time {
	var next time.Time
	for _, c := range j.Chaos {
		if c.InjectedAt.After(t) && (next.IsZero() || c.InjectedAt.Before(next)) {
			next = c.InjectedAt
		}
	}
	return next
}

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
