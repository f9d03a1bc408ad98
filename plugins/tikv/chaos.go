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
func (s *Subject) InjectChaos(ctx context.Context, req sdk.InjectRequest) (sdk.Injected, error) {
	if req.Fault.Kind != sdk.ContainerKill {
		return sdk.Injected{}, fmt.Errorf("tikv injects only CONTAINER_KILL, not %s", req.Fault.Kind)
	}
	opts, scope := s.options()
	want := strings.TrimSpace(req.Fault.Target)
	if want == "" {
		want = strings.TrimSpace(opts.String("target_store"))
	}
	tg, err := s.dockerTarget(ctx)
	if err != nil {
		return sdk.Injected{}, err
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
			return sdk.Injected{}, fmt.Errorf("no store %q among the containers in scope %s (stores: %s)", want, scope, storeNames(refs))
		}
		return sdk.Injected{}, fmt.Errorf("no running store container in scope %s to kill (stores: %s)", scope, storeNames(refs))
	}
	victim := candidates[rand.IntN(len(candidates))]
	if err := tg.Kill(ctx, victim.container.ID); err != nil {
		return sdk.Injected{}, err
	}
	s.mu.Lock()
	s.killed = &killRecord{storeID: victim.id(), name: victim.name(), container: victim.container.ID, at: s.now()}
	s.mu.Unlock()
	return sdk.Injected{
		Handle: killPrefix + victim.container.ID,
		Target: victim.name(),
		Detail: fmt.Sprintf("SIGKILL %s (store %d, container %s) through the Docker Engine API", victim.name(), victim.id(), victim.container.Name),
	}, nil
}

// RevertChaos starts the killed container again, waits until it runs and
// says so. The handle names the container, so a fresh plugin process can
// revert it; the scope is checked again before the start.
func (s *Subject) RevertChaos(ctx context.Context, req sdk.RevertRequest) (sdk.Reverted, error) {
	id, ok := strings.CutPrefix(req.Handle, killPrefix)
	if !ok || id == "" {
		return sdk.Reverted{}, fmt.Errorf("unknown tikv chaos handle %q: want %s<container id>", req.Handle, killPrefix)
	}
	tg, err := s.dockerTarget(ctx)
	if err != nil {
		return sdk.Reverted{}, err
	}
	before, err := tg.Inspect(ctx, id)
	if err != nil {
		return sdk.Reverted{}, err
	}
	if err := tg.Start(ctx, id); err != nil {
		return sdk.Reverted{}, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := tg.WaitState(waitCtx, id, func(c docker.Container) bool { return c.Running && !c.Paused }); err != nil {
		return sdk.Reverted{}, err
	}
	s.mu.Lock()
	if s.killed != nil && s.killed.container == id {
		s.killed = nil
	}
	s.mu.Unlock()
	name := before.Name
	if svc := before.Service(); svc != "" {
		name = svc + " (container " + before.Name + ")"
	}
	if before.Running && !before.Paused {
		return sdk.Reverted{Detail: name + " was running already"}, nil
	}
	return sdk.Reverted{Detail: "started " + name + " again through the Docker Engine API"}, nil
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
