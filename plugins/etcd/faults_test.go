package etcd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk"
)

func inject(t *testing.T, s *Subject, f sdk.Fault) (sdk.Injected, func() sdk.Reverted) {
	t.Helper()
	d, _ := s.Describe(context.Background())
	params := sdk.Options{}
	for _, k := range d.Faults {
		if k.Kind == f.Kind {
			for _, p := range k.Params {
				params[p.Name] = p.Default
			}
		}
	}
	for k, v := range f.Params {
		params[k] = v
	}
	f.Params = params
	inj, err := s.InjectChaos(context.Background(), sdk.InjectRequest{Fault: f})
	if err != nil {
		t.Fatalf("inject %s: %v", f.Kind, err)
	}
	t.Logf("injected: %s", inj.Detail)
	return inj, func() sdk.Reverted {
		t.Helper()
		rev, err := s.RevertChaos(context.Background(), sdk.RevertRequest{Handle: inj.Handle, Fault: f, Target: inj.Target})
		if err != nil {
			t.Fatalf("revert %s: %v", f.Kind, err)
		}
		t.Logf("reverted: %s", rev.Detail)
		return rev
	}
}

func leader(t *testing.T, s *Subject) string {
	t.Helper()
	h := waitHealth(t, s, 15*time.Second, "a leader with every member up", func(h sdk.HealthSnapshot) bool { return allUp(h) && leaderOf(h) != "" })
	return leaderOf(h)
}

// TestFaults injects and reverts every fault kind on one real cluster of
// child processes in namespaces, and checks what a person watching would
// see.
func TestFaults(t *testing.T) { testFaults(t, upSubject(t, nil)) }

// TestFaultsDocker does the same on the docker runtime: members in
// containers of an image built from the same etcd binary.
func TestFaultsDocker(t *testing.T) {
	t.Cleanup(func() { assertNoContainers(t, ownerName(self())) }) // runs after the teardown
	testFaults(t, upSubject(t, map[string]string{optRuntime: "docker"}))
}

func testFaults(t *testing.T, s *Subject) {
	et := s.config().electionTimeout

	t.Run("leader kill", func(t *testing.T) {
		old := leader(t, s)
		inj, revert := inject(t, s, sdk.Fault{Kind: LeaderKill})
		if inj.Target != old {
			t.Fatalf("LEADER_KILL hit %s, the leader was %s", inj.Target, old)
		}
		h := waitHealth(t, s, 3*et+3*time.Second, "a new leader", func(h sdk.HealthSnapshot) bool {
			l := leaderOf(h)
			return l != "" && l != old
		})
		if n := nodeOf(h, old); n.State != sdk.Down || !violatedOn(h, invMemberDown, old) {
			t.Errorf("killed leader %s shows %s without member_down:\n%s", old, n.State, dump(h))
		}
		if violated(h, invSplitBrain) {
			t.Errorf("split_brain after a leader kill:\n%s", dump(h))
		}
		rev := revert()
		if !strings.Contains(rev.Detail, "restarted "+old) {
			t.Errorf("revert says %q, want it to say it restarted %s", rev.Detail, old)
		}
		h = waitHealth(t, s, 20*time.Second, "every member up again", allUp)
		if nodeOf(h, old).Role != "follower" {
			t.Errorf("restarted %s is %q, want follower", old, nodeOf(h, old).Role)
		}
		if again := revert(); again.Detail == "" {
			t.Error("a second revert says nothing")
		}
	})

	t.Run("follower freeze", func(t *testing.T) {
		l := leader(t, s)
		inj, revert := inject(t, s, sdk.Fault{Kind: FollowerFreeze})
		if inj.Target == l {
			t.Fatalf("FOLLOWER_FREEZE froze the leader %s", l)
		}
		h := waitHealth(t, s, 3*time.Second, "the frozen follower", func(h sdk.HealthSnapshot) bool {
			return nodeOf(h, inj.Target).State == sdk.Paused && violatedOn(h, invMemberDown, inj.Target)
		})
		// Writes keep committing: the load keeps being acknowledged.
		before := metric(h, "writes")
		h = waitHealth(t, s, 3*time.Second, "writes committing while a follower is frozen", func(h sdk.HealthSnapshot) bool {
			return metric(h, "writes") > before+20
		})
		if violated(h, invWritesFailing) || leaderOf(h) != l {
			t.Errorf("freezing a follower broke writes or moved the leader:\n%s", dump(h))
		}
		revert()
		waitHealth(t, s, 10*time.Second, "every member up again", allUp)
	})

	t.Run("partition", func(t *testing.T) {
		old := leader(t, s)
		c, _, _ := s.live()
		m, _ := c.member(old)
		inj, revert := inject(t, s, sdk.Fault{Kind: NetworkPartition})
		if inj.Target != old {
			t.Fatalf("partition hit %s, the leader was %s", inj.Target, old)
		}
		tables, err := tablesIn(m.node.NetNS())
		if err != nil || !slices.Contains(tables, tableName(c.owner.Pid, "partition")) {
			t.Fatalf("no partition table in %s: %v %v", m.ns, tables, err)
		}
		h := waitHealth(t, s, 3*et+3*time.Second, "a new leader in the majority and the old one stepped down", func(h sdk.HealthSnapshot) bool {
			l := leaderOf(h)
			return l != "" && l != old && violatedOn(h, invIsolated, old) && nodeOf(h, old).Role == "no leader"
		})
		h = waitHealth(t, s, 8*time.Second, "stale serializable reads on the cut-off member", func(h sdk.HealthSnapshot) bool {
			return violatedOn(h, invStaleRead, old)
		})
		if violated(h, invSplitBrain) || violated(h, invWritesFailing) {
			t.Errorf("partition of the leader: split brain or writes failing in the majority:\n%s", dump(h))
		}
		rev := revert()
		if !strings.Contains(rev.Detail, "healed") {
			t.Errorf("revert says %q", rev.Detail)
		}
		if tables, _ := tablesIn(m.node.NetNS()); slices.Contains(tables, tableName(c.owner.Pid, "partition")) {
			t.Errorf("partition table left in %s after the heal: %v", m.node.NetNS(), tables)
		}
		waitHealth(t, s, 15*time.Second, "healed and caught up", func(h sdk.HealthSnapshot) bool {
			return allUp(h) && !violated(h, invStaleRead) && metric(h, "leaders") == 1
		})
	})

	t.Run("latency", func(t *testing.T) {
		l := leader(t, s)
		c, _, _ := s.live()
		_, revert := inject(t, s, sdk.Fault{Kind: NetworkLatency, Params: sdk.Options{paramDelay: "100ms"}})
		for _, m := range c.members {
			if tables, _ := tablesIn(m.node.NetNS()); !slices.Contains(tables, tableName(c.owner.Pid, "latency")) {
				t.Errorf("no latency table in %s: %v", m.ns, tables)
			}
		}
		h := waitHealth(t, s, 6*time.Second, "write p99 above 150ms", func(h sdk.HealthSnapshot) bool { return metric(h, "write_p99_ms") > 150 })
		if leaderOf(h) != l || violated(h, invLeaderChanged) {
			t.Errorf("100ms of latency moved the leader from %s:\n%s", l, dump(h))
		}
		revert()
		for _, m := range c.members {
			if tables, _ := tablesIn(m.node.NetNS()); slices.Contains(tables, tableName(c.owner.Pid, "latency")) {
				t.Errorf("latency table left in %s: %v", m.node.NetNS(), tables)
			}
		}
		waitHealth(t, s, 10*time.Second, "write p99 back below 100ms", func(h sdk.HealthSnapshot) bool { return metric(h, "write_p99_ms") < 100 && allUp(h) })
	})

	t.Run("quorum loss", func(t *testing.T) {
		leader(t, s)
		inj, revert := inject(t, s, sdk.Fault{Kind: QuorumLoss})
		if n := len(strings.Split(inj.Target, ",")); n != 2 {
			t.Fatalf("quorum loss killed %q, want 2 of 3", inj.Target)
		}
		h := waitHealth(t, s, 3*et+3*time.Second, "no leader, writes failing, serializable reads served", func(h sdk.HealthSnapshot) bool {
			return violated(h, invNoLeader) && violated(h, invWritesFailing) && metric(h, "serializable_reads_ok") >= 1
		})
		_ = h
		revert()
		waitHealth(t, s, 20*time.Second, "every member up with a leader", func(h sdk.HealthSnapshot) bool { return allUp(h) && leaderOf(h) != "" })
	})
	for _, r := range func() []faultRecord { _, mon, _ := s.live(); return mon.records() }() {
		t.Log(measured(r, et))
	}
	_ = fmt.Sprint
}
