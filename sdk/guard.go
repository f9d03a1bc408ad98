package sdk

import (
	"context"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// guard wraps a Subject and remembers what must be undone if the plugin
// ends: faults injected and not reverted, a cluster set up and not torn
// down.
type guard struct {
	Subject
	log hclog.Logger

	mu      sync.Mutex
	active  map[string]RevertRequest // handle -> how to revert it
	order   []string                 // handles, oldest first
	setUp   bool
	cleaned sync.Once
}

func newGuard(s Subject, log hclog.Logger) *guard {
	return &guard{Subject: s, log: log, active: map[string]RevertRequest{}}
}

func (g *guard) Setup(ctx context.Context, req SetupRequest) error {
	g.mu.Lock()
	g.setUp = true // even a failed Setup may have started something
	g.mu.Unlock()
	return g.Subject.Setup(ctx, req)
}

func (g *guard) Teardown(ctx context.Context, req TeardownRequest) error {
	err := g.Subject.Teardown(ctx, req)
	if err == nil {
		g.mu.Lock()
		g.setUp = false
		g.mu.Unlock()
	}
	return err
}

func (g *guard) InjectChaos(ctx context.Context, req InjectRequest) (Injected, error) {
	inj, err := g.Subject.InjectChaos(ctx, req)
	if err == nil && inj.Handle != "" {
		g.mu.Lock()
		if _, ok := g.active[inj.Handle]; !ok {
			g.order = append(g.order, inj.Handle)
		}
		g.active[inj.Handle] = RevertRequest{Handle: inj.Handle, Fault: req.Fault, Target: inj.Target}
		g.mu.Unlock()
		g.log.Info("chaos injected", "kind", req.Fault.Kind, "target", inj.Target, "handle", inj.Handle)
	}
	return inj, err
}

func (g *guard) RevertChaos(ctx context.Context, req RevertRequest) (Reverted, error) {
	rev, err := g.Subject.RevertChaos(ctx, req)
	if err == nil {
		g.mu.Lock()
		delete(g.active, req.Handle)
		g.mu.Unlock()
		g.log.Info("chaos reverted", "kind", req.Fault.Kind, "target", req.Target, "detail", rev.Detail)
	}
	return rev, err
}

// cleanup reverts every active fault, newest first, then tears down; it
// runs once.
func (g *guard) cleanup() {
	g.cleaned.Do(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		g.mu.Lock()
		var pending []RevertRequest
		for i := len(g.order) - 1; i >= 0; i-- {
			if r, ok := g.active[g.order[i]]; ok {
				pending = append(pending, r)
			}
		}
		setUp := g.setUp
		g.mu.Unlock()
		for _, r := range pending {
			if _, err := g.RevertChaos(ctx, r); err != nil {
				g.log.Error("revert on exit failed", "kind", r.Fault.Kind, "target", r.Target, "error", err)
			}
		}
		if setUp {
			progress := NewProgress(func(_ Severity, msg string) { g.log.Info("teardown: " + msg) })
			if err := g.Teardown(ctx, TeardownRequest{Progress: progress}); err != nil {
				g.log.Error("teardown on exit failed", "error", err)
			}
		}
	})
}
