package tikv_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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

	var progress []string
	s := setUpAgainst(t, c, sdk.SetupRequest{Progress: sdk.NewProgress(func(sev sdk.Severity, m string) { progress = append(progress, sev.String()+" "+m) })})
	if got, err := c.Target.Inspect(ctx, c.Stores[1]); err != nil || !got.Running {
		t.Fatalf("store 2 after Setup: %+v, %v; want running again", got, err)
	}
	if !strings.Contains(strings.Join(progress, "\n"), "WARNING started "+c.Stores[1]+" again") {
		t.Errorf("Setup did not warn it restarted %s: %q", c.Stores[1], progress)
	}

	if _, err := s.InjectChaos(ctx, sdk.InjectRequest{Fault: sdk.Fault{Kind: sdk.ContainerKill, Target: other.Name}}); err == nil {
		t.Fatal("InjectChaos killed a container outside the selector")
	}
	if err := outsider.Kill(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.RevertChaos(ctx, sdk.RevertRequest{Handle: "kill:container=" + other.ID})
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
		for _, n := range h.Nodes {
			if n.Role == "store" && (!strings.Contains(n.Detail, "PD: Up") || !strings.Contains(n.Detail, "probe /status: up")) {
				bad = append(bad, n.Name+": "+n.Detail)
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

// TestKillPushesHealthAndRevertSaysWhatItDid runs against the fixture
// cluster (not TiKV): killing a store pushes health (HealthChanged, with no
// Health poll needed) with store_down on it; the revert starts it again and
// says so in words, and a second revert says it was running already.
func TestKillPushesHealthAndRevertSaysWhatItDid(t *testing.T) {
	if testing.Short() {
		t.Skip("runs on Docker")
	}
	c := startFixture(t)
	ctx := context.Background()
	pushed := make(chan struct{}, 64)
	s := setUpAgainst(t, c, sdk.SetupRequest{HealthChanged: func() {
		select {
		case pushed <- struct{}{}:
		default:
		}
	}})
	waitUntil(t, 30*time.Second, "every store up", func() string {
		if h, err := s.Health(ctx); err == nil && storeDown(h, "") == nil && allUp(h) {
			return "yes"
		}
		return ""
	})
	for len(pushed) > 0 { // what Setup's first probes pushed
		<-pushed
	}
	inj, err := s.InjectChaos(ctx, sdk.InjectRequest{Fault: sdk.Fault{Kind: sdk.ContainerKill, Target: c.Stores[0]}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-pushed:
	case <-time.After(10 * time.Second):
		t.Fatal("no HealthChanged within 10s of the kill")
	}
	h, err := s.Health(ctx)
	if err != nil || storeDown(h, inj.Target) == nil {
		t.Fatalf("pushed, but no store_down on %s: %+v, %v", inj.Target, h.Violations, err)
	}
	req := sdk.RevertRequest{Handle: inj.Handle, Target: inj.Target, Fault: sdk.Fault{Kind: sdk.ContainerKill}}
	rev, err := s.RevertChaos(ctx, req)
	if want := "started " + inj.Target + " again through the Docker Engine API"; err != nil || rev.Detail != want {
		t.Fatalf("revert: %q, %v; want %q", rev.Detail, err, want)
	}
	if rev, err = s.RevertChaos(ctx, req); err != nil || !strings.HasSuffix(rev.Detail, " was running already") {
		t.Fatalf("second revert: %q, %v", rev.Detail, err)
	}
}
