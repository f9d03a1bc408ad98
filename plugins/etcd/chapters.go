package etcd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/demohost/demohost/sdk"
)

// Chapters tells the Raft story. The partition and latency chapters need
// network namespaces: without them (not root, or network=loopback) they are
// skipped, with the reason.
func (s *Subject) Chapters(context.Context) ([]sdk.Chapter, error) {
	cfg := s.config()
	et := cfg.electionTimeout
	// A new leader needs a follower's election timer to run out (ET to 2×ET
	// after the last heartbeat, randomised) and then one round of votes.
	elect := 2*et + 3*time.Second
	calm := "Three etcd members run Raft: one *leader* orders every write, *followers* replicate it, and a write commits once a majority has it. " +
		"A client writes and reads all the time; health comes from each member's own status API."
	if cfg.members == 5 {
		calm = strings.Replace(calm, "Three", "Five", 1)
	}
	switch {
	case cfg.netFaults && cfg.runtime == "docker":
		calm += " Each member runs in a container of its own on a private Docker network, so the network between them is real and can be cut."
	case cfg.netFaults:
		calm += " Each member runs in a network namespace of its own, so the network between them is real and can be cut."
	default:
		calm += " [yellow]The partition and latency chapters are skipped: " + cfg.noNetwork + ".[/]"
	}
	steady := []sdk.Expectation{
		sdk.Before(sdk.AllNodes(sdk.Up), 20*time.Second),
		sdk.Before(sdk.NoViolation(invWritesFailing), 20*time.Second),
	}
	chapters := []sdk.Chapter{
		{
			ID: "calm", Title: "A calm cluster",
			Narration: calm,
			KeyHint:   "space: kill the leader",
			Action:    s.describeCluster,
			Expectations: []sdk.Expectation{
				sdk.Eventually(sdk.AllNodes(sdk.Up), 30*time.Second),
				sdk.Eventually(sdk.NoViolation(""), 30*time.Second),
				sdk.Holds(sdk.NoViolation(invWritesFailing), 3*time.Second),
				sdk.Holds(sdk.NoViolation(invSplitBrain), 3*time.Second),
			},
		},
		{
			ID: "leader-kill", Title: "Kill the leader",
			Narration: fmt.Sprintf("SIGKILL the leader. Followers hear no heartbeat; after the election timeout (%s, randomised up to %s) one of them campaigns and wins a majority. "+
				"Until then nothing can commit: writes fail. After a few seconds the old leader is started again on its data directory and rejoins as a follower.", et, 2*et),
			KeyHint:       "watch no_leader, then a new leader",
			BlocksAdvance: true,
			Countdown:     time.Second,
			Fault:         &sdk.Fault{Kind: LeaderKill, Name: "kill the leader", Target: "leader", Duration: 6 * time.Second},
			Expectations: append(append([]sdk.Expectation{}, steady...),
				sdk.Eventually(sdk.ViolationPresent(invMemberDown), 5*time.Second),
				sdk.Eventually(sdk.ViolationPresent(invWritesFailing), 5*time.Second),
				describe(sdk.Eventually(sdk.ViolationPresent(invLeaderChanged), elect), fmt.Sprintf("a new leader within the election timeout (%s–%s) plus a vote", et, 2*et)),
				describe(sdk.After(sdk.AllNodes(sdk.Up), 20*time.Second), "the old leader is back, as a follower"),
			),
		},
		{
			ID: "after-election", Title: "Writes failed only during the election",
			Narration: "With a new leader, writes flow again, and keep flowing while the old leader catches up. " +
				"The unavailability window is the election, not the outage of the member.",
			KeyHint: "space: freeze a follower",
			Action:  s.report(LeaderKill),
			Expectations: []sdk.Expectation{
				sdk.Holds(sdk.NoViolation(invWritesFailing), 4*time.Second),
				sdk.Holds(sdk.NoViolation(invNoLeader), 4*time.Second),
				sdk.Holds(sdk.NoViolation(invSplitBrain), 4*time.Second),
			},
		},
		{
			ID: "follower-freeze", Title: "Freeze a follower",
			Narration: "Freeze one follower: it stops answering, but the leader and the remaining followers are still a majority. " +
				"Writes keep committing the whole time and the leader does not change.",
			KeyHint:       "watch member_down while writes flow",
			BlocksAdvance: true,
			Countdown:     time.Second,
			Fault:         &sdk.Fault{Kind: FollowerFreeze, Name: "freeze a follower", Target: "follower", Duration: 5 * time.Second},
			Expectations: append(append([]sdk.Expectation{}, steady...),
				sdk.Eventually(sdk.ViolationPresent(invMemberDown), 3*time.Second),
				describe(sdk.HoldsWhileFault(sdk.NoViolation(invWritesFailing)), "writes keep flowing while it is frozen"),
				describe(sdk.HoldsWhileFault(sdk.NoViolation(invLeaderChanged)), "the leader does not change"),
				sdk.After(sdk.AllNodes(sdk.Up), 10*time.Second),
			),
		},
	}
	network := []sdk.Chapter{
		{
			ID: "partition", Title: "Partition the leader",
			Narration: "Cut the leader off from its peers: nftables drops every Raft packet in its namespace. " +
				"The majority elects a new leader in a higher term; the old one notices it has lost its quorum and steps down. " +
				"Reads and writes through it fail, and serializable reads on it fall behind. Two members may both have been leader for a moment — in different terms. " +
				"*split_brain* (two leaders in the same term) must never show. The partition heals after 8 s.",
			KeyHint:       "watch leader_changed, member_isolated, stale_read",
			BlocksAdvance: true,
			Countdown:     time.Second,
			Fault:         &sdk.Fault{Kind: NetworkPartition, Name: "partition the leader", Target: "leader", Duration: 8 * time.Second},
			Expectations: append(append([]sdk.Expectation{}, steady...),
				describe(sdk.Eventually(sdk.ViolationPresent(invLeaderChanged), elect), "the majority elects a new leader"),
				describe(sdk.Eventually(sdk.ViolationPresent(invIsolated), elect), "the old leader steps down; requests through it fail"),
				describe(sdk.Eventually(sdk.ViolationPresent(invStaleRead), 8*time.Second), "serializable reads on the cut-off member go stale"),
				describe(sdk.HoldsWhileFault(sdk.NoViolation(invSplitBrain)), "never two leaders in one term"),
				describe(sdk.After(sdk.AllNodes(sdk.Up), 15*time.Second), "healed: the old leader rejoins as a follower"),
			),
		},
		{
			ID: "healed", Title: "Healed: one leader, everyone caught up",
			Narration: "After the heal the old leader hears the new term and follows. It catches up from the leader's log: " +
				"its serializable reads are current again.",
			KeyHint: "space: add latency",
			Action:  s.report(NetworkPartition),
			Expectations: []sdk.Expectation{
				sdk.Eventually(sdk.MetricBelow("leaders", 2), 5*time.Second),
				sdk.Eventually(sdk.NoViolation(invStaleRead), 10*time.Second),
				sdk.Holds(sdk.NoViolation(invSplitBrain), 3*time.Second),
				sdk.Holds(sdk.NoViolation(invWritesFailing), 3*time.Second),
			},
		},
		{
			ID: "latency", Title: "Slow links to the leader",
			Narration: "Send the leader's Raft links through toxiproxy with 100 ms each way (its connections are reset once, to reconnect through the proxies). " +
				"Every commit now waits for a round trip through the proxies, so write p99 rises — but heartbeats still arrive well within the election timeout, " +
				"so no one campaigns and the leader stays.",
			KeyHint:       "watch write_p99_ms",
			BlocksAdvance: true,
			Countdown:     time.Second,
			Fault: &sdk.Fault{Kind: NetworkLatency, Name: "100 ms on the leader's links", Target: "leader", Duration: 8 * time.Second,
				Params: sdk.Options{paramDelay: "100ms"}},
			Expectations: append(append([]sdk.Expectation{}, steady...),
				describe(sdk.Eventually(sdk.MetricAbove("write_p99_ms", 150), 6*time.Second), "write p99 above 150 ms"),
				describe(sdk.HoldsWhileFault(sdk.NoViolation(invLeaderChanged)), "no leader change: 100 ms is well below the election timeout"),
				describe(sdk.After(sdk.MetricBelow("write_p99_ms", 100), 10*time.Second), "p99 back down once the detour is gone"),
			),
		},
	}
	if !cfg.netFaults {
		for i := range network {
			network[i].Skip = "needs network namespaces: " + cfg.noNetwork
		}
	}
	chapters = append(chapters, network...)
	chapters = append(chapters,
		sdk.Chapter{
			ID: "quorum-loss", Title: "Lose the quorum",
			Narration: fmt.Sprintf("SIGKILL a majority (%d of %d), the leader first. The survivors cannot elect anyone: there is no majority to vote. "+
				"Writes fail — but a *serializable* read is answered from a survivor's own copy, so reads still serve (possibly stale). "+
				"After 6 s the killed members start again and a leader is elected.", cfg.members/2+1, cfg.members),
			KeyHint:       "watch no_leader and serializable_reads_ok",
			BlocksAdvance: true,
			Countdown:     time.Second,
			Fault:         &sdk.Fault{Kind: QuorumLoss, Name: "kill a majority", Duration: 6 * time.Second},
			Expectations: append(append([]sdk.Expectation{}, steady...),
				sdk.Eventually(sdk.ViolationPresent(invNoLeader), 5*time.Second),
				sdk.Eventually(sdk.ViolationPresent(invWritesFailing), 5*time.Second),
				describe(sdk.HoldsWhileFault(sdk.MetricAbove("serializable_reads_ok", 0)), "serializable reads still serve"),
				sdk.After(sdk.AllNodes(sdk.Up), 20*time.Second),
			),
		},
		sdk.Chapter{
			ID: "restored", Title: "Restored",
			Narration: "Every member is back and a leader holds a quorum: writes commit, reads are linearizable again.",
			KeyHint:   "space: the summary",
			Action:    s.report(QuorumLoss),
			Expectations: []sdk.Expectation{
				sdk.Eventually(sdk.AllNodes(sdk.Up), 15*time.Second),
				sdk.Holds(sdk.NoViolation(invWritesFailing), 3*time.Second),
				sdk.Holds(sdk.NoViolation(invNoLeader), 3*time.Second),
			},
		},
		sdk.Chapter{
			ID: "summary", Title: "What was measured",
			Narration: "Each fault, as this run measured it: how long until a new leader was seen, and the longest time without an acknowledged write. " +
				"*split_brain* was never raised.",
			AutoAdvance: true,
			Action:      s.report(""),
			Expectations: []sdk.Expectation{
				sdk.Holds(sdk.NoViolation(invSplitBrain), time.Second),
			},
		},
	)
	return chapters, nil
}

func describe(e sdk.Expectation, text string) sdk.Expectation {
	e.Description = text
	return e
}

// describeCluster reports the cluster as it stands.
func (s *Subject) describeCluster(_ context.Context, status sdk.Progress) error {
	c, mon, err := s.live()
	if err != nil {
		return err
	}
	h := mon.health()
	leader := leaderOf(h)
	for _, m := range c.members {
		where := m.client
		if m.ns != "" {
			where += " in namespace " + m.ns
		}
		if c.docker != nil {
			where += " in container " + c.docker.name(m)
		}
		role := "follower"
		if m.id == leader {
			role = "leader"
		}
		status.Info(fmt.Sprintf("%s %s, %s, %s", m.id, role, m.node.What(), where))
	}
	status.Info(fmt.Sprintf("election timeout %s, heartbeat %s, pre-vote on; load %d req/s", c.cfg.electionTimeout, c.cfg.heartbeat(), c.cfg.writeRate))
	return nil
}

// report reports the measurements of the latest fault of kind, or of
// every fault when kind is "".
func (s *Subject) report(kind string) func(context.Context, sdk.Progress) error {
	return func(_ context.Context, status sdk.Progress) error {
		_, mon, err := s.live()
		if err != nil {
			return err
		}
		var lines []string
		for _, r := range mon.records() {
			switch {
			case kind == "":
				lines = append(lines, measured(r, s.config().electionTimeout))
			case r.kind == kind:
				lines = []string{measured(r, s.config().electionTimeout)}
			}
		}
		if len(lines) == 0 {
			status.Warning(strings.TrimSpace("no fault " + kind + " was injected in this run"))
		}
		for _, l := range lines {
			status.Info(l)
		}
		return nil
	}
}

// measured is one line about a fault's figures.
func measured(r faultRecord, et time.Duration) string {
	line := r.kind
	if r.target != "" {
		line += " on " + r.target
	}
	line += ": "
	var parts []string
	if r.electedAfter > 0 {
		parts = append(parts, fmt.Sprintf("new leader %s seen %s after the injection (election timeout %s)", r.newLeader, r.electedAfter.Round(time.Millisecond), et))
	} else {
		parts = append(parts, "leader unchanged")
	}
	if r.noLeaderSeen > 0 {
		parts = append(parts, fmt.Sprintf("%s reported no leader after %s", r.target, r.noLeaderSeen.Round(time.Millisecond)))
	}
	parts = append(parts, fmt.Sprintf("longest time without an acknowledged write %s", r.maxGap.Round(time.Millisecond)))
	return line + strings.Join(parts, "; ")
}
