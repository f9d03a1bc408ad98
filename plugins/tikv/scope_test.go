package tikv_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/plugins/tikv"
	"github.com/demohost/demohost/sdk"
	"github.com/demohost/demohost/sdk/docker"
)

// TestSetupRestartsAStoreLeftKilledAndStaysInScope runs against the
// fixture cluster (not TiKV): a store container left killed by a crashed
// run is started again by Setup; a container outside the selector is never
// killed or started, even through a handle naming it.
func TestSetupRestartsAStoreLeftKilledAndStaysInScope(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on Docker")
	}
	c := startFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// An earlier run crashed with store 2 killed.
	if err := c.Target.Kill(ctx, c.Stores[1]); err != nil {
		t.Fatal(err)
	}
	// Another project's container, built from the same image.
	outsider, err := docker.New(docker.Scope{"demohost.test.outsider": c.Selector[strings.Index(c.Selector, "=")+1:]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = outsider.RemoveAll(context.Background()); _ = outsider.Close() })
	other, err := outsider.Run(ctx, docker.ContainerSpec{Name: "not-tikv-" + c.Stores[0], Image: c.Image, Cmd: []string{"pd"}})
	if err != nil {
		t.Fatal(err)
	}

	s := tikv.New()
	d, _ := s.Describe(ctx)
	opts, err := sdk.ResolveOptions(d.Options, map[string]string{"pd": c.PDAddr, "selector": c.Selector})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Configure(ctx, opts); err != nil {
		t.Fatal(err)
	}
	var progress []string
	if err := s.Setup(ctx, func(m string) { progress = append(progress, m) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Teardown(context.Background(), func(string) {}) })
	if got, err := c.Target.Inspect(ctx, c.Stores[1]); err != nil || !got.Running {
		t.Fatalf("store 2 after Setup: %+v, %v; want running again", got, err)
	}
	if !strings.Contains(strings.Join(progress, "\n"), "started "+c.Stores[1]+" again") {
		t.Errorf("Setup did not say it restarted %s: %q", c.Stores[1], progress)
	}

	if _, err := s.InjectChaos(ctx, &sdk.ChaosConfig{Type: sdk.ContainerKill, Target: other.Name}); err == nil {
		t.Fatal("InjectChaos killed a container outside the selector")
	}
	if err := outsider.Kill(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	err = s.RevertChaos(ctx, "kill:container="+other.ID, nil)
	if !errors.Is(err, docker.ErrOutOfScope) || !strings.Contains(err.Error(), other.Name) {
		t.Fatalf("RevertChaos on a handle naming another project's container: %v; want a refusal naming %s", err, other.Name)
	}
	if got, _ := outsider.Inspect(ctx, other.ID); got.Running {
		t.Fatal("the refused container was started")
	}

	// Both views of every store, the restarted one included, show in its node detail.
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := s.Health(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var bad []string
		for _, n := range h.GetNodes() {
			if n.GetRole() == "store" && (!strings.Contains(n.GetDetail(), "PD: Up") || !strings.Contains(n.GetDetail(), "probe /status: up")) {
				bad = append(bad, n.GetName()+": "+n.GetDetail())
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stores without both views up after 30s: %q", bad)
		}
		time.Sleep(100 * time.Millisecond) // polling cadence
	}
}
