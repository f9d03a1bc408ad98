package ratelimiter

import (
	"context"
	"fmt"
	"time"

	"github.com/demohost/demohost/plugins/ratelimiter/limiter"
	"github.com/demohost/demohost/sdk"
)

// stage is a chapter and its on-enter action (nil when it has none).
type stage struct {
	chapter *sdk.Chapter
	action  func(ctx context.Context, status sdk.Progress) error
}

// Chapters is the demo script.
func (s *Subject) Chapters(context.Context) ([]*sdk.Chapter, error) {
	stages := s.stages()
	out := make([]*sdk.Chapter, len(stages))
	for i, st := range stages {
		out[i] = st.chapter
	}
	return out, nil
}

// EnterChapter runs chapter index's action.
func (s *Subject) EnterChapter(ctx context.Context, index int, status sdk.Progress) error {
	stages := s.stages()
	if index < 0 || index >= len(stages) {
		return fmt.Errorf("no chapter %d (there are %d)", index, len(stages))
	}
	if stages[index].action == nil {
		return nil
	}
	return stages[index].action(ctx, status)
}

// stages builds the chapters from the options. Deadlines are generous
// multiples of the monitor's grace periods and the audit span, and short
// enough that the headless run takes about a minute.
func (s *Subject) stages() []stage {
	opts := s.options()
	limit, window, ttl := opts.Int("limit"), opts.Duration("window"), opts.Duration("cache_ttl")
	span := auditSpan(window)
	policy := opts.String("fail_policy")
	countdown := sdk.Dur(2 * time.Second)
	quick := 5 * time.Second
	settle := span + window + 5*time.Second

	// With fail policy closed the nodes deny instead of over-admitting: the
	// chapters then expect the absence of the anomaly.
	overLimit := sdk.ExpectViolation(invOverLimit, quick)
	drift := sdk.ExpectViolation(invCounterDrift, quick)
	pauseExpect := []*sdk.Expectation{sdk.ExpectViolation(invRedisUnreachable, quick), sdk.ExpectMetricAbove("fail_open_admits", 0, quick)}
	pauseStory := "Nodes fail [red]open[/]: every check whose Redis call times out is *admitted*. The hot tenant, normally held to its limit, now gets everything it asks for."
	switch policy {
	case "closed":
		overLimit = sdk.ExpectNoViolation(invOverLimit, quick)
		drift = sdk.ExpectNoViolation(invCounterDrift, quick)
		pauseExpect = pauseExpect[:1]
		pauseStory = "Nodes fail [green]closed[/]: checks whose Redis call times out are *denied*. Nothing is over-admitted, but every tenant is refused."
	case "local":
		pauseStory = "Nodes fall back to a [yellow]local[/] window each: together they admit up to nodes × limit."
	}

	return []stage{
		{chapter: &sdk.Chapter{
			Title: "A healthy cluster",
			Narration: fmt.Sprintf("%d stateless limiter nodes share one real Redis. Each check runs *one Lua script* that reads the time from Redis (TIME) "+
				"and keeps a sliding window of %d requests per %s per tenant.", opts.Int("nodes"), limit, window),
			Expectations: []*sdk.Expectation{sdk.ExpectAllNodes(sdk.Up, 10*time.Second), sdk.ExpectNoViolation("", 10*time.Second)},
		}},
		{chapter: &sdk.Chapter{
			Title:         "Baseline traffic",
			Narration:     "Steady traffic from four tenants. Three stay under their limit; [yellow]tenant:hot[/] asks for 1.5 × its limit and is throttled. _Watch allowed/denied and p99._",
			HasAction:     true,
			AutoAdvance:   true,
			BlocksAdvance: true,
			Expectations:  []*sdk.Expectation{sdk.ExpectMetricAbove("ops_per_s", 0, quick), sdk.ExpectMetricAbove("denied", 0, 10*time.Second), sdk.ExpectNoViolation("", quick)},
		}, action: s.showTraffic},
		{chapter: &sdk.Chapter{
			Title:          "Pause Redis",
			Narration:      "We freeze Redis with a real [red]SIGSTOP[/] (docker pause). Its socket still accepts connections; nothing answers. Each check times out after 100ms. " + pauseStory,
			KeyHint:        "space: continue once redis_unreachable shows",
			BlocksAdvance:  true,
			HasAction:      true,
			Chaos:          &sdk.ChaosConfig{Name: "pause Redis", Type: sdk.RedisPause, Target: "redis", Description: "SIGSTOP the Redis process (docker pause)"},
			ChaosCountdown: countdown,
			Expectations:   pauseExpect,
		}, action: s.showHotTenant},
		{chapter: &sdk.Chapter{
			Title:        "Detection: over the limit",
			Narration:    "The nodes' own admission counts are audited against the limit: more than the limit admitted in one window is [red]over_limit[/].",
			Expectations: []*sdk.Expectation{overLimit},
		}},
		{chapter: &sdk.Chapter{
			Title:        "Redis is back; the counts disagree",
			Narration:    "We resume Redis (SIGCONT). It now runs the checks that timed out, but the nodes admitted far more than Redis ever recorded: [red]counter_drift[/].",
			RevertChaos:  true,
			Expectations: []*sdk.Expectation{sdk.ExpectNoViolation(invRedisUnreachable, quick), drift},
		}},
		{chapter: &sdk.Chapter{
			Title:        "Recovery",
			Narration:    "Redis decides again. Once the audit span has passed, over_limit and counter_drift clear. _No process was restarted._",
			Expectations: []*sdk.Expectation{sdk.ExpectAllNodes(sdk.Up, settle), sdk.ExpectNoViolation("", settle)},
		}},
		{chapter: &sdk.Chapter{
			Title: "Block a tenant",
			Narration: fmt.Sprintf("[yellow]%s[/] has been calling every node. Support blocks it: its limit is set to *0* through node-1. "+
				"The other nodes cached the old limit and keep it for up to %s.", blockedKey, ttl),
			HasAction:     true,
			AutoAdvance:   true,
			BlocksAdvance: true,
		}, action: s.blockTenant},
		{chapter: &sdk.Chapter{
			Title:          "Burst: stale caches ghost-allow",
			Narration:      "The blocked tenant fires 3 × the old limit at every node. node-1 refuses; nodes with a stale cache still apply the old limit and let requests through: [red]ghost_allowing[/].",
			BlocksAdvance:  true,
			Chaos:          &sdk.ChaosConfig{Name: "burst from the blocked tenant", Type: sdk.BurstTraffic, Target: blockedKey, BurstMultiplier: 3, Description: "3 × limit checks at once"},
			ChaosCountdown: countdown,
			Expectations:   []*sdk.Expectation{sdk.ExpectViolation(invGhostAllowing, quick)},
		}},
		{chapter: &sdk.Chapter{
			Title:        "Caches catch up",
			Narration:    fmt.Sprintf("Each cached limit expires within %s; from then on every node denies the blocked tenant and ghost_allowing clears.", ttl),
			RevertChaos:  true,
			Expectations: []*sdk.Expectation{sdk.ExpectNoViolation(invGhostAllowing, ttl+span+10*time.Second)},
		}},
		{chapter: &sdk.Chapter{
			Title:          "Kill a node",
			Narration:      "We [red]SIGKILL[/] a limiter node (docker kill). Its share of traffic fails over to the others, which carry on deciding.",
			KeyHint:        "space: continue once node_down shows",
			BlocksAdvance:  true,
			Chaos:          &sdk.ChaosConfig{Name: "kill a limiter node", Type: sdk.ContainerKill, Description: "SIGKILL one node process (docker kill)"},
			ChaosCountdown: countdown,
			Expectations:   []*sdk.Expectation{sdk.ExpectViolation(invNodeDown, quick), sdk.ExpectMetricAbove("ops_per_s", 0, quick)},
		}},
		{chapter: &sdk.Chapter{
			Title:        "Node recovery",
			Narration:    "The node is started again. Every node is [green]UP[/] and nothing is violated.",
			RevertChaos:  true,
			Expectations: []*sdk.Expectation{sdk.ExpectAllNodes(sdk.Up, 15*time.Second), sdk.ExpectNoViolation("", settle)},
		}},
		{chapter: &sdk.Chapter{
			Title:     "Summary",
			Narration: "What the audit saw, in numbers. Every fault was real, and every one is reverted.",
			HasAction: true,
		}, action: s.summarize},
	}
}

// showTraffic reports the traffic once a second for three seconds.
func (s *Subject) showTraffic(ctx context.Context, status sdk.Progress) error {
	for range 3 {
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
		s.mu.Lock()
		stats := s.stats
		s.mu.Unlock()
		if stats == nil {
			return fmt.Errorf("the cluster is not set up")
		}
		ops, p99 := stats.rate()
		status(fmt.Sprintf("%.0f req/s · allowed %d · denied %d · p99 %.1fms", ops, stats.allowed.Load(), stats.denied.Load(), ms(p99)))
	}
	return nil
}

// showHotTenant reports the hot tenant's admissions for three seconds.
func (s *Subject) showHotTenant(ctx context.Context, status sdk.Progress) error {
	_, _, mon, err := s.running()
	if err != nil {
		return err
	}
	for range 3 {
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
		a, _ := mon.keyAudit(hotKey)
		status(fmt.Sprintf("%s: %d admitted in the last window (limit %d) · admitted without Redis so far: %d",
			hotKey, a.InWindow, a.Limit, mon.report().FailOpen))
	}
	return nil
}

// blockTenant has the blocked tenant call every node once (so each caches
// its limit, as a tenant in use would), sets its limit to 0 through the
// first node that answers, and shows what each node applies now.
func (s *Subject) blockTenant(ctx context.Context, status sdk.Progress) error {
	cl, c, _, err := s.running()
	if err != nil {
		return err
	}
	nodes := cl.Nodes()
	for _, n := range nodes {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.check(rctx, n.Addr, blockedKey)
		cancel()
		if err != nil {
			status(fmt.Sprintf("%s: %s not answering", blockedKey, n.ID))
		}
	}
	window := s.options().Duration("window")
	var stored limiter.Limit
	for _, n := range nodes { // the first node that answers takes the change
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		stored, err = c.setLimit(rctx, n.Addr, blockedKey, limiter.Limit{Limit: 0, WindowMS: window.Milliseconds()})
		cancel()
		if err == nil {
			status(fmt.Sprintf("PUT /api/limits/%s {limit: %d} via %s", blockedKey, stored.Limit, n.ID))
			break
		}
	}
	if err != nil {
		return fmt.Errorf("block %s: %w", blockedKey, err)
	}
	for _, n := range nodes {
		var l limiter.Limit
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.getJSON(rctx, "http://"+n.Addr+"/api/limits/"+blockedKey, &l)
		cancel()
		switch {
		case err != nil:
			status(fmt.Sprintf("%s: not answering", n.ID))
		case l.Limit != 0:
			status(fmt.Sprintf("%s still applies limit %d (stale %s)", n.ID, l.Limit, l.Source))
		default:
			status(fmt.Sprintf("%s applies limit 0", n.ID))
		}
	}
	return nil
}

// summarize quotes what the monitor observed.
func (s *Subject) summarize(_ context.Context, status sdk.Progress) error {
	_, _, mon, err := s.running()
	if err != nil {
		return err
	}
	p := mon.report()
	s.mu.Lock()
	injected := append([]injection(nil), s.injected...)
	last := s.lastBurst
	s.mu.Unlock()
	status(fmt.Sprintf("decisions: %d · worst p99 %.1fms", p.DecisionsTotal, ms(p.P99)))
	status(fmt.Sprintf("admitted without Redis (fail-open): %d", p.FailOpen))
	if p.OverKey != "" && p.OverAdmitted > p.OverLimit {
		status(fmt.Sprintf("worst over-admission: %d in one window for %s (limit %d, %.1f×)",
			p.OverAdmitted, p.OverKey, p.OverLimit, float64(p.OverAdmitted)/float64(p.OverLimit)))
	}
	status(fmt.Sprintf("largest drift, nodes vs Redis: %d requests", p.Drift))
	status(fmt.Sprintf("ghost admissions after the block: %d", p.Ghost))
	if last != nil {
		status(fmt.Sprintf("last burst (%s): %d sent, %d allowed, %d denied", last.Key, last.Sent, last.Allowed, last.Denied))
	}
	for _, inj := range injected {
		inv := map[sdk.ChaosType]string{sdk.RedisPause: invRedisUnreachable, sdk.ContainerKill: invNodeDown, sdk.BurstTraffic: invGhostAllowing}[inj.Type]
		for _, o := range p.Onsets {
			if o.Invariant == inv && !o.At.Before(inj.At) {
				status(fmt.Sprintf("%s on %s → %s seen after %dms", inj.Type, inj.Target, inv, o.At.Sub(inj.At).Milliseconds()))
				break
			}
		}
	}
	status(fmt.Sprintf("longest Redis outage %.1fs · longest node outage %.1fs", p.RedisOutage.Seconds(), p.NodeOutage.Seconds()))
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
