package sdk

import (
	"context"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// guard wraps a Subject and remembers what must be undone if the plugin
// ends abnormally: faults injected and not reverted, a cluster set up and
// not torn down.
type guard struct {
	Subject
	log hclog.Logger

	mu      sync.Mutex
	active  map[string]*ChaosConfig // handle -> config
	setUp   bool
	cleaned sync.Once
}

func newGuard(s Subject, log hclog.Logger) *guard {
	return &guard{Subject: s, log: log, active: map[string]*ChaosConfig{}}
}

func (g *guard) Setup(ctx context.Context, p Progress) error {
	g.mu.Lock()
	g.setUp = true // even a failed Setup may have started something
	g.mu.Unlock()
	return g.Subject.Setup(ctx, p)
}

func (g *guard) Teardown(ctx context.Context, p Progress) error {
	err := g.Subject.Teardown(ctx, p)
	if err == nil {
		g.mu.Lock()
		g.setUp = false
		g.mu.Unlock()
	}
	return err
}

func (g *guard) InjectChaos(ctx context.Context, cfg *ChaosConfig) (*Injected, error) {
	inj, err := g.Subject.InjectChaos(ctx, cfg)
	if err == nil && inj != nil {
		g.mu.Lock()
		g.active[inj.Handle] = cfg
		g.mu.Unlock()
		g.log.Info("chaos injected", "type", cfg.Type.String(), "target", inj.Target, "handle", inj.Handle)
	}
	return inj, err
}

func (g *guard) RevertChaos(ctx context.Context, handle string, cfg *ChaosConfig) error {
	err := g.Subject.RevertChaos(ctx, handle, cfg)
	if err == nil {
		g.mu.Lock()
		delete(g.active, handle)
		g.mu.Unlock()
		g.log.Info("chaos reverted", "handle", handle)
	}
	return err
}

// cleanup reverts every active fault, then tears down; it runs once.
func (g *guard) cleanup() {
	g.cleaned.Do(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		g.mu.Lock()
		active := make(map[string]*ChaosConfig, len(g.active))
		for h, c := range g.active {
			active[h] = c
		}
		setUp := g.setUp
		g.mu.Unlock()
		for h, c := range active {
			if err := g.RevertChaos(ctx, h, c); err != nil {
				g.log.Error("revert on exit failed", "handle", h, "error", err)
			}
		}
		if setUp {
			if err := g.Teardown(ctx, func(msg string) { g.log.Info("teardown: " + msg) }); err != nil {
				g.log.Error("teardown on exit failed", "error", err)
			}
		}
	})
}
