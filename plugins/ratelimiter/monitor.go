package ratelimiter

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
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
// raising a violation. Redis, which every check depends on, is probed
// every 50ms: an outage is then noticed at most 50ms after it starts, and
// redis_unreachable raised redisGrace after that.
const (
	probeInterval      = 200 * time.Millisecond
	redisProbeInterval = 50 * time.Millisecond
	redisTimeout       = 150 * time.Millisecond
	nodeTimeout        = 300 * time.Millisecond
	redisGrace         = 300 * time.Millisecond
	nodeGrace          = 500 * time.Millisecond
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
// health snapshots. Whenever its view changes (a node state, a violation
// raised or cleared) it calls changed, so the host hears of it at once.
type monitor struct {
	cl       cluster
	http     *client
	rdb      *redis.Client
	stats    *trafficStats
	defLimit int
	defWin   time.Duration
	span     time.Duration
	changed  func()

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
	lastView   string      // signature of the view last reported as changed
	recheckAt  *time.Timer // judges again when a grace period or hold ends
	stopped    bool
}

// heldViolation is the last sighting of an audit violation.
type heldViolation struct {
	v    sdk.Violation
	seen time.Time
}

type nodeStatus struct {
	up        bool
	redisErr  bool // up, but its last Redis call failed
	detail    string
	downSince time.Time
}

// newMonitor returns a monitor of cl; changed (nil: nobody listens) is
// called, never under the monitor's lock, whenever its view changes.
func newMonitor(cl cluster, c *client, stats *trafficStats, defLimit int, defWin, span time.Duration, changed func()) *monitor {
	if changed == nil {
		changed = func() {}
	}
	return &monitor{
		cl: cl, http: c, stats: stats, defLimit: defLimit, defWin: defWin, span: span, changed: changed,
		rdb:        limiter.NewRedisClient(cl.RedisAddr(), redisTimeout),
		nodeStatus: map[string]*nodeStatus{},
		keys:       map[string]keyAudit{},
		active:     map[string]time.Time{},
		held:       map[string]heldViolation{},
		redisOK:    true,
	}
}

// run probes until ctx ends, judging the view after every probe.
func (m *monitor) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range []struct {
		probe func(context.Context)
		every time.Duration
	}{{m.probeRedis, redisProbeInterval}, {m.probeNodes, probeInterval}, {m.audit, probeInterval}} {
		wg.Go(func() {
			t := time.NewTicker(p.every)
			defer t.Stop()
			for {
				p.probe(ctx)
				if ctx.Err() == nil {
					m.recheck()
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
	m.mu.Lock()
	m.stopped = true
	if m.recheckAt != nil {
		m.recheckAt.Stop()
	}
	m.mu.Unlock()
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

// view is what the monitor concludes from its latest probes.
type view struct {
	nodes                      []sdk.Node // Redis first; Redis is UP or DOWN here (snapshot tells PAUSED)
	violations                 []sdk.Violation
	counters                   []sdk.Counter
	up                         int // limiter nodes answering
	overAdmitted, drift, ghost int
	// next is when the view may change with no new probe: a grace period
	// or an audit hold ends (zero: no such moment).
	next time.Time
}

// signature names the node states and violations of v: it differs exactly
// when the host should hear of a change.
func (v view) signature() string {
	var parts []string
	for _, n := range v.nodes {
		parts = append(parts, n.ID+"="+n.State.String())
	}
	for _, x := range v.violations {
		parts = append(parts, x.Invariant+"/"+x.Target)
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// judge builds the view at now from the latest probes; m.mu is held. It
// also keeps the audit holds, first-seen times and onsets.
func (m *monitor) judge(now time.Time) view {
	var v view
	soon := func(t time.Time) {
		if t.After(now) && (v.next.IsZero() || t.Before(v.next)) {
			v.next = t
		}
	}
	var found []sdk.Violation
	raise := func(inv, target string, sev sdk.Severity, msg string, since time.Time) {
		found = append(found, sdk.Violation{Invariant: inv, Severity: sev, Target: target, Message: msg, Since: since})
	}

	// Redis.
	rs := sdk.Node{ID: "redis", Name: "redis", Role: "redis", Address: m.cl.RedisAddr(), State: sdk.Up,
		Detail: fmt.Sprintf("PING %.2fms", ms(m.redisRTT))}
	if !m.redisOK {
		rs.State = sdk.Down
		rs.Detail = "no answer: " + shortErr(fmt.Errorf("%s", m.redisErr))
		if out := now.Sub(m.redisSince); out >= redisGrace {
			raise(invRedisUnreachable, "redis", sdk.Critical,
				fmt.Sprintf("Redis has not answered PING for %.1fs", out.Seconds()), m.redisSince)
		}
		soon(m.redisSince.Add(redisGrace))
	}
	v.nodes = append(v.nodes, rs)

	// Nodes.
	for _, n := range m.cl.Nodes() {
		node := sdk.Node{ID: n.ID, Name: n.ID, Role: "limiter", Address: n.Addr, State: sdk.Unknown}
		if st := m.nodeStatus[n.ID]; st != nil {
			node.Detail = st.detail
			switch {
			case st.up && st.redisErr:
				node.State = sdk.Degraded
				v.up++
			case st.up:
				node.State = sdk.Up
				v.up++
			default:
				node.State = sdk.Down
				if out := now.Sub(st.downSince); out >= nodeGrace {
					raise(invNodeDown, n.ID, sdk.Critical, fmt.Sprintf("%s has not answered for %.1fs", n.ID, out.Seconds()), st.downSince)
				}
				soon(st.downSince.Add(nodeGrace))
			}
		}
		v.nodes = append(v.nodes, node)
	}

	// Keys.
	keys := make([]string, 0, len(m.keys))
	for k := range m.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := m.keys[k]
		v.counters = append(v.counters, sdk.Counter{Key: k, Count: int64(a.InWindow), Limit: int64(a.Limit)})
		win := time.Duration(a.WindowUS) * time.Microsecond
		if a.Limit > 0 && a.MaxWindow > a.Limit {
			v.overAdmitted = max(v.overAdmitted, a.MaxWindow-a.Limit)
			raise(invOverLimit, k, sdk.Critical, fmt.Sprintf("%d admitted in one %s window, limit %d", a.MaxWindow, win, a.Limit), now)
		}
		if a.DriftKnown && a.Drift > driftThreshold(a.Limit) {
			v.drift = max(v.drift, a.Drift)
			raise(invCounterDrift, k, sdk.Warning, fmt.Sprintf("%s: nodes admitted %d more than Redis recorded over the last %s", k, a.Drift, m.span), now)
		}
		if a.Ghost > 0 {
			v.ghost += a.Ghost
			raise(invGhostAllowing, k, sdk.Critical, fmt.Sprintf("%s: %d admitted after its limit was set to 0 (stale limit caches)", k, a.Ghost), now)
		}
	}

	// Hold audit violations briefly after they were last seen.
	seen := map[string]bool{}
	for _, x := range found {
		seen[x.Invariant+"/"+x.Target] = true
		if isAudit(x.Invariant) {
			m.held[x.Invariant+"/"+x.Target] = heldViolation{v: x, seen: now}
		}
	}
	for id, h := range m.held {
		switch {
		case seen[id]:
		case now.Sub(h.seen) < auditHold:
			found = append(found, h.v)
			soon(h.seen.Add(auditHold))
		default:
			delete(m.held, id)
		}
	}

	// Keep each violation's first-seen time while it lasts.
	seen = map[string]bool{}
	for i := range found {
		x := &found[i]
		id := x.Invariant + "/" + x.Target
		seen[id] = true
		if since, ok := m.active[id]; ok {
			if isAudit(x.Invariant) {
				x.Since = since
			}
			continue
		}
		m.active[id] = x.Since
		m.peaks.Onsets = append(m.peaks.Onsets, onset{Invariant: x.Invariant, Target: x.Target, At: now})
	}
	for id := range m.active {
		if !seen[id] {
			delete(m.active, id)
		}
	}
	v.violations = found
	return v
}

// recheck judges the view now and calls changed when it differs from the
// last one reported; it arranges to judge again when the view may change
// on its own (a grace period or an audit hold ends).
func (m *monitor) recheck() {
	now := time.Now()
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	v := m.judge(now)
	sig := v.signature()
	changed := sig != m.lastView
	m.lastView = sig
	if m.recheckAt != nil {
		m.recheckAt.Stop()
		m.recheckAt = nil
	}
	if !v.next.IsZero() {
		m.recheckAt = time.AfterFunc(v.next.Sub(now), m.recheck)
	}
	m.mu.Unlock()
	if changed {
		m.changed()
	}
}

// snapshot builds the health snapshot from the latest probes.
func (m *monitor) snapshot(ctx context.Context) sdk.HealthSnapshot {
	redisState := m.cl.RedisState(ctx)
	ops, p99 := m.stats.rate()
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.judge(now)
	if v.nodes[0].State == sdk.Down && redisState == sdk.Paused {
		v.nodes[0].State = sdk.Paused
	}
	m.peaks.P99 = max(m.peaks.P99, p99)
	m.peaks.DecisionsTotal = m.stats.allowed.Load() + m.stats.denied.Load()
	return sdk.HealthSnapshot{
		TakenAt:    now,
		Nodes:      v.nodes,
		Counters:   v.counters,
		Violations: v.violations,
		Metrics: []sdk.Metric{
			{Name: "ops_per_s", Value: ops, Unit: "req/s", Kind: sdk.MetricRate},
			{Name: "allowed", Value: float64(m.stats.allowed.Load()), Unit: "req", Kind: sdk.MetricCounter},
			{Name: "denied", Value: float64(m.stats.denied.Load()), Unit: "req", Kind: sdk.MetricCounter},
			{Name: "p99_ms", Value: ms(p99), Unit: "ms", Kind: sdk.MetricGauge},
			{Name: "redis_rtt_ms", Value: ms(m.redisRTT), Unit: "ms", Kind: sdk.MetricGauge},
			{Name: "nodes_up", Value: float64(v.up), Unit: "nodes", Kind: sdk.MetricGauge},
			{Name: "over_admitted", Value: float64(v.overAdmitted), Unit: "req", Kind: sdk.MetricGauge},
			{Name: "counter_drift", Value: float64(v.drift), Unit: "req", Kind: sdk.MetricGauge},
			{Name: "ghost_admits", Value: float64(v.ghost), Unit: "req", Kind: sdk.MetricGauge},
			{Name: "fail_open_admits", Value: float64(m.failOpen), Unit: "req", Kind: sdk.MetricCounter},
		},
	}
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
