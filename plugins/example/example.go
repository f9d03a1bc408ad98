// Package example is a complete, dependency-free demohost subject: a cluster
// of in-memory nodes, one fault kind of its own (NODE_KILL) with a
// parameter, an on-enter action, and health pushed as soon as it changes.
// Copy it to start a plugin of your own; sdk/README.md walks through it.
package example

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/demohost/demohost/sdk"
)

// Version is reported by Describe.
const Version = "2.0.0"

// NodeKill is this subject's own fault kind: the host knows it only from
// Describe.
const NodeKill = "NODE_KILL"

// Invariants the subject reports.
const (
	NodeDown   = "node_down"   // a node has been down for detect_after
	QuorumLost = "quorum_lost" // half the nodes or more are down
)

// Subject is the example subject. The zero value is not usable; call New.
type Subject struct {
	mu        sync.Mutex
	opts      sdk.Options // from Configure, which always comes first
	nodes     []*node
	requests  int64
	changed   func() // SetupRequest.HealthChanged
	downTimer map[string]*time.Timer
}

type node struct {
	id        string
	role      string
	up        bool
	downSince time.Time
}

// New returns an example subject.
func New() *Subject { return &Subject{changed: func() {}, downTimer: map[string]*time.Timer{}} }

// Describe is static: it works with no cluster and before Configure.
func (s *Subject) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:        "example",
		Version:     Version,
		Description: "In-memory nodes that can be killed: the smallest complete subject, to copy.",
		Options: []sdk.Option{
			{Name: "nodes", Type: sdk.Int, Default: "3", Help: "how many nodes the cluster has (1-100)"},
			{Name: "detect_after", Type: sdk.Duration, Default: "300ms", Help: "how long a node is down before node_down is raised"},
			{Name: "countdown", Type: sdk.Duration, Default: "3s", Help: "countdown before the node is killed"},
			{Name: "target", Type: sdk.String, Default: "", Help: "node to kill (default: a random one)"},
		},
		Faults: []sdk.FaultKind{{
			Kind:        NodeKill,
			Description: "mark in-memory nodes dead; revert brings them back",
			Target:      "a node id (node-1, node-2, …); empty for random nodes",
			Params: []sdk.Option{
				{Name: "count", Type: sdk.Int, Default: "1", Help: "how many nodes to kill; half or more loses the quorum"},
			},
		}},
	}, nil
}

// Configure keeps the options: every one is there, checked against its
// type, defaults filled in. Only ranges are left to check.
func (s *Subject) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	if n := req.Options.Int("nodes"); n < 1 || n > 100 {
		return fmt.Errorf("option nodes=%d: want 1 to 100", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = req.Options
	return nil
}

// Setup "starts" the nodes and keeps HealthChanged for later.
func (s *Subject) Setup(_ context.Context, req sdk.SetupRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.HealthChanged != nil {
		s.changed = req.HealthChanged
	}
	s.nodes = nil
	for i := 1; i <= s.opts.Int("nodes"); i++ {
		role := "follower"
		if i == 1 {
			role = "leader"
		}
		s.nodes = append(s.nodes, &node{id: fmt.Sprintf("node-%d", i), role: role, up: true})
		req.Progress.Info(fmt.Sprintf("node-%d started", i))
	}
	return nil
}

// Teardown "stops" the nodes. In a fresh process that never ran Setup
// there is nothing to remove: in-memory nodes die with their process.
func (s *Subject) Teardown(_ context.Context, req sdk.TeardownRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		req.Progress.Info(n.id + " stopped")
	}
	for _, t := range s.downTimer {
		t.Stop()
	}
	s.nodes = nil
	return nil
}

// Chapters is the demo script. Each chapter carries its own action.
func (s *Subject) Chapters(context.Context) ([]sdk.Chapter, error) {
	s.mu.Lock()
	countdown, target := s.opts.Duration("countdown"), s.opts.String("target")
	s.mu.Unlock()
	return []sdk.Chapter{
		{
			ID:           "healthy",
			Title:        "A healthy cluster",
			Narration:    "Three in-memory nodes, all [green]UP[/]. Nothing is wrong *yet*.",
			Expectations: []sdk.Expectation{sdk.Eventually(sdk.AllNodes(sdk.Up), 5*time.Second)},
		},
		{
			ID:            "warm-up",
			Title:         "Warm-up traffic",
			Narration:     "A short burst of requests, counted down by the chapter's action. _The nodes stay UP throughout._",
			Action:        s.warmUp,
			AutoAdvance:   true,
			BlocksAdvance: true,
			Expectations: []sdk.Expectation{
				sdk.Eventually(sdk.MetricAbove("requests", 0), 5*time.Second),
				sdk.Holds(sdk.AllNodes(sdk.Up), time.Second),
			},
		},
		{
			ID:            "kill",
			Title:         "Kill a node",
			Narration:     "We [red]kill[/] one node. Watch the cluster panel: node_down should appear.",
			KeyHint:       "space: continue once node_down shows",
			BlocksAdvance: true,
			Fault: &sdk.Fault{
				Kind: NodeKill, Name: "kill one node", Target: target, Description: "mark one node dead",
				Params: sdk.Options{"count": "1"},
			},
			Countdown: countdown,
			Expectations: []sdk.Expectation{
				sdk.Before(sdk.AllNodes(sdk.Up), 5*time.Second),
				sdk.Eventually(sdk.ViolationPresent(NodeDown), 10*time.Second),
			},
		},
		{
			ID:          "recovery",
			Title:       "Recovery",
			Narration:   "The node is started again. _node_down clears._",
			RevertChaos: true,
			Expectations: []sdk.Expectation{
				sdk.After(sdk.AllNodes(sdk.Up), 10*time.Second),
				sdk.After(sdk.NoViolation(""), 10*time.Second),
			},
		},
		{
			ID:        "done",
			Title:     "Done",
			Narration: "That is the whole demo. Press *q* to quit.",
		},
	}, nil
}

// warmUp is the warm-up chapter's action: three steps of traffic. An error
// fails this chapter only; sdk.Fatal would end the run.
func (s *Subject) warmUp(ctx context.Context, status sdk.Progress) error {
	s.mu.Lock()
	running := len(s.nodes) > 0
	s.mu.Unlock()
	if !running {
		return sdk.Fatal(errors.New("the cluster is not set up: nothing to send traffic to"))
	}
	for i := 3; i > 0; i-- {
		s.mu.Lock()
		s.requests += 100
		s.mu.Unlock()
		status.Info(fmt.Sprintf("sending traffic… %d", i))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	status.Info("traffic sent")
	return nil
}

// killPrefix starts every handle: "kill:node-1,node-3".
const killPrefix = "kill:"

// InjectChaos kills count nodes: the target, or random UP ones.
func (s *Subject) InjectChaos(_ context.Context, req sdk.InjectRequest) (sdk.Injected, error) {
	f := req.Fault
	if f.Kind != NodeKill { // the host only sends declared kinds; be explicit anyway
		return sdk.Injected{}, fmt.Errorf("example injects only %s, not %s", NodeKill, f.Kind)
	}
	count := f.Params.Int("count")
	s.mu.Lock()
	defer s.mu.Unlock()
	var up []*node
	for _, n := range s.nodes {
		if n.up && (f.Target == "" || n.id == f.Target) {
			up = append(up, n)
		}
	}
	switch {
	case count < 1:
		return sdk.Injected{}, fmt.Errorf("%s count=%d: want 1 or more", NodeKill, count)
	case f.Target != "" && len(up) == 0:
		return sdk.Injected{}, fmt.Errorf("no UP node named %q (nodes are node-1…node-%d)", f.Target, len(s.nodes))
	case f.Target != "" && count > 1:
		return sdk.Injected{}, fmt.Errorf("%s target %s with count=%d: a target names one node; leave it empty to kill several", NodeKill, f.Target, count)
	case count > len(up):
		return sdk.Injected{}, fmt.Errorf("%s count=%d: only %d nodes are UP", NodeKill, count, len(up))
	}
	rand.Shuffle(len(up), func(i, j int) { up[i], up[j] = up[j], up[i] })
	var ids []string
	for _, n := range up[:count] {
		n.up, n.downSince = false, time.Now()
		ids = append(ids, n.id)
		// Push now (the node is DOWN) and again when node_down is due.
		s.downTimer[n.id] = time.AfterFunc(s.opts.Duration("detect_after"), s.changed)
	}
	slices.Sort(ids)
	s.changed()
	list := strings.Join(ids, ",")
	return sdk.Injected{Handle: killPrefix + list, Target: list, Detail: "marked " + strings.Join(ids, ", ") + " down"}, nil
}

// RevertChaos brings the killed nodes back. The handle names them, so any
// process can read it; a fresh one has no in-memory nodes left to start.
func (s *Subject) RevertChaos(_ context.Context, req sdk.RevertRequest) (sdk.Reverted, error) {
	list, ok := strings.CutPrefix(req.Handle, killPrefix)
	if !ok || list == "" {
		return sdk.Reverted{}, fmt.Errorf("unknown handle %q: this plugin writes %s<node ids>", req.Handle, killPrefix)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var started []string
	for _, id := range strings.Split(list, ",") {
		if t := s.downTimer[id]; t != nil {
			t.Stop()
			delete(s.downTimer, id)
		}
		for _, n := range s.nodes {
			if n.id == id && !n.up {
				n.up, n.downSince = true, time.Time{}
				started = append(started, id)
			}
		}
	}
	if len(started) == 0 {
		return sdk.Reverted{Detail: "nothing to start: " + strings.ReplaceAll(list, ",", ", ") + " already UP or gone with their process"}, nil
	}
	s.changed()
	return sdk.Reverted{Detail: "started " + strings.Join(started, ", ") + " again"}, nil
}

// Health reports the nodes, the requests served and the violations. With
// no cluster (before Setup, after Teardown) there is nothing to observe: an
// error, which the host shows as an outage while its stream keeps running.
func (s *Subject) Health(context.Context) (sdk.HealthSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes == nil {
		return sdk.HealthSnapshot{}, errors.New("the cluster is not set up")
	}
	now := time.Now()
	snap := sdk.HealthSnapshot{TakenAt: now}
	up := 0
	for _, n := range s.nodes {
		state := sdk.Up
		if n.up {
			up++
		} else {
			state = sdk.Down
		}
		snap.Nodes = append(snap.Nodes, sdk.Node{ID: n.id, Name: n.id, Role: n.role, State: state, Address: "in-memory"})
		if !n.up && now.Sub(n.downSince) >= s.opts.Duration("detect_after") {
			snap.Violations = append(snap.Violations, sdk.Violation{
				Invariant: NodeDown, Severity: sdk.Critical, Target: n.id,
				Message: n.id + " is not answering", Since: n.downSince,
			})
		}
	}
	if len(s.nodes) > 0 && 2*up <= len(s.nodes) {
		snap.Violations = append(snap.Violations, sdk.Violation{
			Invariant: QuorumLost, Severity: sdk.Critical,
			Message: fmt.Sprintf("%d of %d nodes UP: no majority", up, len(s.nodes)),
		})
	}
	snap.Metrics = []sdk.Metric{
		{Name: "nodes_up", Value: float64(up), Unit: "nodes", Kind: sdk.MetricGauge},
		{Name: "requests", Value: float64(s.requests), Unit: "req", Kind: sdk.MetricCounter},
	}
	snap.Counters = []sdk.Counter{{Key: "request budget", Count: s.requests, Limit: 1000}}
	return snap, nil
}
