package etcd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/demohost/demohost/sdk"
)

// Invariants this subject checks.
const (
	invNoLeader      = "no_leader"       // no member leads with a quorum behind it
	invMemberDown    = "member_down"     // a member does not answer (killed or frozen)
	invIsolated      = "member_isolated" // a member answers but sees no leader or cannot serve linearizable reads
	invWritesFailing = "writes_failing"  // no write acknowledged for writesFailingAfter
	invSplitBrain    = "split_brain"     // two members claimed leadership in the same term
	invStaleRead     = "stale_read"      // a serializable read is behind a linearizable one beyond the bound
	invLeaderChanged = "leader_changed"  // the leader differs from the one at the latest injection
)

// probeInterval is how often each member is asked for its status.
const probeInterval = 100 * time.Millisecond

// observation is the latest probe of one member.
type observation struct {
	at        time.Time
	statusErr error
	raftID    uint64
	leader    uint64 // raft id of the leader it knows; 0 for none
	term      uint64
	commit    uint64
	applied   uint64
	serialRev int64
	serialErr error
	linErr    error
}

// faultRecord measures one injected fault for the summary.
type faultRecord struct {
	kind, target string
	at           time.Time
	leaderBefore string
	electedAfter time.Duration // the new quorum leader was seen this long after the injection
	newLeader    string
	noLeaderSeen time.Duration // the fault's target reported no leader this long after (partition)
	gap          *gapWatch
	maxGap       time.Duration // final, once reverted
	reverted     bool
}

// monitor probes every member, runs the load and computes the snapshot.
type monitor struct {
	c       *cluster
	load    *load
	changed func()

	mu        sync.Mutex
	obs       map[string]observation // member id -> latest
	since     map[string]time.Time   // violation key -> first seen
	termLead  map[uint64]string      // term -> member that claimed leadership in it
	splits    []string               // split-brain findings (latched)
	faults    []*faultRecord
	snap      sdk.HealthSnapshot
	signature string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newMonitor(c *cluster, loadCli *clientv3.Client, changed func()) *monitor {
	if changed == nil {
		changed = func() {}
	}
	return &monitor{
		c:        c,
		load:     &load{cli: loadCli, rate: c.cfg.writeRate, timeout: c.cfg.requestTimeout()},
		changed:  changed,
		obs:      map[string]observation{},
		since:    map[string]time.Time{},
		termLead: map[uint64]string{},
	}
}

func (mo *monitor) start() {
	ctx, cancel := context.WithCancel(context.Background())
	mo.cancel = cancel
	for _, m := range mo.c.members {
		mo.wg.Add(1)
		go func() { defer mo.wg.Done(); mo.probeLoop(ctx, m) }()
	}
	mo.wg.Add(2)
	go func() { defer mo.wg.Done(); mo.load.run(ctx) }()
	go func() { defer mo.wg.Done(); mo.evalLoop(ctx) }()
}

func (mo *monitor) stop() {
	if mo.cancel != nil {
		mo.cancel()
		mo.wg.Wait()
	}
}

// probeLoop asks member m for its status every probeInterval, and reads
// from it on a loop of its own: a read that hangs (a cut-off member) must
// not slow down what the status shows.
func (mo *monitor) probeLoop(ctx context.Context, m *member) {
	mo.wg.Add(1)
	go func() { defer mo.wg.Done(); mo.readLoop(ctx, m) }()
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		if running(m) && !m.node.Frozen() {
			o := mo.status(ctx, m)
			mo.mu.Lock()
			prev := mo.obs[m.id]
			o.serialRev, o.serialErr, o.linErr = prev.serialRev, prev.serialErr, prev.linErr
			mo.obs[m.id] = o
			mo.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-m.node.Exited():
			mo.eval() // a killed member shows at once
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		case <-t.C:
		}
	}
}

// status asks member m for its Raft status.
func (mo *monitor) status(ctx context.Context, m *member) observation {
	o := observation{at: time.Now()}
	sctx, cancel := context.WithTimeout(ctx, mo.c.cfg.probeTimeout())
	defer cancel()
	st, err := m.status.Status(sctx, &pb.StatusRequest{})
	if err != nil {
		o.statusErr = err
		return o
	}
	o.raftID, o.leader, o.term = st.Header.MemberId, st.Leader, st.RaftTerm
	o.commit, o.applied = st.RaftIndex, st.RaftAppliedIndex
	return o
}

// readLoop reads one key from member m again and again, twice each time:
// serializable (its own copy) and linearizable (confirmed by a quorum).
func (mo *monitor) readLoop(ctx context.Context, m *member) {
	timeout := mo.c.cfg.probeTimeout()
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		if running(m) && !m.node.Frozen() {
			var serialRev int64
			var serialErr, linErr error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				rctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				r, err := m.cli.Get(rctx, "demohost/probe", clientv3.WithSerializable())
				if err == nil {
					serialRev = r.Header.Revision
				}
				serialErr = err
			}()
			go func() {
				defer wg.Done()
				rctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				_, linErr = m.cli.Get(rctx, "demohost/probe")
			}()
			wg.Wait()
			mo.mu.Lock()
			o := mo.obs[m.id]
			o.serialRev, o.serialErr, o.linErr = serialRev, serialErr, linErr
			mo.obs[m.id] = o
			mo.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (mo *monitor) evalLoop(ctx context.Context) {
	t := time.NewTicker(probeInterval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			mo.eval()
		}
	}
}

// health returns the latest snapshot.
func (mo *monitor) health() sdk.HealthSnapshot {
	mo.mu.Lock()
	defer mo.mu.Unlock()
	return mo.snap
}

// markFault starts measuring a fault just injected.
func (mo *monitor) markFault(kind, target string) *faultRecord {
	mo.mu.Lock()
	leader, _ := mo.quorumLeaderLocked()
	mo.mu.Unlock()
	r := &faultRecord{kind: kind, target: target, at: time.Now(), leaderBefore: leader, gap: mo.load.watchGaps()}
	mo.mu.Lock()
	mo.faults = append(mo.faults, r)
	mo.mu.Unlock()
	mo.eval()
	return r
}

// endFault stops measuring the fault of kind on target.
func (mo *monitor) endFault(kind, target string) {
	mo.mu.Lock()
	var r *faultRecord
	for i := len(mo.faults) - 1; i >= 0; i-- {
		if f := mo.faults[i]; f.kind == kind && f.target == target && !f.reverted {
			r = f
			break
		}
	}
	mo.mu.Unlock()
	if r == nil {
		return
	}
	gap := mo.load.endWatch(r.gap)
	mo.mu.Lock()
	r.maxGap, r.reverted = gap, true
	mo.mu.Unlock()
}

// records returns copies of the fault records, oldest first.
func (mo *monitor) records() []faultRecord {
	mo.mu.Lock()
	defer mo.mu.Unlock()
	out := make([]faultRecord, 0, len(mo.faults))
	for _, f := range mo.faults {
		r := *f
		if !r.reverted {
			r.maxGap = mo.load.currentGap(f.gap)
		}
		out = append(out, r)
	}
	return out
}

// memberByRaftID maps a raft id to a member id, from the members' own
// status answers.
func (mo *monitor) memberByRaftIDLocked(id uint64) string {
	if id == 0 {
		return ""
	}
	for mid, o := range mo.obs {
		if o.raftID == id {
			return mid
		}
	}
	return fmt.Sprintf("%x", id)
}

// fresh reports whether o is recent enough to describe the member now.
func (mo *monitor) fresh(o observation, now time.Time) bool {
	return !o.at.IsZero() && now.Sub(o.at) < 2*mo.c.cfg.probeTimeout()+probeInterval
}

// claims returns, for members that answer, the ones that say they lead,
// with their terms.
func (mo *monitor) claimsLocked(now time.Time) map[string]uint64 {
	out := map[string]uint64{}
	for _, m := range mo.c.members {
		o, ok := mo.obs[m.id]
		if !ok || !running(m) || !mo.fresh(o, now) || o.statusErr != nil {
			continue
		}
		if o.leader != 0 && o.leader == o.raftID {
			out[m.id] = o.term
		}
	}
	return out
}

// quorumLeaderLocked is the member that claims leadership and that a quorum
// of members (itself included) follows in its term.
func (mo *monitor) quorumLeaderLocked() (string, uint64) {
	now := time.Now()
	for id, term := range mo.claimsLocked(now) {
		raftID := mo.obs[id].raftID
		n := 0
		for _, m := range mo.c.members {
			o, ok := mo.obs[m.id]
			if ok && running(m) && mo.fresh(o, now) && o.statusErr == nil && o.leader == raftID && o.term == term {
				n++
			}
		}
		if n >= mo.c.quorum() {
			return id, term
		}
	}
	return "", 0
}

// eval computes a snapshot from the latest observations and the load, and
// tells the host at once when something it shows changed.
func (mo *monitor) eval() {
	ls := mo.load.stats()
	now := time.Now()
	mo.mu.Lock()
	snap := sdk.HealthSnapshot{TakenAt: now}
	var viols []sdk.Violation
	add := func(inv, target string, sev sdk.Severity, msg string) {
		viols = append(viols, sdk.Violation{Invariant: inv, Target: target, Severity: sev, Message: msg})
	}
	leader, leaderTerm := mo.quorumLeaderLocked()
	claims := mo.claimsLocked(now)
	// Raft allows one leader per term, ever: remember every claim.
	for id, term := range claims {
		if prev, ok := mo.termLead[term]; ok && prev != id {
			mo.splits = append(mo.splits, fmt.Sprintf("%s and %s both claimed leadership of term %d", prev, id, term))
		} else {
			mo.termLead[term] = id
		}
	}
	var maxTerm, maxCommit uint64
	up := 0
	for _, m := range mo.c.members {
		o := mo.obs[m.id]
		maxTerm, maxCommit = max(maxTerm, o.term), max(maxCommit, o.commit)
	}
	for _, m := range mo.c.members {
		o, seen := mo.obs[m.id]
		n := sdk.Node{ID: m.id, Name: m.id, Address: strings.TrimPrefix(m.client, "http://")}
		switch {
		case !running(m):
			n.State, n.Detail = sdk.Down, "not running: "+m.node.Stopped()
			add(invMemberDown, m.id, sdk.Warning, m.id+" is not running: "+m.node.Stopped())
		case m.node.Frozen():
			n.State, n.Detail = sdk.Paused, "frozen ("+mo.c.freezeVerb()+")"
			add(invMemberDown, m.id, sdk.Warning, m.id+" does not answer: it is frozen ("+mo.c.freezeVerb()+")")
		case !seen || !mo.fresh(o, now):
			n.State, n.Detail = sdk.Unknown, "no answer yet"
		case o.statusErr != nil:
			n.State, n.Detail = sdk.Down, "no answer: "+shortErr(o.statusErr)
			add(invMemberDown, m.id, sdk.Warning, m.id+" does not answer: "+shortErr(o.statusErr))
		default:
			lead := mo.memberByRaftIDLocked(o.leader)
			n.Detail = fmt.Sprintf("term %d · commit %d · applied %d", o.term, o.commit, o.applied)
			switch {
			case o.leader == 0:
				n.Role = "no leader"
			case o.leader == o.raftID && m.id == leader:
				n.Role = "leader"
			case o.leader == o.raftID:
				n.Role = "stale leader" // claims to lead, without a quorum behind it
			default:
				n.Role = "follower"
				n.Detail += " · leader " + lead
			}
			switch {
			case o.leader == 0:
				n.State = sdk.Degraded
				n.Detail += " · sees no leader"
				add(invIsolated, m.id, sdk.Warning, fmt.Sprintf("%s answers but sees no leader (term %d): reads and writes through it fail", m.id, o.term))
			case o.linErr != nil:
				n.State = sdk.Degraded
				n.Detail += " · linearizable reads fail"
				msg := fmt.Sprintf("%s answers but cannot serve a linearizable read: %s", m.id, shortErr(o.linErr))
				if n.Role == "stale leader" && leader != "" {
					msg = fmt.Sprintf("%s still claims term %d but %s leads term %d with a quorum; reads through %s fail", m.id, o.term, leader, leaderTerm, m.id)
				}
				add(invIsolated, m.id, sdk.Warning, msg)
			default:
				n.State = sdk.Up
				up++
			}
			if o.serialErr == nil && ls.maxRev > 0 && ls.maxRev-o.serialRev > int64(mo.c.cfg.staleBound) {
				add(invStaleRead, m.id, sdk.Warning, fmt.Sprintf("a serializable read on %s returns revision %d; a linearizable one returned %d (%d behind, bound %d)",
					m.id, o.serialRev, ls.maxRev, ls.maxRev-o.serialRev, mo.c.cfg.staleBound))
			}
			snap.Counters = append(snap.Counters, sdk.Counter{Key: m.id + " applied", Count: int64(o.applied), Limit: int64(maxCommit)})
		}
		snap.Nodes = append(snap.Nodes, n)
	}
	if leader == "" {
		add(invNoLeader, "", sdk.Critical, fmt.Sprintf("no member leads with a quorum (%d of %d) behind it: writes cannot commit", mo.c.quorum(), len(mo.c.members)))
	}
	if ls.sinceAck > mo.c.cfg.writesFailingAfter() {
		msg := fmt.Sprintf("no write acknowledged for %s", ls.sinceAck.Round(10*time.Millisecond))
		if ls.lastErr != "" {
			msg += " (last error: " + shortMsg(ls.lastErr) + ")"
		}
		add(invWritesFailing, "", sdk.Critical, msg)
	}
	for _, s := range mo.splits {
		add(invSplitBrain, "", sdk.Critical, s)
	}
	var electionMs, gapMs float64
	if k := len(mo.faults); k > 0 {
		f := mo.faults[k-1]
		if !f.reverted {
			if f.electedAfter == 0 && leader != "" && f.leaderBefore != "" && leader != f.leaderBefore {
				f.electedAfter, f.newLeader = now.Sub(f.at), leader
			}
			if f.noLeaderSeen == 0 && f.target != "" && mo.obs[f.target].leader == 0 && mo.fresh(mo.obs[f.target], now) && mo.obs[f.target].statusErr == nil {
				f.noLeaderSeen = now.Sub(f.at)
			}
		}
		if leader != "" && f.leaderBefore != "" && leader != f.leaderBefore {
			add(invLeaderChanged, "", sdk.Info, fmt.Sprintf("leader moved %s → %s (term %d), first seen %s after %s",
				f.leaderBefore, leader, leaderTerm, f.electedAfter.Round(time.Millisecond), f.kind))
		}
		electionMs = float64(f.electedAfter.Milliseconds())
		if f.reverted {
			gapMs = float64(f.maxGap.Milliseconds())
		} else {
			gapMs = float64(mo.load.currentGap(f.gap).Milliseconds())
		}
	}
	snap.Metrics = []sdk.Metric{
		{Name: "writes_ok_pct", Value: ls.writeOKPct, Unit: "%", Kind: sdk.MetricGauge},
		{Name: "reads_ok_pct", Value: ls.readOKPct, Unit: "%", Kind: sdk.MetricGauge},
		{Name: "write_p99_ms", Value: float64(ls.writeP99.Microseconds()) / 1000, Unit: "ms", Kind: sdk.MetricGauge},
		{Name: "writes", Value: float64(ls.writesOK), Unit: "writes", Kind: sdk.MetricCounter},
		{Name: "raft_term", Value: float64(maxTerm), Unit: "term", Kind: sdk.MetricGauge},
		{Name: "leaders", Value: float64(len(claims)), Unit: "members", Kind: sdk.MetricGauge},
		{Name: "members_up", Value: float64(up), Unit: "members", Kind: sdk.MetricGauge},
		{Name: "serializable_reads_ok", Value: float64(mo.serialOKLocked(now)), Unit: "members", Kind: sdk.MetricGauge},
		{Name: "election_ms", Value: electionMs, Unit: "ms", Kind: sdk.MetricGauge},
		{Name: "write_gap_ms", Value: gapMs, Unit: "ms", Kind: sdk.MetricGauge},
	}
	// Violations keep the time they were first seen.
	keep := map[string]time.Time{}
	for i := range viols {
		k := viols[i].Invariant + "/" + viols[i].Target
		since, ok := mo.since[k]
		if !ok {
			since = now
		}
		keep[k], viols[i].Since = since, since
	}
	mo.since = keep
	sort.Slice(viols, func(i, j int) bool { return viols[i].Invariant+viols[i].Target < viols[j].Invariant+viols[j].Target })
	snap.Violations = viols
	mo.snap = snap
	sig := signature(snap)
	changed := sig != mo.signature
	mo.signature = sig
	mo.mu.Unlock()
	if changed {
		mo.changed()
	}
}

// serialOKLocked counts members whose latest serializable read succeeded.
func (mo *monitor) serialOKLocked(now time.Time) int {
	n := 0
	for _, m := range mo.c.members {
		o, ok := mo.obs[m.id]
		if ok && running(m) && mo.fresh(o, now) && o.statusErr == nil && o.serialErr == nil {
			n++
		}
	}
	return n
}

// signature is what makes a snapshot worth sending at once: node states and
// roles, and which violations are present.
func signature(s sdk.HealthSnapshot) string {
	var b strings.Builder
	for _, n := range s.Nodes {
		fmt.Fprintf(&b, "%s:%s:%s;", n.ID, n.State, n.Role)
	}
	for _, v := range s.Violations {
		fmt.Fprintf(&b, "%s/%s;", v.Invariant, v.Target)
	}
	return b.String()
}

func shortErr(err error) string { return shortMsg(err.Error()) }

// shortMsg drops gRPC framing from an error message.
func shortMsg(s string) string {
	if i := strings.LastIndex(s, "desc = "); i >= 0 {
		s = s[i+len("desc = "):]
	}
	return s
}
