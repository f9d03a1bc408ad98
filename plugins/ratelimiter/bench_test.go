package ratelimiter

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/testkit"
	"github.com/demohost/demohost/sdk"
)

// BenchmarkDetectionLatency measures the time from SIGSTOP of Redis to
// redis_unreachable reaching the host, from the real plugin binary on the
// local runtime, through the host's own plugin client (host/pluginhost:
// go-plugin, mutual TLS, the wire converted at the edge). Each pause is
// watched two ways at once:
//
//   - push: the health stream the runner opens (WatchHealth at its default
//     250ms interval), on which the plugin also sends a snapshot as soon as
//     its monitor sees a change;
//   - interval: Health every 250ms on a ticker of its own, which is what
//     the stream delivered before health was pushed on change.
//
// The clock starts just before the InjectChaos call (the figure includes
// the call) and stops when a snapshot holding redis_unreachable arrives.
// Pauses start at a random phase of the ticker; Redis is resumed and the
// violation cleared between pauses. The 300ms unreachable threshold counts
// from the first Redis probe that got no answer.
//
//	cd plugins/ratelimiter && go test -run '^$' -bench DetectionLatency -benchtime 1x .
//
// Target: push p50 at most 400 ms (interval only was about 520 ms mean).
func BenchmarkDetectionLatency(b *testing.B) {
	c := served(b)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	stream := watchStream(b, c, runner.DefaultHealthInterval)
	ticker := &healthWatch{}
	go func() {
		tick := time.NewTicker(runner.DefaultHealthInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if h, err := c.Health(ctx); err == nil {
				ticker.saw(h)
			}
		}
	}()
	pause := subject.Fault{Kind: sdk.RedisPause}

	const rounds = 20
	var push, interval []time.Duration
	for range b.N {
		for range rounds {
			testkit.WaitFor(b, 10*time.Second, "redis_unreachable clear on both", func() bool { return stream.clear() && ticker.clear() })
			time.Sleep(rand.N(runner.DefaultHealthInterval)) // a random phase of the ticker
			paused := time.Now()
			inj, err := c.InjectChaos(ctx, pause)
			if err != nil {
				b.Fatal(err)
			}
			var pushAt, tickAt time.Time
			testkit.WaitFor(b, 10*time.Second, "redis_unreachable on both", func() bool {
				var ok1, ok2 bool
				pushAt, ok1 = stream.seen(paused)
				tickAt, ok2 = ticker.seen(paused)
				return ok1 && ok2
			})
			push, interval = append(push, pushAt.Sub(paused)), append(interval, tickAt.Sub(paused))
			if _, err := c.RevertChaos(ctx, subject.Revert{Handle: inj.Handle, Fault: pause, Target: inj.Target}); err != nil {
				b.Fatal(err)
			}
		}
	}
	p50 := func(d []time.Duration) float64 { slices.Sort(d); return float64(d[len(d)/2].Milliseconds()) }
	worst := func(d []time.Duration) float64 { return float64(slices.Max(d).Milliseconds()) }
	b.ReportMetric(p50(push), "push-p50-ms")
	b.ReportMetric(worst(push), "push-worst-ms")
	b.ReportMetric(p50(interval), "interval-p50-ms")
	b.ReportMetric(worst(interval), "interval-worst-ms")
}
