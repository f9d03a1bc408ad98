package journal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/journal/journaltest"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func at(sec float64) time.Time   { return t0.Add(time.Duration(sec * float64(time.Second))) }
func ptr(t time.Time) *time.Time { return &t }

// killRun is a 60s run: limiter-2 is killed at 10s, goes DOWN at 10.4s,
// node_down is raised at 10.6s; the kill is reverted at 20s, the node is
// UP at 21s and node_down cleared at 21.5s. Call options to vary it.
func killRun(opts ...func(*journal.Journal)) *journal.Journal {
	j := &journal.Journal{
		Subject: "ratelimiter", StartedAt: t0, FinishedAt: at(60),
		Chaos: []journal.Chaos{{Name: "kill limiter-2", Type: "CONTAINER_KILL", Target: "limiter-2", InjectedAt: at(10), RevertedAt: ptr(at(20))}},
		Nodes: []journal.NodeTransition{
			{At: at(0), Node: "redis", State: "UP"},
			{At: at(0), Node: "limiter-1", State: "UP"},
			{At: at(0), Node: "limiter-2", State: "UP"},
			{At: at(10.4), Node: "limiter-2", State: "DOWN"},
			{At: at(21), Node: "limiter-2", State: "UP"},
		},
		Violations: []journal.ViolationSpan{{Invariant: "node_down", Target: "limiter-2", RaisedAt: at(10.6), ClearedAt: ptr(at(21.5))}},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

func TestEvidenceOfAKillThatLandedAndRecovered(t *testing.T) {
	ev := journal.EvidenceFor(killRun(), 0)

	if got := stateOf(ev.Before.Nodes, "limiter-2"); got != "UP" {
		t.Errorf("before: limiter-2 is %q, want UP", got)
	}
	if len(ev.During.Nodes) != 1 || ev.During.Nodes[0].Node != "limiter-2" || strings.Join(ev.During.Nodes[0].States, ",") != "DOWN,UP" {
		t.Errorf("during: nodes changed = %+v, want limiter-2 DOWN then UP", ev.During.Nodes)
	}
	if len(ev.During.Violations) != 1 || ev.During.Violations[0].Invariant != "node_down" {
		t.Errorf("during: violations = %+v, want node_down", ev.During.Violations)
	}
	if ev.EffectAt == nil || !ev.EffectAt.Equal(at(10.4)) {
		t.Errorf("effect at %v, want the DOWN transition at %v", ev.EffectAt, at(10.4))
	}
	if ev.RecoveredAt == nil || !ev.RecoveredAt.Equal(at(21.5)) {
		t.Errorf("recovered at %v, want when node_down cleared, %v", ev.RecoveredAt, at(21.5))
	}
	if ev.After == nil || stateOf(ev.After.Nodes, "limiter-2") != "UP" || len(ev.After.Violations) != 0 {
		t.Errorf("after = %+v, want limiter-2 UP and no violation", ev.After)
	}
	if ev.Warning != "" {
		t.Errorf("warning %q on a fault that landed and healed", ev.Warning)
	}
}

func TestEvidenceWarnsWhenNothingHappened(t *testing.T) {
	j := killRun(func(j *journal.Journal) {
		j.Nodes = j.Nodes[:3]
		j.Violations = nil
	})
	ev := journal.EvidenceFor(j, 0)
	if ev.EffectAt != nil {
		t.Errorf("effect at %v with no change in health", ev.EffectAt)
	}
	if !strings.Contains(ev.Warning, "no observable effect") || !strings.Contains(ev.Warning, "kill limiter-2") {
		t.Errorf("warning = %q, want it to say no observable effect followed kill limiter-2", ev.Warning)
	}
}

func TestEvidenceWarnsWhenHealthNeverCameBack(t *testing.T) {
	j := killRun(func(j *journal.Journal) {
		j.Nodes = j.Nodes[:4] // never UP again
		j.Violations[0].ClearedAt = nil
	})
	ev := journal.EvidenceFor(j, 0)
	if ev.RecoveredAt != nil {
		t.Errorf("recovered at %v, but limiter-2 stayed DOWN", ev.RecoveredAt)
	}
	for _, want := range []string{"no recovery", "limiter-2 DOWN (was UP)", "node_down still raised"} {
		if !strings.Contains(ev.Warning, want) {
			t.Errorf("warning = %q, want it to contain %q", ev.Warning, want)
		}
	}
}

func TestEvidenceWarnsWhenNeverReverted(t *testing.T) {
	ev := journal.EvidenceFor(killRun(func(j *journal.Journal) { j.Chaos[0].RevertedAt = nil }), 0)
	if ev.After != nil {
		t.Errorf("after = %+v for a fault never reverted, want none", ev.After)
	}
	if !strings.Contains(ev.Warning, "never reverted") {
		t.Errorf("warning = %q, want never reverted", ev.Warning)
	}
}

func TestEvidenceSeesAMetricOnlyEffect(t *testing.T) {
	j := killRun(func(j *journal.Journal) {
		j.Chaos[0] = journal.Chaos{Name: "5x burst", Type: "BURST_TRAFFIC", InjectedAt: at(10), RevertedAt: ptr(at(20))}
		j.Nodes, j.Violations = j.Nodes[:3], nil
		m := journal.MetricSeries{Name: "denied", Unit: "req/s"}
		for s := 0; s < 60; s++ {
			v := 2.0 + float64(s%3) // noise: 2..4
			if s >= 11 && s <= 20 {
				v = 800
			}
			m.Points = append(m.Points, journal.Point{At: at(float64(s)), Value: v})
		}
		j.Metrics = []journal.MetricSeries{m}
	})
	ev := journal.EvidenceFor(j, 0)
	if len(ev.During.Metrics) != 1 || ev.During.Metrics[0].Max != 800 {
		t.Fatalf("during: metrics = %+v, want denied up to 800", ev.During.Metrics)
	}
	if ev.EffectAt == nil || !ev.EffectAt.Equal(at(11)) {
		t.Errorf("effect at %v, want the first sample out of range at %v", ev.EffectAt, at(11))
	}
	if ev.RecoveredAt == nil || !ev.RecoveredAt.Equal(at(21)) {
		t.Errorf("recovered at %v, want the first sample back in range at %v", ev.RecoveredAt, at(21))
	}
	if ev.Warning != "" {
		t.Errorf("warning %q, want none", ev.Warning)
	}
}

// Over a noisy 30-minute run, exactly the faults that hit nothing are
// flagged: metric noise is not taken for an effect.
func TestEvidenceOverALongNoisyRun(t *testing.T) {
	j := journaltest.Sample(30*time.Minute, 3)
	j.AddEvidence()
	flagged := 0
	for _, c := range j.Chaos {
		hitNothing := c.Target == "redis-replica"
		warned := strings.Contains(c.Evidence.Warning, "no observable effect")
		if warned != hitNothing {
			t.Errorf("%s at %v: warning %q", c.Name, c.InjectedAt.Sub(j.StartedAt), c.Evidence.Warning)
		}
		if !hitNothing && c.Evidence.Warning != "" {
			t.Errorf("%s at %v: unexpected warning %q", c.Name, c.InjectedAt.Sub(j.StartedAt), c.Evidence.Warning)
		}
		if warned {
			flagged++
		}
	}
	if flagged == 0 {
		t.Error("the sample has faults that hit nothing, none was flagged")
	}
}

func TestEvidenceSurvivesTheJSONJournal(t *testing.T) {
	j := killRun()
	j.AddEvidence()
	path := filepath.Join(t.TempDir(), "r.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Encode(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := journal.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	ev := back.Chaos[0].Evidence
	if ev == nil || ev.EffectAt == nil || !ev.EffectAt.Equal(at(10.4)) {
		t.Fatalf("evidence read back = %+v, want effect at %v", ev, at(10.4))
	}
}

func stateOf(nodes []journal.NodeState, name string) string {
	for _, n := range nodes {
		if n.Node == name {
			return n.State
		}
	}
	return ""
}

// A running total that grows as usual through a fault is no effect; a
// jump in its rate is, and health is back when the rate is.
func TestEvidenceJudgesCountersByTheirRate(t *testing.T) {
	counter := func(burst bool) *journal.Journal {
		return killRun(func(j *journal.Journal) {
			j.Nodes, j.Violations = j.Nodes[:3], nil
			m := journal.MetricSeries{Name: "allowed", Unit: "req"}
			total := 0.0
			for s := 0; s < 60; s++ {
				rate := 30.0 + float64(s%2) // 30-31 req/s
				if burst && s > 10 && s <= 20 {
					rate = 150
				}
				total += rate
				m.Points = append(m.Points, journal.Point{At: at(float64(s)), Value: total})
			}
			j.Metrics = []journal.MetricSeries{m}
		})
	}
	ev := journal.EvidenceFor(counter(false), 0)
	if ev.EffectAt != nil || !strings.Contains(ev.Warning, "no observable effect") {
		t.Errorf("a counter growing at its usual rate was taken for an effect: %+v", ev.During.Metrics)
	}
	ev = journal.EvidenceFor(counter(true), 0)
	if len(ev.During.Metrics) != 1 || !ev.During.Metrics[0].Rate || ev.During.Metrics[0].Max != 150 {
		t.Fatalf("during: metrics = %+v, want the allowed rate up to 150/s", ev.During.Metrics)
	}
	if ev.EffectAt == nil || !ev.EffectAt.Equal(at(11)) || ev.RecoveredAt == nil || !ev.RecoveredAt.Equal(at(21)) {
		t.Errorf("effect at %v, recovered at %v; want %v and %v", ev.EffectAt, ev.RecoveredAt, at(11), at(21))
	}
}

// Recovery is judged on nodes and violations: a metric that stays
// changed after the nodes are back does not count against it.
func TestEvidenceRecoveryFollowsNodesAndViolations(t *testing.T) {
	j := killRun(func(j *journal.Journal) {
		m := journal.MetricSeries{Name: "p99", Unit: "ms"}
		for s := 0; s < 60; s++ {
			v := 4.0
			if s > 10 {
				v = 90 // stays high to the end
			}
			m.Points = append(m.Points, journal.Point{At: at(float64(s)), Value: v})
		}
		j.Metrics = []journal.MetricSeries{m}
	})
	ev := journal.EvidenceFor(j, 0)
	if ev.RecoveredAt == nil || !ev.RecoveredAt.Equal(at(21.5)) || ev.Warning != "" {
		t.Errorf("recovered at %v, warning %q; want %v and none", ev.RecoveredAt, ev.Warning, at(21.5))
	}
}
