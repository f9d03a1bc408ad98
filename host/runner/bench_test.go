package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/demohost/demohost/host/runner"
)

// BenchmarkQuitToReverted runs the example plugin's kill chapter alone,
// interactively, against the real plugin; once its fault is active it
// calls Quit and measures the time to the fault reverted as journalled
// (ms/revert) and to Run returning after teardown (ms/stopped), the mean
// over b.N runs. Launching the plugin is not timed.
//
// Target: ≤ 1 s to reverted and to stopped.
func BenchmarkQuitToReverted(b *testing.B) {
	var reverted, stopped time.Duration
	for range b.N {
		l := launchExample(b, fastOptions)
		cfg, _ := l.config(false)
		cfg.Chapters = l.chapters[2:3] // just the kill chapter
		r := runner.New(cfg)
		snaps, _ := r.Subscribe()
		go func() { _, _ = r.Run(context.Background()) }()
		for s := range snaps {
			if len(s.Chaos) == 1 {
				break
			}
		}
		quitAt := time.Now()
		r.Quit()
		j, err := r.Result()
		stopped += time.Since(quitAt)
		if err != nil {
			b.Fatal(err)
		}
		if len(j.Chaos) != 1 || j.Chaos[0].RevertedAt == nil {
			b.Fatalf("fault not reverted: %+v", j.Chaos)
		}
		reverted += j.Chaos[0].RevertedAt.Sub(quitAt)
		l.plugin.Close()
	}
	b.ReportMetric(float64(reverted.Microseconds())/1000/float64(b.N), "ms/revert")
	b.ReportMetric(float64(stopped.Microseconds())/1000/float64(b.N), "ms/stopped")
	b.ReportMetric(0, "ns/op")
}
