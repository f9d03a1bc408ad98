package runner

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/sdk"
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
	go u.watchHealth(ctx, u.subject, u.healthStream)
}

// watchHealth keeps a health stream open until ctx ends, reconnecting with
// a backoff whenever it breaks, and hands every snapshot to the loop.
func (u *run) watchHealth(ctx context.Context, subject Subject, stream int) {
	backoff := minBackoff
	for {
		got := false
		err := subject.WatchHealth(ctx, u.cfg.HealthInterval, func(s *sdk.HealthSnapshot) {
			got = true
			u.r.send(func(u *run) {
				if u.healthStream == stream {
					u.onHealth(s)
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
	u.event(journal.KindError, "health stream: "+err.Error()+"; reconnecting in "+retryIn.String())
	u.health = unobserved(u.health, "health stream: "+err.Error())
	if status.Code(err) == codes.Unavailable {
		u.pluginFailed("plugin unreachable", err)
	}
}

// unobserved is what is known while the subject cannot be observed: the
// last nodes seen, each UNKNOWN, and the error.
func unobserved(last *sdk.HealthSnapshot, why string) *sdk.HealthSnapshot {
	snap := &sdk.HealthSnapshot{TakenAt: sdk.Time(time.Now()), Error: why}
	for _, n := range last.GetNodes() {
		snap.Nodes = append(snap.Nodes, &sdk.Node{
			Id: n.GetId(), Name: n.GetName(), Role: n.GetRole(), Address: n.GetAddress(),
			State: sdk.Unknown, Detail: why,
		})
	}
	return snap
}

// onHealth records a snapshot and checks the current chapter against it.
func (u *run) onHealth(snap *sdk.HealthSnapshot) {
	if u.phase != PhaseRunning {
		return
	}
	now := time.Now()
	if was := u.health.GetError(); snap.GetError() != was {
		if snap.GetError() != "" {
			u.event(journal.KindError, "subject could not be observed: "+snap.GetError())
		} else if was != "" {
			u.event(journal.KindStatus, "subject observed again")
		}
	}
	if snap.GetError() != "" && len(snap.GetNodes()) == 0 {
		snap = unobserved(u.health, snap.GetError())
	}
	u.health = snap
	for _, e := range u.rec.record(now, snap) {
		u.event(e.Kind, e.Message)
	}
	u.evaluate(snap, now)
}

// recorder turns the health stream into the journal's node transitions,
// violation spans and metric series.
type recorder struct {
	j          *journal.Journal
	nodes      map[string]sdk.NodeState
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
		nodes:      map[string]sdk.NodeState{},
		open:       map[violationKey]int{},
		seen:       map[string]int{},
		series:     map[string]int{},
		lastSample: map[string]time.Time{},
	}
}

// record journals what changed in snap and returns the events to show.
func (rc *recorder) record(now time.Time, snap *sdk.HealthSnapshot) []journal.Event {
	if snap.GetError() != "" {
		return nil // nothing observed: keep the last known state
	}
	rc.recordNodes(now, snap)
	rc.recordMetrics(now, snap)
	return rc.recordViolations(now, snap)
}

func (rc *recorder) recordNodes(now time.Time, snap *sdk.HealthSnapshot) {
	for _, n := range snap.GetNodes() {
		id := n.GetId()
		if id == "" {
			id = n.GetName()
		}
		if last, ok := rc.nodes[id]; ok && last == n.GetState() {
			continue
		}
		rc.nodes[id] = n.GetState()
		rc.j.Nodes = append(rc.j.Nodes, journal.NodeTransition{At: now, Node: id, State: n.GetState().String()})
	}
}

func (rc *recorder) recordMetrics(now time.Time, snap *sdk.HealthSnapshot) {
	for _, m := range snap.GetMetrics() {
		if last, ok := rc.lastSample[m.GetName()]; ok && now.Sub(last) < metricEvery {
			continue
		}
		rc.lastSample[m.GetName()] = now
		k, ok := rc.series[m.GetName()]
		if !ok {
			rc.j.Metrics = append(rc.j.Metrics, journal.MetricSeries{Name: m.GetName(), Unit: m.GetUnit()})
			k = len(rc.j.Metrics) - 1
			rc.series[m.GetName()] = k
		}
		rc.j.Metrics[k].Points = append(rc.j.Metrics[k].Points, journal.Point{At: now, Value: m.GetValue()})
	}
}

func (rc *recorder) recordViolations(now time.Time, snap *sdk.HealthSnapshot) []journal.Event {
	var events []journal.Event
	present := map[violationKey]bool{}
	for _, v := range snap.GetViolations() {
		key := violationKey{v.GetInvariant(), v.GetTarget()}
		present[key] = true
		if _, open := rc.open[key]; open {
			continue
		}
		rc.j.Violations = append(rc.j.Violations, journal.ViolationSpan{
			Invariant: key.invariant, Target: key.target, Severity: v.GetSeverity().String(),
			Message: v.GetMessage(), RaisedAt: now,
		})
		rc.open[key] = len(rc.j.Violations) - 1
		if k, ok := rc.seen[key.invariant]; ok {
			rc.j.ViolationsSeen[k].Count++
		} else {
			rc.j.ViolationsSeen = append(rc.j.ViolationsSeen, journal.ViolationSeen{Invariant: key.invariant, FirstSeen: now, Count: 1})
			rc.seen[key.invariant] = len(rc.j.ViolationsSeen) - 1
		}
		events = append(events, journal.Event{Kind: journal.KindViolation, Message: key.String() + ": " + v.GetMessage()})
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
