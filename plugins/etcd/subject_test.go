package etcd

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/markup"
)

// TestChaptersUseDeclaredKindsAndCleanMarkup: every chapter's fault is a
// declared kind with declared parameters, and every narration renders.
func TestChaptersUseDeclaredKindsAndCleanMarkup(t *testing.T) {
	for _, network := range []string{"namespaces", "loopback"} {
		s := newTestSubject(t, t.TempDir())
		ctx := context.Background()
		d, err := s.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Configure(ctx, sdk.ConfigureRequest{Options: options(t, s, map[string]string{optNetwork: network})}); err != nil {
			t.Fatal(err)
		}
		cs, err := s.Chapters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]sdk.FaultKind{}
		for _, k := range d.Faults {
			kinds[k.Kind] = k
		}
		var titles []string
		for _, c := range cs {
			titles = append(titles, c.Title)
			if err := markup.Check(c.Narration); err != nil {
				t.Errorf("%s: chapter %q: %v", network, c.Title, err)
			}
			if c.Fault == nil {
				continue
			}
			k, ok := kinds[c.Fault.Kind]
			if !ok {
				t.Errorf("%s: chapter %q injects undeclared %s", network, c.Title, c.Fault.Kind)
			}
			for p := range c.Fault.Params {
				if !slices.ContainsFunc(k.Params, func(o sdk.Option) bool { return o.Name == p }) {
					t.Errorf("%s: chapter %q: %s has no parameter %s", network, c.Title, c.Fault.Kind, p)
				}
			}
		}
		var skipped []string
		for _, c := range cs {
			if c.Skip != "" {
				skipped = append(skipped, c.Title+": "+c.Skip)
			}
		}
		if len(cs) != 10 {
			t.Errorf("%s: want 10 chapters: %q", network, titles)
		}
		if network == "namespaces" && len(skipped) != 0 {
			t.Errorf("with namespaces, chapters are skipped: %q", skipped)
		}
		if network == "loopback" {
			if len(skipped) != 3 || !strings.Contains(skipped[0], "Partition the leader: needs network namespaces: network=loopback") {
				t.Errorf("on loopback, want the partition, healed and latency chapters skipped with the reason: %q", skipped)
			}
			if !strings.Contains(cs[0].Narration, "skipped: network=loopback") {
				t.Errorf("on loopback, the first chapter does not say why chapters are skipped: %q", cs[0].Narration)
			}
		}
	}
}

// TestConfigureRefusesOutOfRange: out-of-range values are refused with one
// line that says what to use.
func TestConfigureRefusesOutOfRange(t *testing.T) {
	s := newTestSubject(t, t.TempDir())
	for opt, val := range map[string]string{optElection: "50ms", optRate: "0", optStale: "0"} {
		err := s.Configure(context.Background(), sdk.ConfigureRequest{Options: options(t, s, map[string]string{opt: val})})
		if err == nil || !strings.Contains(err.Error(), "use ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%s: %v", opt, val, err)
		}
	}
}

// TestSetupSaysEtcdIsMissing: a missing etcd binary is one line naming the
// package to install.
func TestSetupSaysEtcdIsMissing(t *testing.T) {
	s := newTestSubject(t, t.TempDir())
	ctx := context.Background()
	if err := s.Configure(ctx, sdk.ConfigureRequest{Options: options(t, s, map[string]string{optEtcd: "/nonexistent/etcd"})}); err != nil {
		t.Fatal(err)
	}
	err := s.Setup(ctx, sdk.SetupRequest{})
	if err == nil || !strings.Contains(err.Error(), "apt-get install etcd-server") {
		t.Fatalf("setup with no etcd: %v", err)
	}
}

// TestLoopbackRuntime: without namespaces the cluster runs on 127.0.0.1,
// process faults work, and a network fault is refused in one line that
// says why.
func TestLoopbackRuntime(t *testing.T) {
	s := upSubject(t, map[string]string{optNetwork: "loopback"})
	h := waitHealth(t, s, 15*time.Second, "a leader", func(h sdk.HealthSnapshot) bool { return allUp(h) && leaderOf(h) != "" })
	for _, n := range h.Nodes {
		if !strings.HasPrefix(n.Address, "127.0.0.1:") {
			t.Errorf("%s on %s, want loopback", n.ID, n.Address)
		}
	}
	_, err := s.InjectChaos(context.Background(), sdk.InjectRequest{Fault: sdk.Fault{Kind: NetworkPartition}})
	if err == nil || !strings.Contains(err.Error(), "needs network namespaces") || !strings.Contains(err.Error(), "network=loopback") {
		t.Fatalf("partition on loopback: %v", err)
	}
	inj, revert := inject(t, s, sdk.Fault{Kind: FollowerFreeze})
	waitHealth(t, s, 3*time.Second, "the frozen follower", func(h sdk.HealthSnapshot) bool { return nodeOf(h, inj.Target).State == sdk.Paused })
	revert()
	waitHealth(t, s, 10*time.Second, "every member up", allUp)
}
