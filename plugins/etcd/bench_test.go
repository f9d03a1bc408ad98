package etcd

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk"
)

// pollEvery is how often the benchmarks read the subject's health (the
// subject itself probes every 100ms and evaluates every 50ms).
const pollEvery = 10 * time.Millisecond

// steady waits for every member up under a quorum leader with writes
// flowing, and returns the leader.
func steady(b *testing.B, s *Subject) string {
	b.Helper()
	h := waitHealth(b, s, 30*time.Second, "a steady cluster", func(h sdk.HealthSnapshot) bool {
		return allUp(h) && leaderOf(h) != "" && !violated(h, invWritesFailing) && !violated(h, invStaleRead)
	})
	return leaderOf(h)
}

// benchInject injects f, returning its revert.
func benchInject(b *testing.B, s *Subject, f sdk.Fault) (sdk.Injected, func()) {
	b.Helper()
	inj, err := s.InjectChaos(context.Background(), sdk.InjectRequest{Fault: f})
	if err != nil {
		b.Fatal(err)
	}
	return inj, func() {
		if _, err := s.RevertChaos(context.Background(), sdk.RevertRequest{Handle: inj.Handle, Fault: f, Target: inj.Target}); err != nil {
			b.Fatal(err)
		}
	}
}

// until polls the subject's health until ok, returning the time since from.
func until(b *testing.B, s *Subject, from time.Time, within time.Duration, what string, ok func(sdk.HealthSnapshot) bool) time.Duration {
	b.Helper()
	for {
		h, _ := s.Health(context.Background())
		if ok(h) {
			return time.Since(from)
		}
		if time.Since(from) > within {
			b.Fatalf("%s: not within %s:\n%s", what, within, dump(h))
		}
		time.Sleep(pollEvery)
	}
}

// lastGap is the longest write gap of the latest fault.
func lastGap(s *Subject) time.Duration {
	_, mon, _ := s.live()
	r := mon.records()
	return r[len(r)-1].maxGap
}

// electionAfter waits for a steady cluster, injects f (aimed at the
// leader) and returns the old leader, the time to a new quorum leader, the
// injection time and the revert.
func electionAfter(b *testing.B, s *Subject, f sdk.Fault) (string, time.Duration, time.Time, func()) {
	b.Helper()
	old := steady(b, s)
	start := time.Now()
	_, revert := benchInject(b, s, f)
	d := until(b, s, start, 10*time.Second, "a new leader", func(h sdk.HealthSnapshot) bool {
		l := leaderOf(h)
		return l != "" && l != old
	})
	return old, d, start, revert
}

func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkLeaderKillElection SIGKILLs the leader of a real 3-member etcd
// cluster (election timeout 1s, heartbeat 100ms, pre-vote) 10 times per
// iteration and measures, polling the subject's health every 10ms, the
// time from the kill to a new leader with a quorum behind it; also the
// longest time without an acknowledged write of the load (50 req/s).
// After each kill the member is restarted and the cluster left to settle.
//
// Target: a new leader within 2× the election timeout (Raft's randomised
// timeout runs from 1× to 2×) plus a vote round: p50 ≤ 2 s, worst ≤ 2.5 s.
func BenchmarkLeaderKillElection(b *testing.B) {
	s := upSubject(b, nil)
	const kills = 10
	var elect, gaps []time.Duration
	for range b.N {
		elect, gaps = nil, nil
		for range kills {
			_, d, start, revert := electionAfter(b, s, sdk.Fault{Kind: LeaderKill})
			elect = append(elect, d)
			until(b, s, start, 10*time.Second, "writes acknowledged again", func(h sdk.HealthSnapshot) bool { return !violated(h, invWritesFailing) })
			revert()
			gaps = append(gaps, lastGap(s))
		}
	}
	b.ReportMetric(ms(p50(elect)), "ms-election-p50")
	b.ReportMetric(ms(slices.Max(elect)), "ms-election-worst")
	b.ReportMetric(ms(s.config().electionTimeout), "ms-election-timeout")
	b.ReportMetric(ms(p50(gaps)), "ms-write-gap-p50")
	b.ReportMetric(ms(slices.Max(gaps)), "ms-write-gap-worst")
}

// BenchmarkPartitionMinorityNoLeader partitions the leader of a real
// 3-member cluster (nftables drops its Raft traffic inside its namespace)
// 5 times per iteration and measures the time from the partition to the
// cut-off member reporting no leader (it steps down when CheckQuorum finds
// no quorum), and to the majority electing a new leader.
//
// Target: the minority reports no leader within 2× the election timeout
// plus a probe (≤ 2.5 s); the majority elects within 2.5 s.
func BenchmarkPartitionMinorityNoLeader(b *testing.B) {
	s := upSubject(b, nil)
	const rounds = 5
	var noLeader, elect []time.Duration
	for range b.N {
		noLeader, elect = nil, nil
		for range rounds {
			old, d, start, revert := electionAfter(b, s, sdk.Fault{Kind: NetworkPartition})
			elect = append(elect, d)
			noLeader = append(noLeader, until(b, s, start, 10*time.Second, "the minority reporting no leader", func(h sdk.HealthSnapshot) bool {
				return nodeOf(h, old).Role == "no leader"
			}))
			revert()
		}
	}
	b.ReportMetric(ms(p50(noLeader)), "ms-minority-no-leader-p50")
	b.ReportMetric(ms(slices.Max(noLeader)), "ms-minority-no-leader-worst")
	b.ReportMetric(ms(p50(elect)), "ms-majority-election-p50")
	b.ReportMetric(ms(slices.Max(elect)), "ms-majority-election-worst")
}

// BenchmarkWriteUnavailability holds each fault of the subject for 5 s on
// a real 3-member cluster and reports the longest time without an
// acknowledged write of the load (50 req/s, two writes to one read) while
// it was active: what an application writing to etcd would notice.
//
// Target: a frozen follower or 100 ms of latency costs no window longer
// than the 700 ms that raise writes_failing; a leader kill or partition
// costs one election (≤ 2.5 s); a quorum loss costs the whole 5 s.
func BenchmarkWriteUnavailability(b *testing.B) {
	s := upSubject(b, nil)
	faults := []sdk.Fault{
		{Kind: LeaderKill}, {Kind: FollowerFreeze}, {Kind: NetworkPartition},
		{Kind: NetworkLatency, Params: sdk.Options{paramDelay: "100ms"}}, {Kind: QuorumLoss},
	}
	gaps := map[string]time.Duration{}
	for range b.N {
		for _, f := range faults {
			steady(b, s)
			start := time.Now()
			_, revert := benchInject(b, s, f)
			until(b, s, start, 10*time.Second, "5s of the fault", func(sdk.HealthSnapshot) bool { return time.Since(start) >= 5*time.Second })
			revert()
			gaps[f.Kind] = lastGap(s)
		}
	}
	for _, f := range faults {
		b.ReportMetric(ms(gaps[f.Kind]), "ms-"+f.Kind)
	}
}
