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
// health, polled every 10ms (the prober pushes the change to the host's
// stream as soon as it sees it). It also reports when the fixture PD marked
// the store (its Disconnected rule is 2s here; real PD takes 20s).
//
//	cd plugins/tikv && go test -run '^$' -bench DetectionLatency -benchtime 5x .
//
// Target: kill → store_down at most 1 s (PD alone takes 20 s).
func BenchmarkDetectionLatency(b *testing.B) {
	c := startFixture(b)
	s := setUpAgainst(b, c, sdk.SetupRequest{})
	ctx := context.Background()
	waitHealth(b, s, 30*time.Second, "all stores up", func(h sdk.HealthSnapshot) bool { return storeDown(h, "") == nil && allUp(h) })

	var total, worst, pdTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		killed := time.Now() // before the Engine API call: the figure includes it
		inj, err := s.InjectChaos(ctx, sdk.InjectRequest{Fault: sdk.Fault{Kind: sdk.ContainerKill}})
		if err != nil {
			b.Fatal(err)
		}
		waitHealth(b, s, 10*time.Second, "store_down", func(h sdk.HealthSnapshot) bool { return storeDown(h, inj.Target) != nil })
		lat := time.Since(killed)
		total += lat
		worst = max(worst, lat)
		waitHealth(b, s, 30*time.Second, "PD to mark the store", func(h sdk.HealthSnapshot) bool {
			v := storeDown(h, inj.Target)
			return v != nil && !strings.Contains(v.Message, "PD says Up")
		})
		pdTotal += time.Since(killed)
		if _, err := s.RevertChaos(ctx, sdk.RevertRequest{Handle: inj.Handle}); err != nil {
			b.Fatal(err)
		}
		waitHealth(b, s, 30*time.Second, "recovery", func(h sdk.HealthSnapshot) bool { return storeDown(h, "") == nil && allUp(h) })
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-store_down")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-worst")
	b.ReportMetric(float64(pdTotal.Milliseconds())/float64(b.N), "ms-to-PD-mark")
}

func waitHealth(b *testing.B, s *tikv.Subject, d time.Duration, what string, ok func(sdk.HealthSnapshot) bool) {
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

func storeDown(h sdk.HealthSnapshot, target string) *sdk.Violation {
	for _, v := range h.Violations {
		if v.Invariant == tikv.StoreDown && (target == "" || v.Target == target) {
			return &v
		}
	}
	return nil
}

func allUp(h sdk.HealthSnapshot) bool {
	for _, n := range h.Nodes {
		if n.State != sdk.Up {
			return false
		}
	}
	return len(h.Nodes) > 0
}
