package ratelimiter

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/demohost/demohost/sdk"
)

// InjectChaos starts a real fault.
func (s *Subject) InjectChaos(ctx context.Context, cfg *sdk.ChaosConfig) (*sdk.Injected, error) {
	cl, c, mon, err := s.running()
	if err != nil {
		return nil, fmt.Errorf("inject %s: %w", cfg.Type, err)
	}
	var inj *sdk.Injected
	switch cfg.Type {
	case sdk.RedisPause:
		if cfg.Target != "" && cfg.Target != "redis" {
			return nil, fmt.Errorf("REDIS_PAUSE target %q: only \"redis\" (or empty) can be paused", cfg.Target)
		}
		handle, err := cl.PauseRedis(ctx)
		if err != nil {
			return nil, err
		}
		inj = &sdk.Injected{Handle: handle, Target: "redis", Detail: "paused Redis at " + cl.RedisAddr()}
	case sdk.ContainerKill:
		target := cfg.Target
		if target == "" {
			nodes := cl.Nodes()
			target = nodes[len(nodes)-1].ID
		}
		if err := cl.KillNode(ctx, target); err != nil {
			return nil, fmt.Errorf("CONTAINER_KILL: %w", err)
		}
		inj = &sdk.Injected{Handle: nodeKillPrefix + target, Target: target, Detail: "killed " + target + " (" + cl.Kind() + ")"}
	case sdk.BurstTraffic:
		inj, err = s.startBurst(cl, c, mon, cfg)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("chaos type %s is not supported by ratelimiter (supported: REDIS_PAUSE, CONTAINER_KILL, BURST_TRAFFIC)", cfg.Type)
	}
	s.mu.Lock()
	s.injected = append(s.injected, injection{Type: cfg.Type, Target: inj.Target, At: time.Now()})
	s.mu.Unlock()
	return inj, nil
}

func (s *Subject) startBurst(cl cluster, c *client, mon *monitor, cfg *sdk.ChaosConfig) (*sdk.Injected, error) {
	if cfg.BurstMultiplier <= 0 {
		return nil, fmt.Errorf("BURST_TRAFFIC needs burst_multiplier > 0, got %v", cfg.BurstMultiplier)
	}
	key := cfg.Target
	if key == "" {
		key = hotKey
	}
	limit := s.options().Int("limit")
	if a, ok := mon.keyAudit(key); ok && a.Limit > 0 {
		limit = a.Limit
	}
	total := int(cfg.BurstMultiplier * float64(limit))
	total = min(max(total, 1), 100000)
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.burstSeq++
	handle := burstPrefix + strconv.Itoa(s.burstSeq)
	s.bursts[handle] = cancel
	stats := s.stats
	s.mu.Unlock()
	nodes := cl.Nodes()
	s.bg.Go(func() {
		res := burst(ctx, c, nodes, key, total, stats)
		s.mu.Lock()
		s.lastBurst = &res
		s.mu.Unlock()
	})
	return &sdk.Injected{Handle: handle, Target: key,
		Detail: fmt.Sprintf("burst of %d checks for %s across %d nodes (%.1f × limit %d)", total, key, len(nodes), cfg.BurstMultiplier, limit)}, nil
}

// RevertChaos undoes a fault. Redis pause handles name the very process or
// container, so a fresh plugin can revert them; reverting twice is fine.
func (s *Subject) RevertChaos(ctx context.Context, handle string, _ *sdk.ChaosConfig) error {
	switch {
	case strings.HasPrefix(handle, redisPausePrefix+"local:"):
		return resumeLocalRedis(strings.TrimPrefix(handle, redisPausePrefix+"local:"))
	case strings.HasPrefix(handle, redisPausePrefix+"docker:"):
		return unpauseDockerRedis(ctx, strings.TrimPrefix(handle, redisPausePrefix+"docker:"))
	case strings.HasPrefix(handle, nodeKillPrefix):
		s.mu.Lock()
		cl := s.cl
		s.mu.Unlock()
		if cl == nil {
			return nil // no cluster of ours runs: nothing to start again
		}
		return cl.StartNode(ctx, strings.TrimPrefix(handle, nodeKillPrefix))
	case strings.HasPrefix(handle, burstPrefix):
		s.mu.Lock()
		cancel := s.bursts[handle]
		delete(s.bursts, handle)
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		return nil
	}
	return fmt.Errorf("unknown chaos handle %q (this plugin writes redis-pause:…, node-kill:…, burst:…)", handle)
}
