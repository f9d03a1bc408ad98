package journal_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
)

// manyNodes is a 10-minute run over nodes unique node ids (a plugin that
// names every node anew), each seen UP then DOWN then UP again, with 10
// faults, 3 violations each, and a metric sampled every second.
func manyNodes(nodes int) *journal.Journal {
	start := t0
	j := &journal.Journal{StartedAt: start, FinishedAt: start.Add(10 * time.Minute)}
	step := 10 * time.Minute / time.Duration(nodes)
	for i := range nodes {
		at := start.Add(time.Duration(i) * step)
		id := fmt.Sprintf("node-%06d", i)
		j.Nodes = append(j.Nodes,
			journal.NodeTransition{At: at, Node: id, State: "UP"},
			journal.NodeTransition{At: at.Add(step / 3), Node: id, State: "DOWN"},
			journal.NodeTransition{At: at.Add(2 * step / 3), Node: id, State: "UP"})
	}
	// Node lists are in time order, as the runner writes them.
	for i := 1; i < len(j.Nodes); i++ {
		for k := i; k > 0 && j.Nodes[k].At.Before(j.Nodes[k-1].At); k-- {
			j.Nodes[k], j.Nodes[k-1] = j.Nodes[k-1], j.Nodes[k]
		}
	}
	m := journal.MetricSeries{Name: "requests", Kind: "gauge"}
	for s := range 600 {
		m.Points = append(m.Points, journal.Point{At: start.Add(time.Duration(s) * time.Second), Value: float64(100 + s%7)})
	}
	j.Metrics = []journal.MetricSeries{m}
	for f := range 10 {
		in := start.Add(time.Duration(30+f*55) * time.Second)
		out := in.Add(20 * time.Second)
		j.Chaos = append(j.Chaos, journal.Chaos{Name: fmt.Sprintf("fault %d", f), InjectedAt: in, RevertedAt: &out})
		for v := range 3 {
			cleared := in.Add(time.Duration(25+v) * time.Second)
			j.Violations = append(j.Violations, journal.ViolationSpan{Invariant: fmt.Sprintf("inv_%d", v), RaisedAt: in.Add(time.Second), ClearedAt: &cleared})
		}
	}
	return j
}

// BenchmarkEvidenceManyNodes computes every fault's evidence (AddEvidence)
// for a 10-minute journal with 10,000 unique node ids, 30,000 transitions,
// 10 faults, 30 violations and 600 metric samples: the shape that kept the
// host at 100 % of a core for 11 minutes after a run. The figure is the
// time of one AddEvidence over the whole journal.
//
// Target: under 100 ms, so a run's end and `demohost report` stay prompt
// whatever the number of nodes.
func BenchmarkEvidenceManyNodes(b *testing.B) {
	j := manyNodes(10000)
	for b.Loop() {
		j.AddEvidence()
	}
}

// The evidence of a run whose plugin named 10,000 nodes anew is there in
// moments, not minutes (it was quadratic in nodes × transitions). The
// bound is a guard against that, far above BenchmarkEvidenceManyNodes'
// figure, not a timing target.
func TestEvidenceOfManyUniqueNodesEnds(t *testing.T) {
	j := manyNodes(10000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		j.AddEvidence()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the evidence of 10,000 unique nodes was not computed within 30s")
	}
	if ev := j.Chaos[0].Evidence; ev == nil || ev.EffectAt == nil || ev.RecoveredAt == nil {
		t.Errorf("first fault's evidence = %+v; want an effect and a recovery", ev)
	}
}
