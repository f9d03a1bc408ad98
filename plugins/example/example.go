// Package example is a complete, dependency-free demohost subject: a cluster
// of in-memory nodes that can be "killed". Copy it to start a plugin of your
// own; see sdk/README.md.
package example

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/demohost/demohost/sdk"
)

// Version is reported by Describe.
const Version = "1.0.0"

// Subject is the example subject. The zero value is not usable; call New.
type Subject struct {
	mu        sync.Mutex
	opts      sdk.Options
	nodes     []*node
	started   time.Time
	requests  int64
	downSince map[string]time.Time // node id -> when it went down
}

type node struct {
	id   string
	up   bool
	role string
}

// New returns an example subject.
func New() *Subject { return &Subject{downSince: map[string]time.Time{}} }

// Describe is static: it works with no cluster.
func (s *Subject) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{
		Name:        "example",
		Version:     Version,
		Description: "In-memory nodes that can be killed: the smallest complete subject, to copy.",
		ChaosTypes:  []sdk.ChaosType{sdk.ContainerKill},
		Options: []*sdk.OptionSpec{
			{Name: "nodes", Type: sdk.Int, Default: "3", Help: "how many nodes the cluster has (1-100)"},
			{Name: "detect_after", Type: sdk.Duration, Default: "300ms", Help: "how long a node is down before node_down is raised"},
			{Name: "countdown", Type: sdk.Duration, Default: "3s", Help: "countdown before the node is killed"},
			{Name: "target", Type: sdk.String, Default: "", Help: "node to kill (default: a random one)"},
		},
	}, nil
}

// Configure keeps the validated options.
func (s *Subject) Configure(_ context.Context, opts sdk.Options) error {
	if n := opts.Int("nodes"); n < 1 || n > 100 {
		return fmt.Errorf("option nodes=%d: want 1 to 100", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = opts
	return nil
}

// Setup "starts" the nodes.
func (s *Subject) Setup(_ context.Context, progress sdk.Progress) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts == nil {
		s.opts, _ = sdk.ResolveOptions(mustDescribe(s).Options, nil)
	}
	s.nodes = nil
	for i := 1; i <= s.opts.Int("nodes"); i++ {
		role := "follower"
		if i == 1 {
			role = "leader"
		}
		s.nodes = append(s.nodes, &node{id: fmt.Sprintf("node-%d", i), up: true, role: role})
		progress(fmt.Sprintf("node-%d started", i))
	}
	s.started = time.Now()
	return nil
}

// Teardown "stops" the nodes.
func (s *Subject) Teardown(_ context.Context, progress sdk.Progress) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		progress(n.id + " stopped")
	}
	s.nodes = nil
	return nil
}

// Chapters is the demo script.
func (s *Subject) Chapters(context.Context) ([]*sdk.Chapter, error) {
	s.mu.Lock()
	countdown := s.opts.Duration("countdown")
	target := s.opts.String("target")
	s.mu.Unlock()
	return []*sdk.Chapter{
		{
			Title:        "A healthy cluster",
			Narration:    "Three in-memory nodes, all [green]UP[/]. Nothing is wrong *yet*.",
			Expectations: []*sdk.Expectation{sdk.ExpectAllNodes(sdk.Up, 5*time.Second)},
		},
		{
			Title:         "Warm-up traffic",
			Narration:     "A short burst of requests, counted down by the plugin's on-enter action.",
			HasAction:     true,
			AutoAdvance:   true,
			BlocksAdvance: true,
			Expectations:  []*sdk.Expectation{sdk.ExpectMetricAbove("requests", 0, 5*time.Second)},
		},
		{
			Title:          "Kill a node",
			Narration:      "We [red]kill[/] one node. Watch the cluster panel: node_down should appear.",
			KeyHint:        "space: continue once node_down shows",
			BlocksAdvance:  true,
			Chaos:          &sdk.ChaosConfig{Name: "kill one node", Type: sdk.ContainerKill, Target: target, Description: "mark one node dead"},
			ChaosCountdown: sdk.Dur(countdown),
			Expectations:   []*sdk.Expectation{sdk.ExpectViolation("node_down", 10*time.Second)},
		},
		{
			Title:        "Recovery",
			Narration:    "The node is started again. _node_down clears._",
			RevertChaos:  true,
			Expectations: []*sdk.Expectation{sdk.ExpectAllNodes(sdk.Up, 10*time.Second), sdk.ExpectNoViolation("", 10*time.Second)},
		},
		{
			Title:     "Done",
			Narration: "That is the whole demo. Press *q* to quit.",
		},
	}, nil
}

// EnterChapter runs the warm-up action: a three-step countdown of traffic.
func (s *Subject) EnterChapter(ctx context.Context, index int, status sdk.Progress) error {
	if index != 1 {
		return nil
	}
	for i := 3; i > 0; i-- {
		s.mu.Lock()
		s.requests += 100
		s.mu.Unlock()
		status(fmt.Sprintf("sending traffic… %d", i))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	status("traffic sent")
	return nil
}

// InjectChaos kills one node (the target, or a random UP one).
func (s *Subject) InjectChaos(_ context.Context, cfg *sdk.ChaosConfig) (*sdk.Injected, error) {
	if cfg.Type != sdk.ContainerKill {
		return nil, fmt.Errorf("example supports only CONTAINER_KILL, not %s", cfg.Type)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var candidates []*node
	for _, n := range s.nodes {
		if n.up && (cfg.Target == "" || n.id == cfg.Target) {
			candidates = append(candidates, n)
		}
	}
	if len(candidates) == 0 {
		if cfg.Target != "" {
			return nil, fmt.Errorf("no UP node named %q (nodes are node-1…node-%d)", cfg.Target, len(s.nodes))
		}
		return nil, fmt.Errorf("no UP node to kill")
	}
	n := candidates[rand.IntN(len(candidates))]
	n.up = false
	s.downSince[n.id] = time.Now()
	return &sdk.Injected{Handle: "kill:" + n.id, Target: n.id, Detail: "marked " + n.id + " down"}, nil
}

// RevertChaos brings the killed node back.
func (s *Subject) RevertChaos(_ context.Context, handle string, _ *sdk.ChaosConfig) error {
	id, ok := strings.CutPrefix(handle, "kill:")
	if !ok {
		return fmt.Errorf("unknown handle %q", handle)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		if n.id == id {
			n.up = true
			delete(s.downSince, id)
		}
	}
	return nil
}

// Health reports the nodes, a request counter and node_down violations.
func (s *Subject) Health(context.Context) (*sdk.HealthSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := &sdk.HealthSnapshot{TakenAt: sdk.Time(time.Now())}
	up := 0
	for _, n := range s.nodes {
		state := sdk.Up
		if !n.up {
			state = sdk.Down
		} else {
			up++
		}
		snap.Nodes = append(snap.Nodes, &sdk.Node{Id: n.id, Name: n.id, Role: n.role, State: state, Address: "in-memory"})
		if since, down := s.downSince[n.id]; down && time.Since(since) >= s.opts.Duration("detect_after") {
			snap.Violations = append(snap.Violations, &sdk.Violation{
				Invariant: "node_down", Severity: sdk.Critical, Target: n.id,
				Message: n.id + " is not answering", Since: sdk.Time(since),
			})
		}
	}
	snap.Metrics = []*sdk.Metric{
		{Name: "nodes_up", Value: float64(up), Unit: "nodes"},
		{Name: "requests", Value: float64(s.requests), Unit: "req"},
	}
	snap.Counters = []*sdk.Counter{{Key: "requests", Count: s.requests, Limit: 1000}}
	return snap, nil
}

func mustDescribe(s *Subject) *sdk.Description {
	d, _ := s.Describe(context.Background())
	return d
}
