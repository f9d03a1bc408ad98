package ratelimiter

import (
	"context"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk"
)

// hostHealthInterval is the host's default health-stream interval
// (runner.Config.HealthInterval).
const hostHealthInterval = 250 * time.Millisecond

// BenchmarkDetectionLatency measures the time from SIGSTOP of Redis to the
// first health snapshot holding redis_unreachable, reading health the way
// the host's stream does: one snapshot every 250ms.
//
// Target: at most 1 s (mean and worst) at the default poll interval.
func BenchmarkDetectionLatency(b *testing.B) {
	s := benchSubject(b)
	const rounds = 8
	var total, worst time.Duration
	// The host's stream ticks on its own; pauses land at any phase of it.
	tick := time.NewTicker(hostHealthInterval)
	defer tick.Stop()
	for range b.N {
		total, worst = 0, 0
		for range rounds {
			// Start each round at an arbitrary phase of the probe loops and
			// of the health stream.
			time.Sleep(time.Duration(time.Now().UnixNano()%int64(hostHealthInterval)) + hostHealthInterval)
			inj, err := s.InjectChaos(context.Background(), &sdk.ChaosConfig{Type: sdk.RedisPause})
			if err != nil {
				b.Fatal(err)
			}
			paused := time.Now()
			var seen time.Duration
			for seen == 0 {
				<-tick.C
				h, _ := s.Health(context.Background())
				if h != nil && violation(invRedisUnreachable)(h) {
					seen = time.Since(paused)
				}
				if time.Since(paused) > 10*time.Second {
					_ = s.RevertChaos(context.Background(), inj.Handle, nil)
					b.Fatal("redis_unreachable not seen within 10s")
				}
			}
			if err := s.RevertChaos(context.Background(), inj.Handle, nil); err != nil {
				b.Fatal(err)
			}
			total += seen
			worst = max(worst, seen)
			for {
				h, _ := s.Health(context.Background())
				if h != nil && !violation(invRedisUnreachable)(h) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	b.ReportMetric(float64((total / rounds).Milliseconds()), "mean-ms")
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
}

// benchSubject sets up the default local cluster for a benchmark.
func benchSubject(b *testing.B) *Subject {
	s := New()
	s.NodeBinary = pluginBinary
	s.StateDir = b.TempDir()
	d, _ := s.Describe(context.Background())
	opts, _ := sdk.ResolveOptions(d.Options, nil)
	if err := s.Configure(context.Background(), opts); err != nil {
		b.Skip(err)
	}
	if err := s.Setup(context.Background(), func(string) {}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Teardown(context.Background(), func(string) {}) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		h, _ := s.Health(context.Background())
		if h != nil && allUp(h) {
			return s
		}
		if time.Now().After(deadline) {
			b.Fatal("cluster not UP within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
