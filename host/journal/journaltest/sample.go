// Package journaltest builds realistic journals for tests: a simulated
// rate-limiter run of any length, with several nodes, chaos of three
// kinds, violations raised and cleared, metrics sampled every second, a
// failed chapter, a skipped one and one fault with no observable effect.
// It is test data, not a subject: nothing here talks to a cluster.
package journaltest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/demohost/demohost/host/journal"
)

// Start is when every sample run starts.
var Start = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// Sample returns a run of about length (at least one cycle of about 110s
// is simulated) with limiters limiter nodes plus one redis node. The same
// arguments always give the same journal.
func Sample(length time.Duration, limiters int) *journal.Journal {
	s := &sim{
		j: &journal.Journal{
			Subject: "ratelimiter", SubjectVersion: "0.3.0", Headless: true,
			Options:   map[string]string{"runtime": "local", "limiters": fmt.Sprint(limiters)},
			StartedAt: Start,
		},
		rng: rand.New(rand.NewPCG(uint64(length), uint64(limiters))),
		now: Start,
	}
	s.nodes = []string{"redis"}
	for i := 1; i <= limiters; i++ {
		s.nodes = append(s.nodes, fmt.Sprintf("limiter-%d", i))
	}
	for _, n := range s.nodes {
		s.state(n, "UP")
	}
	s.load = 1
	s.metric("allowed", "req/s")
	s.metric("denied", "req/s")
	s.metric("p99 latency", "ms")
	s.metric("redis ops", "ops/s")

	for cycle := 0; cycle == 0 || s.now.Sub(Start) < length-100*time.Second; cycle++ {
		s.cycle(cycle)
	}
	s.chapter("Bonus: network partition", 0, journal.Skipped, nil)
	s.j.FinishedAt = s.now.Add(500 * time.Millisecond)
	s.j.Result = journal.Passed
	for _, c := range s.j.Chapters {
		if c.Status == journal.Failed {
			s.j.Result = journal.Failed
		}
	}
	return s.j
}

type sim struct {
	j     *journal.Journal
	rng   *rand.Rand
	now   time.Time
	nodes []string
	// load is the traffic multiplier; redisDn is set while redis is
	// paused.
	load    float64
	redisDn bool
	todo    []pending
}

// cycle is one pass of the demo script; every third cycle the recovery
// is too slow for its expectation, and every fourth has a fault that
// lands on nothing (both start with the first).
func (s *sim) cycle(n int) {
	slow := n%3 == 0
	s.chapter("Steady traffic", 20*time.Second, journal.Passed, []journal.Expectation{
		s.expect("all nodes UP within 10s", 0.3, 10),
	})

	// Pause redis for 8s.
	s.chaos("pause redis", "REDIS_PAUSE", "redis", 8*time.Second, "duration")
	s.at(0.2, func() { s.state("redis", "PAUSED"); s.redisDn = true })
	s.at(0.7, func() { s.raise("redis_unreachable", "redis", "critical", "limiters cannot reach redis") })
	s.at(0.9, func() {
		for _, l := range s.nodes[1:] {
			s.state(l, "DEGRADED")
		}
	})
	s.chapter("Pause Redis", 15*time.Second, journal.Passed, []journal.Expectation{
		s.expect("violation redis_unreachable present within 5s", 0.7, 5),
	})
	s.chapter("Redis is back", 15*time.Second, journal.Passed, []journal.Expectation{
		s.expect("no violation within 10s", 0.9, 10),
	})

	// A 5x burst for 10s: the limiter denies the excess.
	s.chaos("5x traffic burst", "BURST_TRAFFIC", "limiters", 10*time.Second, "duration")
	s.at(0.1, func() { s.load = 5 })
	s.chapter("Traffic burst", 20*time.Second, journal.Passed, []journal.Expectation{
		s.expect("metric denied above 100 within 5s", 1.2, 5),
	})

	// Kill a limiter; the next chapter restarts it.
	victim := s.nodes[1+n%(len(s.nodes)-1)]
	kill := s.chaos("kill "+victim, "CONTAINER_KILL", victim, 0, "")
	s.at(0.3, func() { s.state(victim, "DOWN") })
	s.at(0.6, func() { s.raise("node_down", victim, "critical", victim+" does not answer") })
	s.chapter("Kill a limiter", 15*time.Second, journal.Passed, []journal.Expectation{
		s.expect("violation node_down present within 10s", 0.6, 10),
	})
	s.revert(kill, "chapter")
	up := 1.4
	if slow {
		up = 12.5
	}
	s.at(up, func() { s.state(victim, "UP") })
	s.at(up+0.3, func() { s.clear("node_down") })
	if slow {
		s.chapter("Restart the limiter", 20*time.Second, journal.Failed, []journal.Expectation{
			s.expect("all nodes UP within 10s", -1, 10),
		})
	} else {
		s.chapter("Restart the limiter", 20*time.Second, journal.Passed, []journal.Expectation{
			s.expect("all nodes UP within 10s", up, 10),
		})
	}

	if n%4 == 0 {
		// A fault that lands on nothing: the replica is not in the path.
		s.chaos("pause replica", "REDIS_PAUSE", "redis-replica", 6*time.Second, "duration")
		s.chapter("Pause the replica", 10*time.Second, journal.Passed, nil)
	}
}

// chapter records a chapter that starts now and lasts d, advancing time
// and sampling metrics as it goes.
func (s *sim) chapter(title string, d time.Duration, status string, exps []journal.Expectation) {
	idx := len(s.j.Chapters)
	c := journal.Chapter{Index: idx, Title: title, Status: status, Expectations: exps}
	if c.Expectations == nil {
		c.Expectations = []journal.Expectation{}
	}
	if status != journal.Skipped {
		start := s.now
		c.StartedAt = &start
		s.event(journal.KindChapter, fmt.Sprintf("chapter %d: %s", idx+1, title))
		s.advance(d)
		end := s.now
		c.FinishedAt = &end
	}
	for i := range c.Expectations {
		e := &c.Expectations[i]
		if c.StartedAt != nil {
			e.Deadline = c.StartedAt.Add(e.Deadline.Sub(time.Time{}))
			if e.MetAt != nil {
				at := c.StartedAt.Add(e.MetAt.Sub(time.Time{}))
				e.MetAt = &at
			}
		}
	}
	s.j.Chapters = append(s.j.Chapters, c)
}

// expect is an expectation met metAfter seconds into its chapter (a
// negative metAfter: not met), with a deadline of within seconds.
// Times are relative until chapter makes them absolute.
func (s *sim) expect(desc string, metAfter, within float64) journal.Expectation {
	e := journal.Expectation{Description: desc, Deadline: time.Time{}.Add(secs(within))}
	if metAfter >= 0 {
		at := time.Time{}.Add(secs(metAfter))
		e.Met, e.MetAt = true, &at
	} else {
		e.Reason = fmt.Sprintf("timed out after %gs: limiter still DOWN in the last snapshot", within)
	}
	return e
}

// pending holds actions scheduled relative to now.
type pending struct {
	at time.Time
	do func()
}

// at runs do after sec seconds of simulated time (during the next
// chapter's advance).
func (s *sim) at(sec float64, do func()) { s.todo = append(s.todo, pending{s.now.Add(secs(sec)), do}) }

func (s *sim) chaos(name, typ, target string, d time.Duration, by string) int {
	i := len(s.j.Chaos)
	s.j.Chaos = append(s.j.Chaos, journal.Chaos{
		Name: name, Type: typ, Target: target, Handle: fmt.Sprintf("h-%d", i+1),
		Chapter: len(s.j.Chapters), InjectedAt: s.now,
	})
	s.event(journal.KindChaos, "injected "+name)
	if d > 0 {
		s.at(d.Seconds(), func() { s.revert(i, by) })
	}
	return i
}

func (s *sim) revert(i int, by string) {
	at := s.now
	s.j.Chaos[i].RevertedAt, s.j.Chaos[i].RevertedBy = &at, by
	s.event(journal.KindRevert, "reverted "+s.j.Chaos[i].Name)
	switch s.j.Chaos[i].Type {
	case "REDIS_PAUSE":
		if s.j.Chaos[i].Target != "redis" {
			return
		}
		s.at(0.1, func() { s.state("redis", "UP"); s.redisDn = false })
		s.at(0.5, func() {
			for _, l := range s.nodes[1:] {
				s.state(l, "UP")
			}
		})
		s.at(0.8, func() { s.clear("redis_unreachable") })
	case "BURST_TRAFFIC":
		s.load = 1
	}
}

func (s *sim) state(node, st string) {
	s.j.Nodes = append(s.j.Nodes, journal.NodeTransition{At: s.now, Node: node, State: st})
}

func (s *sim) raise(inv, target, sev, msg string) {
	s.j.Violations = append(s.j.Violations, journal.ViolationSpan{
		Invariant: inv, Target: target, Severity: sev, Message: msg, RaisedAt: s.now,
	})
	for i := range s.j.ViolationsSeen {
		if s.j.ViolationsSeen[i].Invariant == inv {
			s.j.ViolationsSeen[i].Count++
			s.event(journal.KindViolation, inv+": "+msg)
			return
		}
	}
	s.j.ViolationsSeen = append(s.j.ViolationsSeen, journal.ViolationSeen{Invariant: inv, FirstSeen: s.now, Count: 1})
	s.event(journal.KindViolation, inv+": "+msg)
}

func (s *sim) clear(inv string) {
	for i := range s.j.Violations {
		if v := &s.j.Violations[i]; v.Invariant == inv && v.ClearedAt == nil {
			at := s.now
			v.ClearedAt = &at
			s.event(journal.KindCleared, inv+" cleared")
		}
	}
}

func (s *sim) metric(name, unit string) {
	s.j.Metrics = append(s.j.Metrics, journal.MetricSeries{Name: name, Unit: unit, Points: []journal.Point{}})
}

func (s *sim) event(kind, msg string) {
	s.j.Events = append(s.j.Events, journal.Event{At: s.now, Kind: kind, Message: msg})
}

// advance moves time on by d in 100ms steps, running scheduled actions
// and sampling metrics on every whole second.
func (s *sim) advance(d time.Duration) {
	end := s.now.Add(d)
	for s.now.Before(end) {
		s.now = s.now.Add(100 * time.Millisecond)
		for i := 0; i < len(s.todo); i++ {
			if !s.todo[i].at.After(s.now) {
				do := s.todo[i].do
				s.todo = append(s.todo[:i], s.todo[i+1:]...)
				i--
				do()
			}
		}
		if s.now.Sub(Start)%time.Second == 0 {
			s.sample()
		}
	}
}

// sample records one point per metric: 200 req/s offered per unit of
// load, a limit of 300 req/s, nothing allowed while redis is paused.
func (s *sim) sample() {
	noise := func(v, share float64) float64 { return math.Round(v*(1+share*(s.rng.Float64()*2-1))*10) / 10 }
	offered := 200 * s.load
	allowed, denied := math.Min(offered, 300), math.Max(offered-300, 0)
	p99, ops := 4.0, 2*offered
	if s.redisDn {
		allowed, denied, p99, ops = 0, 0, 1000, 0
	}
	for i, v := range []float64{noise(allowed, 0.05), noise(denied, 0.05), noise(p99, 0.2), noise(ops, 0.05)} {
		m := &s.j.Metrics[i]
		m.Points = append(m.Points, journal.Point{At: s.now, Value: v})
	}
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
