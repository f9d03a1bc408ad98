// Command slowteardown is a test plugin whose Teardown takes 8 seconds (or
// until its context ends), so tests can stop waiting for a plugin that
// hangs while cleaning up. Its one chapter kills its one node and waits up
// to 10s for node_down, raised detect_after after the kill; it takes the
// example's countdown and detect_after options, so the same command lines
// run it.
package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/demohost/demohost/sdk"
)

type slowTeardown struct {
	mu        sync.Mutex
	opts      sdk.Options
	downSince time.Time // zero: the node is up
}

func (*slowTeardown) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name: "slowteardown", Version: "1",
		Options: []sdk.Option{
			{Name: "countdown", Type: sdk.Duration, Default: "0s", Help: "countdown before the kill"},
			{Name: "detect_after", Type: sdk.Duration, Default: "100ms", Help: "how long the node is down before node_down"},
		},
		Faults: []sdk.FaultKind{{Kind: "NODE_KILL", Description: "mark the node dead; revert brings it back"}},
	}, nil
}

func (s *slowTeardown) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = req.Options
	return nil
}

func (s *slowTeardown) Chapters(context.Context) ([]sdk.Chapter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []sdk.Chapter{{
		Title:        "Kill a node",
		Fault:        &sdk.Fault{Kind: "NODE_KILL", Name: "kill the node"},
		Countdown:    s.opts.Duration("countdown"),
		Expectations: []sdk.Expectation{sdk.Eventually(sdk.ViolationPresent("node_down"), 10*time.Second)},
	}}, nil
}

func (*slowTeardown) Setup(context.Context, sdk.SetupRequest) error { return nil }

func (*slowTeardown) Teardown(ctx context.Context, _ sdk.TeardownRequest) error {
	fmt.Fprintln(os.Stderr, "slow teardown started") // reaches the host's log file
	select {
	case <-time.After(8 * time.Second):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *slowTeardown) InjectChaos(context.Context, sdk.InjectRequest) (sdk.Injected, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downSince = time.Now()
	return sdk.Injected{Handle: "kill:node-1", Target: "node-1", Detail: "marked node-1 down"}, nil
}

func (s *slowTeardown) RevertChaos(context.Context, sdk.RevertRequest) (sdk.Reverted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.downSince = time.Time{}
	return sdk.Reverted{Detail: "started node-1 again"}, nil
}

func (s *slowTeardown) Health(context.Context) (sdk.HealthSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := sdk.HealthSnapshot{Nodes: []sdk.Node{{ID: "node-1", State: sdk.Up}}}
	if !s.downSince.IsZero() {
		h.Nodes[0].State = sdk.Down
		if time.Since(s.downSince) >= s.opts.Duration("detect_after") {
			h.Violations = []sdk.Violation{{Invariant: "node_down", Target: "node-1", Severity: sdk.Critical, Since: s.downSince}}
		}
	}
	return h, nil
}

func main() { sdk.Serve(&slowTeardown{}) }
