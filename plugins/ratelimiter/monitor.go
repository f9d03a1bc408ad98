package ratelimiter

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/demohost/demohost/plugins/ratelimiter/limiter"
	"github.com/demohost/demohost/sdk"
	"github.com/redis/go-redis/v9"
)

// Invariants the monitor checks.
const (
	invNodeDown         = "node_down"
	invRedisUnreachable = "redis_unreachable"
	invOverLimit        = "over_limit"
	invCounterDrift     = "counter_drift"
	invGhostAllowing    = "ghost_allowing"
)

// Monitor timing. The probes run in the background so a health snapshot
// never waits on a frozen Redis; grace periods keep one slow answer from
// raising a violation.
const (
	probeInterval = 200 * time.Millisecond
	redisTimeout  = 150 * time.Millisecond
	nodeTimeout   = 300 * time.Millisecond
	redisGrace    = 300 * time.Millisecond
	nodeGrace     = 500 * time.Millisecond
	// auditHold keeps an audit violation (over_limit, counter_drift,
	// ghost_allowing) raised until it has been absent this long, so a
	// figure hovering at its threshold does not flap.
	auditHold = time.Second
)

// auditSource reads, in one round trip and at one Redis instant, how many
// admissions Redis holds per key over the audit span and each key's limit.
//
//	KEYS  log key, limit key, log key, limit key, …   ARGV[1] span (µs)
//	returns {now, count, limit|-1, window_ms, updated_us, …}
const auditSource = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local since = '(' .. string.format('%.0f', now - tonumber(ARGV[1]))
local out = {now}
for i = 1, #KEYS, 2 do
  table.insert(out, redis.call('ZCOUNT', KEYS[i], since, '+inf'))
  local l = redis.call('HMGET', KEYS[i + 1], 'limit', 'window_ms', 'updated_us')
  table.insert(out, tonumber(l[1]) or -1)
  table.insert(out, tonumber(l[2]) or 0)
  table.insert(out, tonumber(l[3]) or 0)
end
return out
`

var auditScript = redis.NewScript(auditSource)

// keyAudit is what the monitor knows about one key.
type keyAudit struct {
	Limit     int
	WindowUS  int64
	UpdatedUS int64
	// Admitted in the current window, summed over nodes.
	InWindow int
	// MaxWindow is the most admissions in any window over the audit span
	// (admissions since the limit last changed).
	MaxWindow int
	// Drift is the nodes' admissions over the span minus Redis' record of
	// them (only when Redis answered).
	Drift      int
	DriftKnown bool
	// Ghost counts admissions made after the key's limit was set to 0.
	Ghost int
}

// peaks are the worst figures seen, quoted by the summary chapter.
type peaks struct {
	OverKey        string
	OverAdmitted   int // MaxWindow at the worst moment
	OverLimit      int // the limit then
	Drift          int
	Ghost          int
	FailOpen       int64
	RedisOutage    time.Duration
	NodeOutage     time.Duration
	P99            time.Duration
	Onsets         []onset // violations as they first appeared
	DecisionsTotal int64
}

// onset is when a violation of an invariant (on a target) appeared.
type onset struct {
	Invariant, Target string
	At                time.Time
}

// monitor probes the cluster in the background and turns what it sees into
// health snapshots.
type monitor struct {
	cl       cluster
	http     *client
	rdb      *redis.Client
	stats    *trafficStats
	defLimit int
	defWin   time.Duration
	span     time.Duration

	mu         sync.Mutex
	redisOK    bool
	redisRTT   time.Duration
	redisErr   string
	redisSince time.Time // first failed probe of the current outage
	nodeStatus map[string]*nodeStatus
	keys       map[string]keyAudit
	failOpen   int64
	active     map[string]time.Time // violation key -> since
	held       map[string]heldViolation
	peaks      peaks
}

// heldViolation is the last sighting of an audit violation.
type heldViolation struct {
	v    *sdk.Violation
	seen time.Time
}

type nodeStatus struct {
	up        bool
	redisErr  bool // up, but its last Redis call failed
	detail    string
	downSince time.Time
}

func newMonitor(cl cluster, c *client, stats *trafficStats, defLimit int, defWin, span time.Duration) *monitor {
	return &monitor{
		cl: cl, http: c, stats: stats, defLimit: defLimit, defWin: defWin, span: span,
		rdb:        limiter.NewRedisClient(cl.RedisAddr(), redisTimeout),
		nodeStatus: map[string]*nodeStatus{},
		keys:       map[string]keyAudit{},
		active:     map[string]time.Time{},
		held:       map[string]heldViolation{},
		redisOK:    true,
	}
}

// run probes until ctx ends.
func (m *monitor) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){m.probeRedis, m.probeNodes, m.audit} {
		wg.Go(func() {
			t := time.NewTicker(probeInterval)
			defer t.Stop()
			for {
				loop(ctx)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
	m.rdb.Close()
}

func (m *monitor) probeRedis(ctx context.Context) {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, redisTimeout)
	err := m.rdb.Ping(pctx).Err()
	cancel()
	if ctx.Err() != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		if !m.redisOK {
			m.peaks.RedisOutage = max(m.peaks.RedisOutage, time.Since(m.redisSince))
		}
		m.redisOK, m.redisRTT, m.redisErr = true, time.Since(start), ""
		return
	}
	if m.redisOK {
		m.redisOK, m.redisSince = false, start
	}
	m.redisErr = err.Error()
}

func (m *monitor) probeNodes(ctx context.Context) {
	nodes := m.cl.Nodes()
	results := make([]*nodeStatus, len(nodes))
	m.eachNode(ctx, nodes, "/health", func(i int, get func(any) error) {
		var h limiter.Health
		if err := get(&h); err != nil {
			results[i] = &nodeStatus{up: false, detail: "not answering: " + shortErr(err)}
			return
		}
		st := &nodeStatus{up: true, detail: "fail policy " + h.FailPolicy}
		if h.Redis != "ok" {
			st.redisErr, st.detail = true, "redis: "+shortErr(fmt.Errorf("%s", h.Redis))
		}
		results[i] = st
	})
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, n := range nodes {
		old, r := m.nodeStatus[n.ID], results[i]
		switch {
		case !r.up && (old == nil || old.up):
			r.downSince = now
		case !r.up:
			r.downSince = old.downSince
		case old != nil && !old.up:
			m.peaks.NodeOutage = max(m.peaks.NodeOutage, now.Sub(old.downSince))
		}
		m.nodeStatus[n.ID] = r
	}
}

// eachNode GETs path from every node at once (each within nodeTimeout) and
// hands use a function that decodes node i's answer.
func (m *monitor) eachNode(ctx context.Context, nodes []nodeRef, path string, use func(i int, get func(any) error)) {
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, nodeTimeout)
			defer cancel()
			use(i, func(v any) error { return m.http.getJSON(pctx, "http://"+n.Addr+path, v) })
		})
	}
	wg.Wait()
}

// audit compares what the nodes admitted with the limits and with what
// Redis recorded.
func (m *monitor) audit(ctx context.Context) {
	nodes := m.cl.Nodes()
	reports := make([]*limiter.Admitted, len(nodes))
	m.eachNode(ctx, nodes, "/api/admitted", func(i int, get func(any) error) {
		var a limiter.Admitted
		if get(&a) == nil {
			reports[i] = &a
		}
	})

	keySet := map[string]bool{}
	for _, k := range workloadKeys {
		keySet[k.Key] = true
	}
	var nowUS, failOpen int64
	for _, r := range reports {
		if r == nil {
			continue
		}
		nowUS = max(nowUS, r.NowUS)
		for k, a := range r.Keys {
			keySet[k] = true
			failOpen += a.FailOpen
		}
	}
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	// Redis' side, read after the nodes' so that Redis can only know more.
	redisKeys := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		redisKeys = append(redisKeys, limiter.LogKey(k), limiter.LimitKey(k))
	}
	rctx, cancel := context.WithTimeout(ctx, redisTimeout)
	vals, err := auditScript.Run(rctx, m.rdb, redisKeys, m.span.Microseconds()).Int64Slice()
	cancel()
	if ctx.Err() != nil {
		return
	}
	redisKnown := err == nil && len(vals) == 1+4*len(keys)

	m.mu.Lock()
	defer m.mu.Unlock()
	if redisKnown {
		nowUS = vals[0]
	}
	if nowUS == 0 {
		return // nothing observed yet
	}
	out := make(map[string]keyAudit, len(keys))
	for i, k := range keys {
		prev, ok := m.keys[k] // last known limits survive a Redis outage
		if !ok {
			prev = keyAudit{Limit: m.defLimit, WindowUS: m.defWin.Microseconds()}
		}
		var fromRedis *redisView
		if redisKnown {
			v := vals[1+4*i : 5+4*i]
			fromRedis = &redisView{Count: v[0], Limit: m.defLimit, WindowUS: m.defWin.Microseconds()}
			if v[1] >= 0 && v[2] > 0 {
				fromRedis.Limit, fromRedis.WindowUS, fromRedis.UpdatedUS = int(v[1]), v[2]*1000, v[3]
			}
		}
		var times []int64
		for _, r := range reports {
			if r != nil {
				times = append(times, r.Keys[k].TimesUS...)
			}
		}
		a := auditKey(prev, times, fromRedis, nowUS, m.span.Microseconds())
		out[k] = a
		if a.Limit > 0 && a.MaxWindow-a.Limit > m.peaks.OverAdmitted-m.peaks.OverLimit {
			m.peaks.OverKey, m.peaks.OverAdmitted, m.peaks.OverLimit = k, a.MaxWindow, a.Limit
		}
		m.peaks.Drift = max(m.peaks.Drift, a.Drift)
		m.peaks.Ghost = max(m.peaks.Ghost, a.Ghost)
	}
	m.keys = out
	m.failOpen = max(m.failOpen, failOpen)
	m.peaks.FailOpen = max(m.peaks.FailOpen, failOpen)
}

func isAudit(invariant string) bool {
	return invariant == invOverLimit || invariant == invCounterDrift || invariant == invGhostAllowing
}

// redisView is what Redis holds for one key at the audit instant.
type redisView struct {
	Count     int64 // admissions recorded over the audit span
	Limit     int   // the key's limit (the default when none is stored)
	WindowUS  int64
	UpdatedUS int64 // when the limit was last set (0: never)
}

// auditKey judges one key: times are the admissions the nodes report (µs of
// Redis time, any order), redis what Redis holds (nil when it did not
// answer: prev's limits are kept and drift is unknown), nowUS the audit
// instant and spanUS how far back to look.
func auditKey(prev keyAudit, times []int64, redis *redisView, nowUS, spanUS int64) keyAudit {
	a := keyAudit{Limit: prev.Limit, WindowUS: prev.WindowUS, UpdatedUS: prev.UpdatedUS}
	if redis != nil {
		a.Limit, a.WindowUS, a.UpdatedUS = redis.Limit, redis.WindowUS, redis.UpdatedUS
	}
	times = slices.Sorted(slices.Values(times))
	a.InWindow = countAfter(times, nowUS-a.WindowUS)
	// Admissions since the limit last changed, within the span: judged
	// against the limit in force now.
	recent := times[len(times)-countAfter(times, max(a.UpdatedUS, nowUS-spanUS)):]
	a.MaxWindow = maxInWindow(recent, a.WindowUS)
	if a.Limit == 0 && a.UpdatedUS > 0 {
		a.Ghost = len(recent)
	}
	if redis != nil {
		a.DriftKnown = true
		a.Drift = countAfter(times, nowUS-spanUS) - int(redis.Count)
	}
	return a
}

// driftThreshold is how far the nodes' count may exceed Redis' before
// counter_drift is raised (in-flight decisions make small gaps normal).
func driftThreshold(limit int) int { return max(3, limit/4) }

// countAfter counts the sorted times strictly after t.
func countAfter(sorted []int64, t int64) int {
	i := sort.Search(len(sorted), func(i int) bool { return sorted[i] > t })
	return len(sorted) - i
}

// maxInWindow is the most sorted times inside any half-open window
// (t-window, t].
func maxInWindow(sorted []int64, window int64) int {
	best, lo := 0, 0
	for hi, t := range sorted {
		for sorted[lo] <= t-window {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// snapshot builds the health snapshot from the latest probes.
func (m *monitor) snapshot(ctx context.Context) *sdk.HealthSnapshot {
	redisState := m.cl.RedisState(ctx)
	ops, p99 := m.stats.rate()
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := &sdk.HealthSnapshot{TakenAt: sdk.Time(now)}
	var found []*sdk.Violation
	raise := func(inv, target string, sev sdk.Severity, msg string, since time.Time) {
		found = append(found, &sdk.Violation{Invariant: inv, Severity: sev, Target: target, Message: msg, Since: sdk.Time(since)})
	}

	// Redis.
	rs := &sdk.Node{Id: "redis", Name: "redis", Role: "redis", Address: m.cl.RedisAddr(), State: sdk.Up,
		Detail: fmt.Sprintf("PING %.2fms", ms(m.redisRTT))}
	if !m.redisOK {
		rs.State = sdk.Down
		if redisState == sdk.Paused {
			rs.State = sdk.Paused
		}
		rs.Detail = "no answer: " + shortErr(fmt.Errorf("%s", m.redisErr))
		if out := now.Sub(m.redisSince); out >= redisGrace {
			raise(invRedisUnreachable, "redis", sdk.Critical,
				fmt.Sprintf("Redis has not answered PING for %.1fs", out.Seconds()), m.redisSince)
		}
	}
	snap.Nodes = append(snap.Nodes, rs)

	// Nodes.
	up := 0
	for _, n := range m.cl.Nodes() {
		node := &sdk.Node{Id: n.ID, Name: n.ID, Role: "limiter", Address: n.Addr, State: sdk.Unknown}
		if st := m.nodeStatus[n.ID]; st != nil {
			node.Detail = st.detail
			switch {
			case st.up && st.redisErr:
				node.State = sdk.Degraded
				up++
			case st.up:
				node.State = sdk.Up
				up++
			default:
				node.State = sdk.Down
				if out := now.Sub(st.downSince); out >= nodeGrace {
					raise(invNodeDown, n.ID, sdk.Critical, fmt.Sprintf("%s has not answered for %.1fs", n.ID, out.Seconds()), st.downSince)
				}
			}
		}
		snap.Nodes = append(snap.Nodes, node)
	}

	// Keys.
	var overAdmitted, drift, ghost int
	keys := make([]string, 0, len(m.keys))
	for k := range m.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := m.keys[k]
		snap.Counters = append(snap.Counters, &sdk.Counter{Key: k, Count: int64(a.InWindow), Limit: int64(a.Limit)})
		win := time.Duration(a.WindowUS) * time.Microsecond
		if a.Limit > 0 && a.MaxWindow > a.Limit {
			overAdmitted = max(overAdmitted, a.MaxWindow-a.Limit)
			raise(invOverLimit, k, sdk.Critical, fmt.Sprintf("%s: %d admitted in one %s window, limit %d", k, a.MaxWindow, win, a.Limit), now)
		}
		if a.DriftKnown && a.Drift > driftThreshold(a.Limit) {
			drift = max(drift, a.Drift)
			raise(invCounterDrift, k, sdk.Warning, fmt.Sprintf("%s: nodes admitted %d more than Redis recorded over the last %s", k, a.Drift, m.span), now)
		}
		if a.Ghost > 0 {
			ghost += a.Ghost
			raise(invGhostAllowing, k, sdk.Critical, fmt.Sprintf("%s: %d admitted after its limit was set to 0 (stale limit caches)", k, a.Ghost), now)
		}
	}

	// Hold audit violations briefly after they were last seen.
	seen := map[string]bool{}
	for _, v := range found {
		seen[v.Invariant+"/"+v.Target] = true
		if isAudit(v.Invariant) {
			m.held[v.Invariant+"/"+v.Target] = heldViolation{v: v, seen: now}
		}
	}
	for id, h := range m.held {
		switch {
		case seen[id]:
		case now.Sub(h.seen) < auditHold:
			found = append(found, h.v)
		default:
			delete(m.held, id)
		}
	}

	// Keep each violation's first-seen time while it lasts.
	seen = map[string]bool{}
	for _, v := range found {
		id := v.Invariant + "/" + v.Target
		seen[id] = true
		if since, ok := m.active[id]; ok {
			if isAudit(v.Invariant) {
				v.Since = sdk.Time(since)
			}
			continue
		}
		m.active[id] = v.Since.AsTime()
		m.peaks.Onsets = append(m.peaks.Onsets, onset{Invariant: v.Invariant, Target: v.Target, At: now})
	}
	for id := range m.active {
		if !seen[id] {
			delete(m.active, id)
		}
	}
	snap.Violations = found

	m.peaks.P99 = max(m.peaks.P99, p99)
	m.peaks.DecisionsTotal = m.stats.allowed.Load() + m.stats.denied.Load()
	snap.Metrics = []*sdk.Metric{
		{Name: "ops_per_s", Value: ops, Unit: "req/s"},
		{Name: "allowed", Value: float64(m.stats.allowed.Load()), Unit: "req"},
		{Name: "denied", Value: float64(m.stats.denied.Load()), Unit: "req"},
		{Name: "p99_ms", Value: ms(p99), Unit: "ms"},
		{Name: "redis_rtt_ms", Value: ms(m.redisRTT), Unit: "ms"},
		{Name: "nodes_up", Value: float64(up), Unit: "nodes"},
		{Name: "over_admitted", Value: float64(overAdmitted), Unit: "req"},
		{Name: "counter_drift", Value: float64(drift), Unit: "req"},
		{Name: "ghost_admits", Value: float64(ghost), Unit: "req"},
		{Name: "fail_open_admits", Value: float64(m.failOpen), Unit: "req"},
	}
	return snap
}

// report returns the peaks so far.
func (m *monitor) report() peaks {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peaks
	p.Onsets = append([]onset(nil), p.Onsets...)
	return p
}

// keyAudit returns the latest audit of key.
func (m *monitor) keyAudit(key string) (keyAudit, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.keys[key]
	return a, ok
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// shortErr keeps an error message to one short line.
func shortErr(err error) string {
	s := err.Error()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
