package tikv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/docker"
)

// killPrefix starts every handle: "kill:container=<full container id>".
const killPrefix = "kill:container="

// InjectChaos SIGKILLs one store container in scope: the one the chaos
// target or the target_store option names, else a random running one.
func (s *Subject) InjectChaos(ctx context.Context, cfg *sdk.ChaosConfig) (*sdk.Injected, error) {
	if cfg.GetType() != sdk.ContainerKill {
		return nil, fmt.Errorf("tikv supports only CONTAINER_KILL, not %s", cfg.GetType())
	}
	opts, scope := s.options()
	want := strings.TrimSpace(cfg.GetTarget())
	if want == "" {
		want = strings.TrimSpace(opts.String("target_store"))
	}
	tg, err := s.dockerTarget(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	refs := append([]storeRef(nil), s.stores...)
	s.mu.Unlock()
	var candidates []storeRef
	for _, r := range refs {
		if r.container.ID == "" {
			continue
		}
		if want == "" && r.container.Running && !r.container.Paused {
			candidates = append(candidates, r)
		} else if want != "" && matchesTarget(r, want) {
			candidates = append(candidates, r)
		}
	}
	if len(candidates) == 0 {
		if want != "" {
			return nil, fmt.Errorf("no store %q among the containers in scope %s (stores: %s)", want, scope, storeNames(refs))
		}
		return nil, fmt.Errorf("no running store container in scope %s to kill (stores: %s)", scope, storeNames(refs))
	}
	victim := candidates[rand.IntN(len(candidates))]
	if err := tg.Kill(ctx, victim.container.ID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.killed = &killRecord{storeID: victim.id(), name: victim.name(), container: victim.container.ID, at: s.now()}
	s.mu.Unlock()
	return &sdk.Injected{
		Handle: killPrefix + victim.container.ID,
		Target: victim.name(),
		Detail: fmt.Sprintf("SIGKILL %s (store %d, container %s) through the Docker Engine API", victim.name(), victim.id(), victim.container.Name),
	}, nil
}

// RevertChaos starts the killed container again and waits until it runs.
// The handle names the container, so a fresh plugin process can revert it;
// the scope is checked again before the start.
func (s *Subject) RevertChaos(ctx context.Context, handle string, _ *sdk.ChaosConfig) error {
	id, ok := strings.CutPrefix(handle, killPrefix)
	if !ok || id == "" {
		return fmt.Errorf("unknown tikv chaos handle %q: want %s<container id>", handle, killPrefix)
	}
	tg, err := s.dockerTarget(ctx)
	if err != nil {
		return err
	}
	if err := tg.Start(ctx, id); err != nil {
		return err
	}
	waitCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := tg.WaitState(waitCtx, id, func(c docker.Container) bool { return c.Running && !c.Paused }); err != nil {
		return err
	}
	s.mu.Lock()
	if s.killed != nil && s.killed.container == id {
		s.killed = nil
	}
	s.mu.Unlock()
	return nil
}

func matchesTarget(r storeRef, want string) bool {
	want = strings.TrimPrefix(want, "store-")
	return want == strconv.FormatUint(r.id(), 10) || want == r.name() || want == r.container.Name ||
		want == r.container.Service() || strings.HasPrefix(r.container.ID, want)
}

func storeNames(refs []storeRef) string {
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		names = append(names, fmt.Sprintf("%s (id %d)", r.name(), r.id()))
	}
	if len(names) == 0 {
		return "none known"
	}
	return strings.Join(names, ", ")
}
