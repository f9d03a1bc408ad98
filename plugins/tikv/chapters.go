package tikv

import (
	"context"
	"fmt"
	"time"

	"github.com/demohost/demohost/plugins/tikv/pd"
	"github.com/demohost/demohost/sdk"
)

// Chapters is the eight-chapter store-loss demo; the load and aftermath
// chapters carry their actions.
func (s *Subject) Chapters(context.Context) ([]sdk.Chapter, error) {
	opts, _ := s.options()
	countdown := opts.Duration("countdown")
	settle := opts.Duration("pd_wait") + 30*time.Second
	return []sdk.Chapter{
		{
			ID:    "welcome",
			Title: "Welcome",
			Narration: "A *TiKV* cluster: one PD (placement driver, the brain) and three stores holding " +
				"the data in Raft groups of three replicas. We will [red]kill[/] a store and watch who notices, and when.",
			KeyHint: "space: continue",
		},
		{
			ID:    "health",
			Title: "Cluster health",
			Narration: "Each store appears twice: as _PD_ sees it (heartbeats, state_name, leaders, regions) and as " +
				"a direct probe of its status port sees it. All [green]Up[/] in both views.",
			Expectations: []sdk.Expectation{
				sdk.Eventually(sdk.AllNodes(sdk.Up), 30*time.Second),
				sdk.Eventually(sdk.NoViolation(StoreDown), 30*time.Second),
			},
		},
		{
			ID:    "load",
			Title: "Load",
			Narration: "A raw-KV workload (go-ycsb, workload a) reads and writes through the stores. " +
				"Watch *store_requests* climb: every store serves part of it.",
			Action:      s.startLoad,
			AutoAdvance: true, BlocksAdvance: true,
			Expectations: []sdk.Expectation{sdk.Eventually(sdk.MetricAbove("store_requests", 0), 30*time.Second)},
		},
		{
			ID:    "kill",
			Title: "Fault injection",
			Narration: "In a few seconds one store container gets [red]SIGKILL[/] through the Docker API: no " +
				"graceful shutdown, no goodbye to PD. (A plain `docker stop` would let it shut down cleanly for up to 20s.)",
			KeyHint:       "space: continue once the store is dead",
			BlocksAdvance: true,
			Fault:         &sdk.Fault{Kind: sdk.ContainerKill, Name: "kill a store", Target: opts.String("target_store"), Description: "SIGKILL one TiKV store container"},
			Countdown:     countdown,
			Expectations:  []sdk.Expectation{sdk.Before(sdk.NoViolation(StoreDown), 30*time.Second)},
		},
		{
			ID:    "detection",
			Title: "Detection",
			Narration: "The direct probe says [red]DOWN[/] within a second. PD still says *Up*: it marks a store " +
				"Disconnected only after 20s without a heartbeat, and Down after max-store-down-time (30 min). " +
				"That gap is what your alerts see.",
			Expectations: []sdk.Expectation{sdk.Eventually(sdk.ViolationPresent(StoreDown), 15*time.Second)},
		},
		{
			ID:    "aftermath",
			Title: "What the cluster does",
			Narration: "The surviving replicas elect new leaders for the regions the dead store led: a Raft " +
				"election takes about 10-20s, during which clients of those regions stall, then succeed again. " +
				"_Watching PD mark the store and the leaders move…_",
			Action:      s.watchAftermath,
			AutoAdvance: true, BlocksAdvance: true,
		},
		{
			ID:    "recovery",
			Title: "Recovery",
			Narration: "We start the store again. It rejoins, heartbeats PD, catches up its replicas; " +
				"[green]store_down[/] clears. Leaders stay on the other stores for a while: PD rebalances them gradually.",
			RevertChaos: true,
			Expectations: []sdk.Expectation{
				sdk.After(sdk.NoViolation(StoreDown), settle),
				sdk.After(sdk.AllNodes(sdk.Up), settle),
			},
		},
		{
			ID:        "complete",
			Title:     "Complete",
			Narration: "A store died and came back; the direct probe saw it at once, PD on its own clock. Press *q* to quit.",
		},
	}, nil
}

// startLoad starts the load containers (role=load) in scope if stopped,
// then reports the store request rate for a few seconds.
func (s *Subject) startLoad(ctx context.Context, status sdk.Progress) error {
	tg, err := s.dockerTarget(ctx)
	if err != nil {
		return err
	}
	containers, err := tg.List(ctx)
	if err != nil {
		return err
	}
	found := 0
	for _, c := range containers {
		if c.Labels[RoleLabel] != "load" {
			continue
		}
		found++
		if c.Running && !c.Paused {
			status.Info(c.Name + " is sending requests")
			continue
		}
		if err := tg.Start(ctx, c.ID); err != nil {
			return fmt.Errorf("start load container %s: %w", c.Name, err)
		}
		status.Info("started " + c.Name)
	}
	if found == 0 {
		status.Warning(fmt.Sprintf("no load container (label %s=load) in scope; watching store traffic anyway", RoleLabel))
	}
	for i := 0; i < 4; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		snap, err := s.Health(ctx)
		if err != nil {
			continue
		}
		for _, m := range snap.Metrics {
			if m.Name == "store_requests" {
				status.Info(fmt.Sprintf("stores serve %.0f req/s", m.Value))
			}
		}
	}
	return nil
}

// watchAftermath follows the killed store in PD for up to pd_wait: when PD
// marks it Disconnected, and when its leaders have moved to other stores.
func (s *Subject) watchAftermath(ctx context.Context, status sdk.Progress) error {
	opts, _ := s.options()
	s.mu.Lock()
	k := s.killed
	pdc := s.pd
	s.mu.Unlock()
	if k == nil {
		status.Warning("no store was killed in this run; nothing to follow")
		return nil
	}
	if pdc == nil {
		pdc = pd.NewClient(opts.String("pd"), 2*time.Second)
	}
	deadline := time.NewTimer(opts.Duration("pd_wait"))
	defer deadline.Stop()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	marked, moved := false, false
	startLeaders := -1
	for {
		if stores, err := pdc.Stores(ctx); err == nil {
			for _, st := range stores.Stores {
				if st.Store.ID != k.storeID {
					continue
				}
				if startLeaders < 0 {
					startLeaders = st.Status.LeaderCount
				}
				elapsed := s.now().Sub(k.at).Seconds()
				if !marked && !st.Store.Up() {
					marked = true
					status.Info(fmt.Sprintf("PD marked %s %s %.1fs after the kill", k.name, st.Store.StateName, elapsed))
				}
				if !moved && st.Status.LeaderCount == 0 {
					moved = true
					status.Info(fmt.Sprintf("leaders of %s moved to the other stores (%d → 0) %.1fs after the kill", k.name, startLeaders, elapsed))
				}
			}
		}
		if marked && moved {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			status.Warning(fmt.Sprintf("after %s PD still has not marked %s (marked: %t, leaders moved: %t)", opts.Duration("pd_wait"), k.name, marked, moved))
			return nil
		case <-tick.C:
		}
	}
}
