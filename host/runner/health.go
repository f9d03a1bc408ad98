package runner

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/subject"
)

// Reconnect backoff of the health stream.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// startHealth opens a health stream on the current subject, replacing the
// one open before (whose late messages are then ignored).
func (u *run) startHealth() {
	if u.healthCancel != nil {
		u.healthCancel()
	}
	ctx, cancel := context.WithCancel(u.ctx)
	u.healthCancel = cancel
	u.healthStream++
	go u.watchHealth(ctx, u.plugin, u.healthStream)
}

// watchHealth keeps a health stream open until ctx ends, reconnecting with
// a backoff whenever it breaks, and hands every snapshot to the loop.
func (u *run) watchHealth(ctx context.Context, p subject.Plugin, stream int) {
	backoff := minBackoff
	for {
		got := false
		err := p.WatchHealth(ctx, u.cfg.HealthInterval, func(h subject.Health) {
			got = true
			u.r.send(func(u *run) {
				if u.healthStream == stream {
					u.onHealth(&h)
				}
			})
		})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("the stream ended")
		}
		if got {
			backoff = minBackoff
		}
		retryIn := backoff
		u.r.send(func(u *run) {
			if u.healthStream == stream {
				u.onHealthError(err, retryIn)
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (u *run) onHealthError(err error, retryIn time.Duration) {
	if u.phase != PhaseRunning {
		return
	}
	u.eventSev(journal.KindError, subject.Warning, "health stream: "+err.Error()+"; reconnecting in "+retryIn.String())
	u.setHealth(unobserved(u.health, "health stream: "+err.Error()))
	if errors.Is(err, subject.ErrUnreachable) {
		u.pluginFailed("plugin unreachable", err)
	}
}

// setHealth makes h the latest health, and remembers it among the recent
// ones a view that missed a Snapshot catches up from.
func (u *run) setHealth(h *subject.Health) {
	u.health = h
	u.recent = append(u.recent, h)
	if len(u.recent) >= 2*RecentHealth {
		// A fresh array: published Snapshots keep theirs.
		u.recent = append([]*subject.Health(nil), u.recent[len(u.recent)-RecentHealth:]...)
	}
}

// recentHealth is Snapshot.Recent: the last RecentHealth health snapshots.
// Its capacity ends at its length, so the runner's next append never
// writes where a published Snapshot can see.
func (u *run) recentHealth() []*subject.Health {
	n := len(u.recent)
	return u.recent[max(0, n-RecentHealth):n:n]
}

// unobserved is what is known while the subject cannot be observed: the
// last nodes seen, each UNKNOWN, and the error.
func unobserved(last *subject.Health, why string) *subject.Health {
	h := &subject.Health{TakenAt: time.Now(), Error: why}
	if last != nil {
		for _, n := range last.Nodes {
			n.State, n.Detail = subject.Unknown, why
			h.Nodes = append(h.Nodes, n)
		}
	}
	return h
}

// onHealth records a snapshot and checks the current chapter against it.
func (u *run) onHealth(h *subject.Health) {
	if u.phase != PhaseRunning {
		return
	}
	now := time.Now()
	was := ""
	if u.health != nil {
		was = u.health.Error
	}
	if h.Error != was {
		if h.Error != "" {
			u.eventSev(journal.KindError, subject.Warning, "subject could not be observed: "+h.Error)
		} else if was != "" {
			u.event(journal.KindStatus, "subject observed again")
		}
	}
	if h.Error != "" && len(h.Nodes) == 0 {
		h = unobserved(u.health, h.Error)
	}
	u.setHealth(h)
	for _, e := range u.rec.record(now, h) {
		u.eventSev(e.Kind, subject.Info, e.Message)
	}
	u.evaluate(h, now)
}

// recorder turns the health stream into the journal's node transitions,
// violation spans and metric series.
type recorder struct {
	j          *journal.Journal
	nodes      map[string]subject.NodeState
	open       map[violationKey]int // raised violations -> index in j.Violations
	seen       map[string]int       // invariant -> index in j.ViolationsSeen
	series     map[string]int       // metric -> index in j.Metrics
	lastSample map[string]time.Time
}

type violationKey struct{ invariant, target string }

// metricEvery is the journal's metric sampling period.
const metricEvery = time.Second

func newRecorder(j *journal.Journal) *recorder {
	return &recorder{
		j:          j,
		nodes:      map[string]subject.NodeState{},
		open:       map[violationKey]int{},
		seen:       map[string]int{},
		series:     map[string]int{},
		lastSample: map[string]time.Time{},
	}
}

// record journals what changed in snap and returns the events to show.
func (rc *recorder) record(now time.Time, h *subject.Health) []journal.Event {
	if h.Error != "" {
		return nil // nothing observed: keep the last known state
	}
	rc.recordNodes(now, h)
	rc.recordMetrics(now, h)
	return rc.recordViolations(now, h)
}

func (rc *recorder) recordNodes(now time.Time, h *subject.Health) {
	for _, n := range h.Nodes {
		id := n.Key()
		if last, ok := rc.nodes[id]; ok && last == n.State {
			continue
		}
		rc.nodes[id] = n.State
		rc.j.Nodes = append(rc.j.Nodes, journal.NodeTransition{At: now, Node: id, State: n.State.String()})
	}
}

func (rc *recorder) recordMetrics(now time.Time, h *subject.Health) {
	for _, m := range h.Metrics {
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			continue // JSON has no NaN: one such value would lose the whole report
		}
		if last, ok := rc.lastSample[m.Name]; ok && now.Sub(last) < metricEvery {
			continue
		}
		rc.lastSample[m.Name] = now
		k, ok := rc.series[m.Name]
		if !ok {
			rc.j.Metrics = append(rc.j.Metrics, journal.MetricSeries{Name: m.Name, Unit: m.Unit, Kind: m.Kind.String()})
			k = len(rc.j.Metrics) - 1
			rc.series[m.Name] = k
		}
		rc.j.Metrics[k].Points = append(rc.j.Metrics[k].Points, journal.Point{At: now, Value: m.Value})
	}
}

func (rc *recorder) recordViolations(now time.Time, h *subject.Health) []journal.Event {
	var events []journal.Event
	present := map[violationKey]bool{}
	for _, v := range h.Violations {
		key := violationKey{v.Invariant, v.Target}
		present[key] = true
		if _, open := rc.open[key]; open {
			continue
		}
		rc.j.Violations = append(rc.j.Violations, journal.ViolationSpan{
			Invariant: key.invariant, Target: key.target, Severity: v.Severity.String(),
			Message: v.Message, RaisedAt: now,
		})
		rc.open[key] = len(rc.j.Violations) - 1
		if k, ok := rc.seen[key.invariant]; ok {
			rc.j.ViolationsSeen[k].Count++
		} else {
			rc.j.ViolationsSeen = append(rc.j.ViolationsSeen, journal.ViolationSeen{Invariant: key.invariant, FirstSeen: now, Count: 1})
			rc.seen[key.invariant] = len(rc.j.ViolationsSeen) - 1
		}
		events = append(events, journal.Event{Kind: journal.KindViolation, Message: key.String() + ": " + v.Message})
	}
	for key, k := range rc.open {
		if present[key] {
			continue
		}
		span := &rc.j.Violations[k]
		span.ClearedAt = timePtr(now)
		delete(rc.open, key)
		events = append(events, journal.Event{Kind: journal.KindCleared, Message: key.String() + " cleared after " + now.Sub(span.RaisedAt).Round(time.Millisecond).String()})
	}
	return events
}

func (k violationKey) String() string {
	if k.target == "" {
		return k.invariant
	}
	return k.invariant + " on " + k.target
}
