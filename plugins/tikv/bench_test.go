package tikv_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/plugins/tikv"
	"github.com/demohost/demohost/sdk"
)

// BenchmarkDetectionLatency measures, on the fixture cluster (not TiKV),
// the time from SIGKILLing a store container to store_down in the subject's
// health, polled every 10ms (the host's stream polls every 250ms by
// default). It also reports when the fixture PD marked the store (its
// Disconnected rule is 2s here; real PD takes 20s).
//
//	go test -run '^$' -bench DetectionLatency -benchtime 5x ./plugins/tikv/
//
// Target: kill → store_down at most 1 s (PD alone takes 20 s).
func BenchmarkDetectionLatency(b *testing.B) {
	c := startFixture(b)
	s := tikv.New()
	ctx := context.Background()
	d, _ := s.Describe(ctx)
	opts, err := sdk.ResolveOptions(d.Options, map[string]string{"pd": c.PDAddr, "selector": c.Selector})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Configure(ctx, opts); err != nil {
		b.Fatal(err)
	}
	if err := s.Setup(ctx, func(string) {}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Teardown(context.Background(), func(string) {}) })
	waitHealth(b, s, 30*time.Second, "all stores up", func(h *sdk.HealthSnapshot) bool { return storeDown(h, "") == nil && allUp(h) })

	var total, worst, pdTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		killed := time.Now() // before the Engine API call: the figure includes it
		inj, err := s.InjectChaos(ctx, &sdk.ChaosConfig{Type: sdk.ContainerKill})
		if err != nil {
			b.Fatal(err)
		}
		waitHealth(b, s, 10*time.Second, "store_down", func(h *sdk.HealthSnapshot) bool { return storeDown(h, inj.Target) != nil })
		lat := time.Since(killed)
		total += lat
		worst = max(worst, lat)
		waitHealth(b, s, 30*time.Second, "PD to mark the store", func(h *sdk.HealthSnapshot) bool {
			v := storeDown(h, inj.Target)
			return v != nil && !strings.Contains(v.GetMessage(), "PD says Up")
		})
		pdTotal += time.Since(killed)
		if err := s.RevertChaos(ctx, inj.Handle, nil); err != nil {
			b.Fatal(err)
		}
		waitHealth(b, s, 30*time.Second, "recovery", func(h *sdk.HealthSnapshot) bool { return storeDown(h, "") == nil && allUp(h) })
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-store_down")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-worst")
	b.ReportMetric(float64(pdTotal.Milliseconds())/float64(b.N), "ms-to-PD-mark")
}

func waitHealth(b *testing.B, s *tikv.Subject, d time.Duration, what string, ok func(*sdk.HealthSnapshot) bool) {
	b.Helper()
	deadline := time.Now().Add(d)
	for {
		h, err := s.Health(context.Background())
		if err == nil && ok(h) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("no %s within %s (last: %v %v)", what, d, h, err)
		}
		time.Sleep(10 * time.Millisecond) // polling cadence, not synchronisation
	}
}

func storeDown(h *sdk.HealthSnapshot, target string) *sdk.Violation {
	for _, v := range h.GetViolations() {
		if v.GetInvariant() == tikv.StoreDown && (target == "" || v.GetTarget() == target) {
			return v
		}
	}
	return nil
}

func allUp(h *sdk.HealthSnapshot) bool {
	for _, n := range h.GetNodes() {
		if n.GetState() != sdk.Up {
			return false
		}
	}
	return len(h.GetNodes()) > 0
}
