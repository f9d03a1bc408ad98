package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/runner"
)

// BenchmarkQuitToReverted measures, against the real example plugin, the
// time from Quit with one fault active to that fault reverted (ms/revert)
// and to Run returning after teardown (ms/stopped). Target: ≤ 1s.
func BenchmarkQuitToReverted(b *testing.B) {
	var reverted, stopped time.Duration
	for range b.N {
		l := launchExample(b, fastOptions)
		cfg, _ := l.config(false)
		cfg.Chapters = l.chapters[2:3] // just the kill chapter
		r := runner.New(cfg)
		snaps, _ := r.Subscribe()
		done := make(chan *journal.Journal, 1)
		go func() {
			j, err := r.Run(context.Background())
			if err != nil {
				b.Error(err)
			}
			done <- j
		}()
		for s := range snaps {
			if len(s.Chaos) == 1 {
				break
			}
		}
		quitAt := time.Now()
		r.Quit()
		j := <-done
		stopped += time.Since(quitAt)
		if len(j.Chaos) != 1 || j.Chaos[0].RevertedAt == nil {
			b.Fatalf("fault not reverted: %+v", j.Chaos)
		}
		reverted += j.Chaos[0].RevertedAt.Sub(quitAt)
		l.client.Kill()
	}
	b.ReportMetric(float64(reverted.Microseconds())/1000/float64(b.N), "ms/revert")
	b.ReportMetric(float64(stopped.Microseconds())/1000/float64(b.N), "ms/stopped")
	b.ReportMetric(0, "ns/op")
}
