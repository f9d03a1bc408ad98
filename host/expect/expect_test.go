package expect_test

import (
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/expect"
	"github.com/demohost/demohost/host/subject"
)

func snapshot() *subject.Health {
	return &subject.Health{
		Nodes: []subject.Node{
			{ID: "n1", Name: "node-1", State: subject.Up},
			{ID: "n2", Name: "node-2", State: subject.Down},
		},
		Metrics: []subject.Metric{{Name: "requests", Value: 300, Unit: "req"}},
		Violations: []subject.Violation{
			{Invariant: "node_down", Severity: subject.Critical, Target: "node-2", Message: "node-2 is not answering"},
		},
	}
}

// Checks as the sdk's constructors make them.
func violation(invariant string) subject.Check {
	return subject.Check{Kind: subject.CheckViolationPresent, Invariant: invariant}
}

func noViolation(invariant string) subject.Check {
	return subject.Check{Kind: subject.CheckViolationAbsent, Invariant: invariant}
}

func allNodes(s subject.NodeState) subject.Check {
	return subject.Check{Kind: subject.CheckAllNodes, State: s}
}

func node(target string, s subject.NodeState) subject.Check {
	return subject.Check{Kind: subject.CheckNode, Target: target, State: s}
}

func metricAbove(name string, x float64) subject.Check {
	return subject.Check{Kind: subject.CheckMetricAbove, Target: name, Threshold: x}
}

func metricBelow(name string, x float64) subject.Check {
	return subject.Check{Kind: subject.CheckMetricBelow, Target: name, Threshold: x}
}

func TestEvaluate(t *testing.T) {
	allUp := &subject.Health{Nodes: []subject.Node{{ID: "a", State: subject.Up}, {ID: "b", State: subject.Up}}}
	tests := []struct {
		name      string
		check     subject.Check
		snap      *subject.Health
		met       bool
		reasonHas string
	}{
		{"violation present", violation("node_down"), snapshot(), true, "node_down on node-2 present"},
		{"violation present on the named target", subject.Check{Kind: subject.CheckViolationPresent, Invariant: "node_down", Target: "node-2"}, snapshot(), true, "node-2"},
		{"violation on another target is not it", subject.Check{Kind: subject.CheckViolationPresent, Invariant: "node_down", Target: "node-1"}, snapshot(), false, "no node_down on node-1 violation; present: node_down on node-2"},
		{"violation missing", violation("split_brain"), snapshot(), false, "no split_brain violation"},
		{"violation missing with none present", violation("node_down"), allUp, false, "present: none"},
		{"no violation of that invariant", noViolation("split_brain"), snapshot(), true, "no split_brain violation"},
		{"violation still present", noViolation("node_down"), snapshot(), false, "node_down on node-2 present"},
		{"no violations at all: one present", noViolation(""), snapshot(), false, "present"},
		{"no violations at all: none present", noViolation(""), allUp, true, "no violations"},
		{"all nodes up: one down", allNodes(subject.Up), snapshot(), false, "node-2 DOWN"},
		{"all nodes up", allNodes(subject.Up), allUp, true, "all 2 nodes UP"},
		{"all nodes up: no nodes", allNodes(subject.Up), &subject.Health{}, false, "no nodes reported"},
		{"node by name", node("node-2", subject.Down), snapshot(), true, "node-2 is DOWN"},
		{"node by id", node("n1", subject.Up), snapshot(), true, "node-1 is UP"},
		{"node in another state", node("node-1", subject.Down), snapshot(), false, "node-1 is UP"},
		{"node missing", node("node-9", subject.Up), snapshot(), false, "node node-9 not reported"},
		{"metric above", metricAbove("requests", 0), snapshot(), true, "requests = 300 req"},
		{"metric not above", metricAbove("requests", 300), snapshot(), false, "requests = 300 req"},
		{"metric below", metricBelow("requests", 301), snapshot(), true, "requests = 300"},
		{"metric not below", metricBelow("requests", 300), snapshot(), false, "requests = 300"},
		{"metric missing", metricAbove("latency", 1), snapshot(), false, "metric latency not reported"},
		{"subject unobservable", noViolation(""), &subject.Health{Error: "connection refused"}, false, "could not be observed: connection refused"},
		{"no snapshot", allNodes(subject.Up), nil, false, "no health snapshot yet"},
		{"unknown kind", subject.Check{Kind: 99}, snapshot(), false, "unknown check kind 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			met, reason := expect.Evaluate(tt.check, tt.snap)
			if met != tt.met {
				t.Errorf("met = %v, want %v (reason %q)", met, tt.met, reason)
			}
			if !strings.Contains(reason, tt.reasonHas) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.reasonHas)
			}
		})
	}
}

func eventually(c subject.Check, within time.Duration) subject.Expectation {
	return subject.Expectation{Mode: subject.Eventually, Check: c, Within: within}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		exp  subject.Expectation
		want string
	}{
		{eventually(violation("node_down"), 10*time.Second), "violation node_down present within 10s"},
		{eventually(subject.Check{Kind: subject.CheckViolationPresent, Invariant: "node_down", Target: "node-2"}, time.Second), "violation node_down on node-2 present within 1s"},
		{eventually(noViolation(""), 90*time.Second), "no violations within 1m30s"},
		{eventually(noViolation("node_down"), 2*time.Minute), "no violation node_down within 2m"},
		{eventually(allNodes(subject.Up), 5*time.Second), "all nodes UP within 5s"},
		{eventually(node("node-1", subject.Paused), 500*time.Millisecond), "node node-1 PAUSED within 500ms"},
		{eventually(metricAbove("requests", 0), time.Second), "metric requests > 0 within 1s"},
		{eventually(metricBelow("error_rate", 0.05), time.Second), "metric error_rate < 0.05 within 1s"},
		{subject.Expectation{Check: allNodes(subject.Up), Description: "the cluster heals"}, "the cluster heals"},
		// Each mode says itself.
		{subject.Expectation{Mode: subject.Holds, Check: noViolation("split_brain"), Within: 20 * time.Second}, "holds for 20s: no violation split_brain"},
		{subject.Expectation{Mode: subject.Holds, Check: metricAbove("writes", 0), WhileFault: true}, "holds while the fault is active: metric writes > 0"},
		{subject.Expectation{Mode: subject.Before, Check: allNodes(subject.Up), Within: 30 * time.Second}, "before the fault: all nodes UP (within 30s)"},
		{subject.Expectation{Mode: subject.After, Check: noViolation(""), Within: 10 * time.Second}, "after the revert: no violations within 10s"},
	}
	for _, tt := range tests {
		if got := expect.Describe(tt.exp); got != tt.want {
			t.Errorf("Describe = %q, want %q", got, tt.want)
		}
	}
}

func TestAPluginsDescriptionKeepsTheMode(t *testing.T) {
	d := "never two leaders in one term"
	for _, tt := range []struct {
		e    subject.Expectation
		want string
	}{
		{subject.Expectation{Description: d}, d},
		{subject.Expectation{Mode: subject.Holds, WhileFault: true, Description: d}, "holds while the fault is active: " + d},
		{subject.Expectation{Mode: subject.Holds, Within: 4 * time.Second, Description: d}, "holds for 4s: " + d},
		{subject.Expectation{Mode: subject.Before, Description: d}, "before the fault: " + d},
		{subject.Expectation{Mode: subject.After, Description: d}, "after the revert: " + d},
	} {
		if got := expect.Describe(tt.e); got != tt.want {
			t.Errorf("Describe(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestNoViolationsIgnoresInformationalOnes(t *testing.T) {
	h := &subject.Health{Violations: []subject.Violation{{Invariant: "leader_changed", Severity: subject.Info, Message: "m2 leads now"}}}
	if met, why := expect.Evaluate(subject.Check{Kind: subject.CheckViolationAbsent}, h); !met {
		t.Errorf("no violations with only an INFO one present: %v (%s)", met, why)
	}
	if met, _ := expect.Evaluate(subject.Check{Kind: subject.CheckViolationAbsent, Invariant: "leader_changed"}, h); met {
		t.Error("no leader_changed while it is present (INFO or not): met")
	}
	if met, _ := expect.Evaluate(subject.Check{Kind: subject.CheckViolationPresent, Invariant: "leader_changed"}, h); !met {
		t.Error("leader_changed present: not met")
	}
}
