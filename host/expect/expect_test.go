package expect_test

import (
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/expect"
	"github.com/demohost/demohost/sdk"
)

func snapshot() *sdk.HealthSnapshot {
	return &sdk.HealthSnapshot{
		Nodes: []*sdk.Node{
			{Id: "n1", Name: "node-1", State: sdk.Up},
			{Id: "n2", Name: "node-2", State: sdk.Down},
		},
		Metrics: []*sdk.Metric{{Name: "requests", Value: 300, Unit: "req"}},
		Violations: []*sdk.Violation{
			{Invariant: "node_down", Target: "node-2", Message: "node-2 is not answering"},
		},
	}
}

func TestEvaluate(t *testing.T) {
	allUp := &sdk.HealthSnapshot{Nodes: []*sdk.Node{{Id: "a", State: sdk.Up}, {Id: "b", State: sdk.Up}}}
	tests := []struct {
		name      string
		exp       *sdk.Expectation
		snap      *sdk.HealthSnapshot
		met       bool
		reasonHas string
	}{
		{"violation present", sdk.ExpectViolation("node_down", time.Second), snapshot(), true, "node_down on node-2 present"},
		{"violation present on the named target", &sdk.Expectation{Kind: 1, Invariant: "node_down", Target: "node-2"}, snapshot(), true, "node-2"},
		{"violation on another target is not it", &sdk.Expectation{Kind: 1, Invariant: "node_down", Target: "node-1"}, snapshot(), false, "no node_down on node-1 violation; present: node_down on node-2"},
		{"violation missing", sdk.ExpectViolation("split_brain", time.Second), snapshot(), false, "no split_brain violation"},
		{"violation missing with none present", sdk.ExpectViolation("node_down", time.Second), allUp, false, "present: none"},
		{"no violation of that invariant", sdk.ExpectNoViolation("split_brain", time.Second), snapshot(), true, "no split_brain violation"},
		{"violation still present", sdk.ExpectNoViolation("node_down", time.Second), snapshot(), false, "node_down on node-2 still present"},
		{"no violations at all: one present", sdk.ExpectNoViolation("", time.Second), snapshot(), false, "still present"},
		{"no violations at all: none present", sdk.ExpectNoViolation("", time.Second), allUp, true, "no violations"},
		{"all nodes up: one down", sdk.ExpectAllNodes(sdk.Up, time.Second), snapshot(), false, "node-2 DOWN"},
		{"all nodes up", sdk.ExpectAllNodes(sdk.Up, time.Second), allUp, true, "all 2 nodes UP"},
		{"all nodes up: no nodes", sdk.ExpectAllNodes(sdk.Up, time.Second), &sdk.HealthSnapshot{}, false, "no nodes reported"},
		{"node by name", sdk.ExpectNode("node-2", sdk.Down, time.Second), snapshot(), true, "node-2 is DOWN"},
		{"node by id", sdk.ExpectNode("n1", sdk.Up, time.Second), snapshot(), true, "node-1 is UP"},
		{"node in another state", sdk.ExpectNode("node-1", sdk.Down, time.Second), snapshot(), false, "node-1 is UP"},
		{"node missing", sdk.ExpectNode("node-9", sdk.Up, time.Second), snapshot(), false, "node node-9 not reported"},
		{"metric above", sdk.ExpectMetricAbove("requests", 0, time.Second), snapshot(), true, "requests = 300 req"},
		{"metric not above", sdk.ExpectMetricAbove("requests", 300, time.Second), snapshot(), false, "requests = 300 req"},
		{"metric below", sdk.ExpectMetricBelow("requests", 301, time.Second), snapshot(), true, "requests = 300"},
		{"metric not below", sdk.ExpectMetricBelow("requests", 300, time.Second), snapshot(), false, "requests = 300"},
		{"metric missing", sdk.ExpectMetricAbove("latency", 1, time.Second), snapshot(), false, "metric latency not reported"},
		{"subject unobservable", sdk.ExpectNoViolation("", time.Second), &sdk.HealthSnapshot{Error: "connection refused"}, false, "could not be observed: connection refused"},
		{"no snapshot", sdk.ExpectAllNodes(sdk.Up, time.Second), nil, false, "no health snapshot yet"},
		{"unknown kind", &sdk.Expectation{Kind: 99}, snapshot(), false, "unknown expectation kind 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			met, reason := expect.Evaluate(tt.exp, tt.snap)
			if met != tt.met {
				t.Errorf("met = %v, want %v (reason %q)", met, tt.met, reason)
			}
			if !strings.Contains(reason, tt.reasonHas) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.reasonHas)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		exp  *sdk.Expectation
		want string
	}{
		{sdk.ExpectViolation("node_down", 10*time.Second), "violation node_down present within 10s"},
		{&sdk.Expectation{Kind: 1, Invariant: "node_down", Target: "node-2", Within: sdk.Dur(time.Second)}, "violation node_down on node-2 present within 1s"},
		{sdk.ExpectNoViolation("", 90*time.Second), "no violations within 1m30s"},
		{sdk.ExpectNoViolation("node_down", 2*time.Minute), "no violation node_down within 2m"},
		{sdk.ExpectAllNodes(sdk.Up, 5*time.Second), "all nodes UP within 5s"},
		{sdk.ExpectNode("node-1", sdk.Paused, 500*time.Millisecond), "node node-1 PAUSED within 500ms"},
		{sdk.ExpectMetricAbove("requests", 0, time.Second), "metric requests > 0 within 1s"},
		{sdk.ExpectMetricBelow("error_rate", 0.05, time.Second), "metric error_rate < 0.05 within 1s"},
		{&sdk.Expectation{Kind: 3, State: sdk.Up, Description: "the cluster heals"}, "the cluster heals"},
	}
	for _, tt := range tests {
		if got := expect.Describe(tt.exp); got != tt.want {
			t.Errorf("Describe = %q, want %q", got, tt.want)
		}
	}
}
