package example

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/markup"
)

// configure hands Configure what the host would: every option of the
// schema, the defaults with set over them.
func configure(t *testing.T, s *Subject, set map[string]string) {
	t.Helper()
	d, _ := s.Describe(context.Background())
	opts := sdk.Options{}
	for _, o := range d.Options {
		opts[o.Name] = o.Default
	}
	maps.Copy(opts, set)
	if err := s.Configure(context.Background(), sdk.ConfigureRequest{Options: opts}); err != nil {
		t.Fatal(err)
	}
}

// setUp configures and sets up a subject; changed receives one value per
// HealthChanged call.
func setUp(t *testing.T, set map[string]string) (s *Subject, changed chan struct{}) {
	t.Helper()
	s, changed = New(), make(chan struct{}, 16)
	configure(t, s, set)
	if err := s.Setup(context.Background(), sdk.SetupRequest{HealthChanged: func() { changed <- struct{}{} }}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Teardown(context.Background(), sdk.TeardownRequest{}) })
	return s, changed
}

func health(t *testing.T, s *Subject) sdk.HealthSnapshot {
	t.Helper()
	h, err := s.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func violations(h sdk.HealthSnapshot, invariant string) []string {
	var targets []string
	for _, v := range h.Violations {
		if v.Invariant == invariant {
			targets = append(targets, v.Target)
		}
	}
	return targets
}

func downNodes(h sdk.HealthSnapshot) []string {
	var ids []string
	for _, n := range h.Nodes {
		if n.State == sdk.Down {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func kill(t *testing.T, s *Subject, target, count string) sdk.Injected {
	t.Helper()
	inj, err := s.InjectChaos(context.Background(), sdk.InjectRequest{Fault: sdk.Fault{Kind: NodeKill, Target: target, Params: sdk.Options{"count": count}}})
	if err != nil {
		t.Fatal(err)
	}
	return inj
}

// Every chapter's fault is a kind the subject declares, with declared
// parameters only; ids are unique, narration markup pairs up, and the one
// action sits on the warm-up chapter.
func TestChaptersUseDeclaredFaultsAndCarryTheirActions(t *testing.T) {
	s, _ := setUp(t, nil)
	d, _ := s.Describe(context.Background())
	declared := map[string]map[string]bool{}
	for _, k := range d.Faults {
		declared[k.Kind] = map[string]bool{}
		for _, p := range k.Params {
			declared[k.Kind][p.Name] = true
		}
	}
	cs, err := s.Chapters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	var withAction []string
	for _, c := range cs {
		if ids[c.ID] {
			t.Errorf("chapter id %q twice", c.ID)
		}
		ids[c.ID] = true
		if err := markup.Check(c.Narration); err != nil {
			t.Errorf("chapter %q narration: %v", c.Title, err)
		}
		if c.Action != nil {
			withAction = append(withAction, c.ID)
		}
		if c.Fault == nil {
			continue
		}
		params, ok := declared[c.Fault.Kind]
		if !ok {
			t.Errorf("chapter %q injects %s, which Describe does not declare", c.Title, c.Fault.Kind)
		}
		for p := range c.Fault.Params {
			if !params[p] {
				t.Errorf("chapter %q: %s has no parameter %q", c.Title, c.Fault.Kind, p)
			}
		}
	}
	if strings.Join(withAction, ",") != "warm-up" {
		t.Fatalf("chapters with an action: %v, want the warm-up chapter only", withAction)
	}
}

// The warm-up chapter's own action sends traffic: requests grow as a
// counter, and its status lines come with a severity.
func TestWarmUpActionSendsTraffic(t *testing.T) {
	s, _ := setUp(t, nil)
	cs, _ := s.Chapters(context.Background())
	var mu sync.Mutex
	var lines []string
	status := sdk.NewProgress(func(sev sdk.Severity, msg string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, sev.String()+" "+msg)
	})
	if err := cs[1].Action(context.Background(), status); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lines, "\n"); !strings.HasSuffix(got, "INFO traffic sent") || !strings.Contains(got, "INFO sending traffic… 3") {
		t.Fatalf("status lines:\n%s", got)
	}
	for _, m := range health(t, s).Metrics {
		if m.Name == "requests" && (m.Value != 300 || m.Kind != sdk.MetricCounter) {
			t.Fatalf("requests after warm-up: %+v, want a counter at 300", m)
		}
	}
}

// Without a cluster the action cannot demonstrate anything: its error is
// marked fatal, so the host ends the run instead of failing one chapter.
func TestWarmUpWithoutSetupIsFatal(t *testing.T) {
	s := New()
	configure(t, s, nil)
	cs, _ := s.Chapters(context.Background())
	err := cs[1].Action(context.Background(), sdk.Progress{})
	if !sdk.IsFatal(err) || !strings.Contains(err.Error(), "not set up") {
		t.Fatalf("warm-up before Setup: %v, want a fatal error saying the cluster is not set up", err)
	}
}

// The count parameter decides how many nodes die: one of three leaves a
// majority; two of three lose it.
func TestNodeKillCountChangesWhatHappens(t *testing.T) {
	for _, tc := range []struct {
		count      string
		down       int
		quorumLost bool
	}{{"1", 1, false}, {"2", 2, true}} {
		t.Run("count="+tc.count, func(t *testing.T) {
			s, _ := setUp(t, map[string]string{"detect_after": "0s"})
			inj := kill(t, s, "", tc.count)
			h := health(t, s)
			if down := downNodes(h); len(down) != tc.down || strings.Join(down, ",") != inj.Target {
				t.Fatalf("nodes down %v, target %q; want %d, the same", down, inj.Target, tc.down)
			}
			if lost := len(violations(h, QuorumLost)) > 0; lost != tc.quorumLost {
				t.Fatalf("quorum_lost raised %t, want %t", lost, tc.quorumLost)
			}
			if len(violations(h, NodeDown)) != tc.down {
				t.Fatalf("node_down on %v, want %d nodes", violations(h, NodeDown), tc.down)
			}
		})
	}
	s, _ := setUp(t, nil)
	for _, bad := range []struct{ target, count, want string }{
		{"", "4", "only 3 nodes are UP"},
		{"node-1", "2", "leave it empty to kill several"},
		{"node-9", "1", `no UP node named "node-9"`},
		{"", "0", "want 1 or more"},
	} {
		_, err := s.InjectChaos(context.Background(), sdk.InjectRequest{Fault: sdk.Fault{Kind: NodeKill, Target: bad.target, Params: sdk.Options{"count": bad.count}}})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("target %q count %s: err %v, want one saying %q", bad.target, bad.count, err, bad.want)
		}
	}
}

// Revert says what it did in words, never the handle; a second revert of
// the same handle is no error and says there was nothing to do.
func TestRevertSaysWhatItDid(t *testing.T) {
	s, _ := setUp(t, nil)
	inj := kill(t, s, "node-2", "1")
	if inj.Detail != "marked node-2 down" {
		t.Fatalf("inject detail %q", inj.Detail)
	}
	req := sdk.RevertRequest{Handle: inj.Handle, Target: inj.Target, Fault: sdk.Fault{Kind: NodeKill}}
	rev, err := s.RevertChaos(context.Background(), req)
	if err != nil || rev.Detail != "started node-2 again" {
		t.Fatalf("revert: %+v, %v; want \"started node-2 again\"", rev, err)
	}
	if len(downNodes(health(t, s))) != 0 {
		t.Fatal("a node is still down after the revert")
	}
	rev, err = s.RevertChaos(context.Background(), req)
	if err != nil || rev.Detail != "nothing to start: node-2 already UP or gone with their process" {
		t.Fatalf("second revert: %+v, %v", rev, err)
	}
	if _, err := s.RevertChaos(context.Background(), sdk.RevertRequest{Handle: "pause:node-1"}); err == nil || !strings.Contains(err.Error(), "kill:<node ids>") {
		t.Fatalf("a foreign handle: %v", err)
	}
}

// Health is pushed on change: when a node dies, when node_down becomes due
// (detect_after later, with no poll in between), and when it comes back.
func TestHealthChangedOnKillDetectionAndRevert(t *testing.T) {
	s, changed := setUp(t, map[string]string{"detect_after": "200ms"})
	inj := kill(t, s, "node-3", "1")
	killed := time.Now()
	if len(changed) != 1 {
		t.Fatalf("%d HealthChanged calls after the kill, want 1", len(changed))
	}
	<-changed
	if h := health(t, s); len(violations(h, NodeDown)) != 0 || strings.Join(downNodes(h), ",") != "node-3" {
		t.Fatalf("right after the kill: down %v, node_down %v; want node-3 DOWN, no violation yet", downNodes(h), violations(h, NodeDown))
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no HealthChanged when node_down became due")
	}
	if since := time.Since(killed); since < 200*time.Millisecond {
		t.Fatalf("node_down pushed %s after the kill, before detect_after", since)
	}
	if got := violations(health(t, s), NodeDown); strings.Join(got, ",") != "node-3" {
		t.Fatalf("node_down on %v when pushed, want node-3", got)
	}
	if _, err := s.RevertChaos(context.Background(), sdk.RevertRequest{Handle: inj.Handle}); err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 {
		t.Fatalf("%d HealthChanged calls after the revert, want 1", len(changed))
	}
}

func TestConfigureRejectsNodesOutOfRange(t *testing.T) {
	for _, n := range []string{"0", "101"} {
		err := New().Configure(context.Background(), sdk.ConfigureRequest{Options: sdk.Options{"nodes": n}})
		if err == nil || !strings.Contains(err.Error(), "want 1 to 100") {
			t.Errorf("nodes=%s: %v", n, err)
		}
	}
}
