package ratelimiter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/demohost/demohost/plugins/ratelimiter/limiter"
	"github.com/demohost/demohost/sdk"
)

// Chapters is the demo script, as the options make it. Deadlines are
// generous multiples of the monitor's grace periods and the audit span, and
// short enough that the headless run takes about a minute.
func (s *Subject) Chapters(context.Context) ([]sdk.Chapter, error) {
	opts := s.options()
	limit, window, ttl := opts.Int("limit"), opts.Duration("window"), opts.Duration("cache_ttl")
	span := auditSpan(window)
	policy := opts.String("fail_policy")
	const countdown = 2 * time.Second
	quick := 5 * time.Second
	settle := span + window + 5*time.Second

	// With fail policy closed the nodes deny instead of over-admitting: the
	// chapters then expect the anomaly to stay absent all along. (With Redis
	// healthy no policy over-admits, but a Redis call slower than the nodes'
	// 100ms timeout, as on a loaded machine, is a real outage to open and
	// local: only closed can promise no over-admission at every moment.)
	// The steady state before the pause may take an audit span to return
	// after such a stall.
	pauseExpect := []sdk.Expectation{
		sdk.Before(sdk.NoViolation(""), settle),
		sdk.Eventually(sdk.ViolationPresent(invRedisUnreachable), quick),
		sdk.Eventually(sdk.MetricAbove("fail_open_admits", 0), quick),
	}
	overLimit := sdk.Eventually(sdk.ViolationPresent(invOverLimit), quick)
	drift := sdk.Eventually(sdk.ViolationPresent(invCounterDrift), quick)
	pauseStory := "Nodes fail [red]open[/]: every check whose Redis call times out is *admitted*. The hot tenant, normally held to its limit, now gets everything it asks for."
	switch policy {
	case "closed":
		pauseExpect[2] = sdk.Holds(sdk.NoViolation(invOverLimit), 3*time.Second)
		overLimit = sdk.Holds(sdk.NoViolation(invOverLimit), quick)
		drift = sdk.Holds(sdk.NoViolation(invCounterDrift), 3*time.Second)
		pauseStory = "Nodes fail [green]closed[/]: checks whose Redis call times out are *denied*. Nothing is over-admitted, but every tenant is refused."
	case "local":
		pauseExpect = pauseExpect[:2]
		pauseStory = "Nodes fall back to a [yellow]local[/] window each: together they admit up to nodes × limit."
	}

	return []sdk.Chapter{
		{
			ID:    "healthy",
			Title: "A healthy cluster",
			Narration: fmt.Sprintf("%d stateless limiter nodes share one real Redis. Each check runs *one Lua script* that reads the time from Redis (TIME) "+
				"and keeps a sliding window of %d requests per %s per tenant.", opts.Int("nodes"), limit, window),
			Expectations: []sdk.Expectation{sdk.Eventually(sdk.AllNodes(sdk.Up), 10*time.Second), sdk.Eventually(sdk.NoViolation(""), 10*time.Second)},
		},
		{
			ID:            "baseline",
			Title:         "Baseline traffic",
			Narration:     "Steady traffic from four tenants. Three stay under their limit; [yellow]tenant:hot[/] asks for 1.5 × its limit and is throttled. _Watch allowed/denied and p99._",
			Action:        s.showTraffic,
			AutoAdvance:   true,
			BlocksAdvance: true,
			Expectations: []sdk.Expectation{
				sdk.Eventually(sdk.MetricAbove("ops_per_s", 0), quick),
				sdk.Eventually(sdk.MetricAbove("denied", 0), 10*time.Second),
				sdk.Eventually(sdk.NoViolation(""), quick),
			},
		},
		{
			ID:            "pause-redis",
			Title:         "Pause Redis",
			Narration:     "We freeze Redis with a real [red]SIGSTOP[/] (docker pause). Its socket still accepts connections; nothing answers. Each check times out after 100ms. " + pauseStory,
			KeyHint:       "space: continue once redis_unreachable shows",
			BlocksAdvance: true,
			Action:        s.showHotTenant,
			Fault:         &sdk.Fault{Kind: sdk.RedisPause, Name: "pause Redis", Target: "redis", Description: "SIGSTOP the Redis process (docker pause)"},
			Countdown:     countdown,
			Expectations:  pauseExpect,
		},
		{
			ID:           "over-limit",
			Title:        "Detection: over the limit",
			Narration:    "The nodes' own admission counts are audited against the limit: more than the limit admitted in one window is [red]over_limit[/].",
			Expectations: []sdk.Expectation{overLimit},
		},
		{
			ID:           "redis-back",
			Title:        "Redis is back; the counts disagree",
			Narration:    "We resume Redis (SIGCONT). It now runs the checks that timed out, but the nodes admitted far more than Redis ever recorded: [red]counter_drift[/].",
			RevertChaos:  true,
			Expectations: []sdk.Expectation{sdk.After(sdk.NoViolation(invRedisUnreachable), quick), drift},
		},
		{
			ID:           "recovery",
			Title:        "Recovery",
			Narration:    "Redis decides again. Once the audit span has passed, over_limit and counter_drift clear. _No process was restarted._",
			Expectations: []sdk.Expectation{sdk.Eventually(sdk.AllNodes(sdk.Up), settle), sdk.Eventually(sdk.NoViolation(""), settle)},
		},
		{
			ID:    "block-tenant",
			Title: "Block a tenant",
			Narration: fmt.Sprintf("[yellow]%s[/] has been calling every node. Support blocks it: its limit is set to *0* through node-1. "+
				"The other nodes cached the old limit and keep it for up to %s.", blockedKey, ttl),
			Action:        s.blockTenant,
			AutoAdvance:   true,
			BlocksAdvance: true,
		},
		{
			ID:            "burst",
			Title:         "Burst: stale caches ghost-allow",
			Narration:     "The blocked tenant fires 3 × the old limit at every node. node-1 refuses; nodes with a stale cache still apply the old limit and let requests through: [red]ghost_allowing[/].",
			BlocksAdvance: true,
			Fault: &sdk.Fault{Kind: sdk.BurstTraffic, Name: "burst from the blocked tenant", Target: blockedKey, Description: "3 × limit checks at once",
				Params: sdk.Options{"multiplier": "3"}},
			Countdown: countdown,
			Expectations: []sdk.Expectation{
				sdk.Before(sdk.NoViolation(invGhostAllowing), quick),
				sdk.Eventually(sdk.ViolationPresent(invGhostAllowing), quick),
			},
		},
		{
			ID:           "caches",
			Title:        "Caches catch up",
			Narration:    fmt.Sprintf("Each cached limit expires within %s; from then on every node denies the blocked tenant and ghost_allowing clears.", ttl),
			RevertChaos:  true,
			Expectations: []sdk.Expectation{sdk.After(sdk.NoViolation(invGhostAllowing), ttl+span+10*time.Second)},
		},
		{
			ID:            "kill-node",
			Title:         "Kill a node",
			Narration:     "We [red]SIGKILL[/] a limiter node (docker kill). Its share of traffic fails over to the others, which carry on deciding.",
			KeyHint:       "space: continue once node_down shows",
			BlocksAdvance: true,
			Fault:         &sdk.Fault{Kind: sdk.ContainerKill, Name: "kill a limiter node", Description: "SIGKILL one node process (docker kill)"},
			Countdown:     countdown,
			Expectations: []sdk.Expectation{
				sdk.Before(sdk.AllNodes(sdk.Up), 10*time.Second),
				sdk.Eventually(sdk.ViolationPresent(invNodeDown), quick),
				sdk.Holds(sdk.MetricAbove("ops_per_s", 0), quick),
			},
		},
		{
			ID:           "node-recovery",
			Title:        "Node recovery",
			Narration:    "The node is started again. Every node is [green]UP[/] and nothing is violated.",
			RevertChaos:  true,
			Expectations: []sdk.Expectation{sdk.After(sdk.AllNodes(sdk.Up), 15*time.Second), sdk.After(sdk.NoViolation(""), settle)},
		},
		{
			ID:        "summary",
			Title:     "Summary",
			Narration: "What the audit saw, in numbers. Every fault was real, and every one is reverted.",
			Action:    s.summarize,
		},
	}, nil
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
			return sdk.Fatal(errors.New("the cluster is not set up"))
		}
		ops, p99 := stats.rate()
		status.Info(fmt.Sprintf("%.0f req/s · allowed %d · denied %d · p99 %.1fms", ops, stats.allowed.Load(), stats.denied.Load(), ms(p99)))
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
		sev := sdk.Info
		if a.InWindow > a.Limit {
			sev = sdk.Warning
		}
		status.Line(sev, fmt.Sprintf("%s: %d admitted in the last window (limit %d) · admitted without Redis so far: %d",
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
			status.Warning(fmt.Sprintf("%s: %s not answering", blockedKey, n.ID))
		}
	}
	window := s.options().Duration("window")
	var stored limiter.Limit
	for _, n := range nodes { // the first node that answers takes the change
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		stored, err = c.setLimit(rctx, n.Addr, blockedKey, limiter.Limit{Limit: 0, WindowMS: window.Milliseconds()})
		cancel()
		if err == nil {
			status.Info(fmt.Sprintf("PUT /api/limits/%s {limit: %d} via %s", blockedKey, stored.Limit, n.ID))
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
			status.Warning(fmt.Sprintf("%s: not answering", n.ID))
		case l.Limit != 0:
			status.Warning(fmt.Sprintf("%s still applies limit %d (stale %s)", n.ID, l.Limit, l.Source))
		default:
			status.Info(fmt.Sprintf("%s applies limit 0", n.ID))
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
	status.Info(fmt.Sprintf("decisions: %d · worst p99 %.1fms", p.DecisionsTotal, ms(p.P99)))
	status.Info(fmt.Sprintf("admitted without Redis (fail-open): %d", p.FailOpen))
	if p.OverKey != "" && p.OverAdmitted > p.OverLimit {
		status.Warning(fmt.Sprintf("worst over-admission: %d in one window for %s (limit %d, %.1f×)",
			p.OverAdmitted, p.OverKey, p.OverLimit, float64(p.OverAdmitted)/float64(p.OverLimit)))
	}
	status.Info(fmt.Sprintf("largest drift, nodes vs Redis: %d requests", p.Drift))
	status.Info(fmt.Sprintf("ghost admissions after the block: %d", p.Ghost))
	if last != nil {
		status.Info(fmt.Sprintf("last burst (%s): %d sent, %d allowed, %d denied", last.Key, last.Sent, last.Allowed, last.Denied))
	}
	for _, inj := range injected {
		inv := map[string]string{sdk.RedisPause: invRedisUnreachable, sdk.ContainerKill: invNodeDown, sdk.BurstTraffic: invGhostAllowing}[inj.Kind]
		for _, o := range p.Onsets {
			if o.Invariant == inv && !o.At.Before(inj.At) {
				status.Info(fmt.Sprintf("%s on %s → %s seen after %dms", inj.Kind, inj.Target, inv, o.At.Sub(inj.At).Milliseconds()))
				break
			}
		}
	}
	status.Info(fmt.Sprintf("longest Redis outage %.1fs · longest node outage %.1fs", p.RedisOutage.Seconds(), p.NodeOutage.Seconds()))
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
