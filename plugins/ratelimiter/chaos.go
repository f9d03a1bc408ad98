package ratelimiter

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/demohost/demohost/sdk"
)

// InjectChaos starts a real fault of one of the declared kinds.
func (s *Subject) InjectChaos(ctx context.Context, req sdk.InjectRequest) (sdk.Injected, error) {
	f := req.Fault
	cl, c, mon, err := s.running()
	if err != nil {
		return sdk.Injected{}, fmt.Errorf("inject %s: %w", f.Kind, err)
	}
	var inj sdk.Injected
	switch f.Kind {
	case sdk.RedisPause:
		if f.Target != "" && f.Target != "redis" {
			return sdk.Injected{}, fmt.Errorf("REDIS_PAUSE target %q: only \"redis\" (or empty) can be paused", f.Target)
		}
		handle, detail, err := cl.PauseRedis(ctx)
		if err != nil {
			return sdk.Injected{}, err
		}
		inj = sdk.Injected{Handle: handle, Target: "redis", Detail: detail}
	case sdk.ContainerKill:
		target := f.Target
		if target == "" {
			nodes := cl.Nodes()
			target = nodes[len(nodes)-1].ID
		}
		detail, err := cl.KillNode(ctx, target)
		if err != nil {
			return sdk.Injected{}, fmt.Errorf("CONTAINER_KILL: %w", err)
		}
		inj = sdk.Injected{Handle: nodeKillPrefix + target, Target: target, Detail: detail}
	case sdk.BurstTraffic:
		inj, err = s.startBurst(cl, c, mon, f)
		if err != nil {
			return sdk.Injected{}, err
		}
	default:
		return sdk.Injected{}, fmt.Errorf("fault kind %s is not one ratelimiter declares (REDIS_PAUSE, CONTAINER_KILL, BURST_TRAFFIC)", f.Kind)
	}
	s.mu.Lock()
	s.injected = append(s.injected, injection{Kind: f.Kind, Target: inj.Target, At: time.Now()})
	s.mu.Unlock()
	return inj, nil
}

// burstRun is one burst: running until done is closed, then its result.
type burstRun struct {
	key    string
	cancel context.CancelFunc
	done   chan struct{}
	result burstResult // once done is closed
}

// startBurst sends multiplier × the key's limit checks at once.
func (s *Subject) startBurst(cl cluster, c *client, mon *monitor, f sdk.Fault) (sdk.Injected, error) {
	mult := f.Params.Float("multiplier")
	if mult < 0.1 || mult > 1000 {
		return sdk.Injected{}, fmt.Errorf("BURST_TRAFFIC multiplier=%v: want 0.1 to 1000 (times the tenant's limit)", mult)
	}
	key := f.Target
	if key == "" {
		key = hotKey
	}
	limit := s.options().Int("limit")
	if a, ok := mon.keyAudit(key); ok && a.Limit > 0 {
		limit = a.Limit
	}
	total := min(max(int(mult*float64(limit)), 1), 100000)
	ctx, cancel := context.WithCancel(context.Background())
	run := &burstRun{key: key, cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	s.burstSeq++
	handle := burstPrefix + strconv.Itoa(s.burstSeq)
	s.bursts[handle] = run
	stats := s.stats
	s.mu.Unlock()
	nodes := cl.Nodes()
	s.bg.Go(func() {
		res := burst(ctx, c, nodes, key, total, stats)
		s.mu.Lock()
		run.result, s.lastBurst = res, &res
		s.mu.Unlock()
		close(run.done)
	})
	return sdk.Injected{Handle: handle, Target: key,
		Detail: fmt.Sprintf("burst of %d checks for %s across %d nodes (%g × limit %d)", total, key, len(nodes), mult, limit)}, nil
}

// RevertChaos undoes a fault and says what it did. Redis pause handles name
// the very process or container, so a fresh plugin can revert them;
// reverting twice is fine.
func (s *Subject) RevertChaos(ctx context.Context, req sdk.RevertRequest) (sdk.Reverted, error) {
	var detail string
	var err error
	switch h := req.Handle; {
	case strings.HasPrefix(h, redisPausePrefix+"local:"):
		detail, err = resumeLocalRedis(strings.TrimPrefix(h, redisPausePrefix+"local:"))
	case strings.HasPrefix(h, redisPausePrefix+"docker:"):
		detail, err = unpauseDockerRedis(ctx, strings.TrimPrefix(h, redisPausePrefix+"docker:"))
	case strings.HasPrefix(h, nodeKillPrefix):
		id := strings.TrimPrefix(h, nodeKillPrefix)
		s.mu.Lock()
		cl := s.cl
		s.mu.Unlock()
		if cl == nil { // a fresh process: no cluster of ours runs
			return sdk.Reverted{Detail: id + " went with the plugin process that ran it: nothing to start"}, nil
		}
		detail, err = cl.StartNode(ctx, id)
	case strings.HasPrefix(h, burstPrefix):
		detail = s.stopBurst(h)
	default:
		return sdk.Reverted{}, fmt.Errorf("unknown chaos handle %q (this plugin writes redis-pause:…, node-kill:…, burst:…)", h)
	}
	if err != nil {
		return sdk.Reverted{}, err
	}
	return sdk.Reverted{Detail: detail}, nil
}

// stopBurst cancels what is left of a burst and says how it went.
func (s *Subject) stopBurst(handle string) string {
	s.mu.Lock()
	run := s.bursts[handle]
	delete(s.bursts, handle)
	s.mu.Unlock()
	if run == nil {
		return "no burst " + strings.TrimPrefix(handle, burstPrefix) + " runs in this plugin process: nothing to stop"
	}
	select {
	case <-run.done:
		r := run.result
		return fmt.Sprintf("the burst for %s had ended: %d sent, %d allowed, %d denied", run.key, r.Sent, r.Allowed, r.Denied)
	default:
	}
	run.cancel()
	<-run.done
	r := run.result
	return fmt.Sprintf("stopped the burst for %s after %d checks (%d allowed, %d denied)", run.key, r.Sent, r.Allowed, r.Denied)
}
