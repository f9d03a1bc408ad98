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

// BenchmarkLongRunJournal measures how large a presenter's long run makes the
// journal (--report): the example plugin through the runner at the default
// 250 ms health interval, sitting on its first chapter (health streaming,
// nothing else happening), once for 10 s and once for 40 s. The growth
// between the two, per second, gives the size of a 30-minute run (KB-30min:
// the 10 s journal plus 1790 s of growth) and the cost of ten minutes
// (KB/10min); KB-10s and KB-40s are the journals measured, as written.
//
// Target: under 1 MB per 10 minutes at the default health interval.
func BenchmarkLongRunJournal(b *testing.B) {
	for range b.N {
		short, long := idleJournal(b, 10*time.Second), idleJournal(b, 40*time.Second)
		perSecond := float64(long-short) / 30
		b.ReportMetric(float64(short)/1000, "KB-10s")
		b.ReportMetric(float64(long)/1000, "KB-40s")
		b.ReportMetric((float64(short)+perSecond*1790)/1000, "KB-30min")
		b.ReportMetric(perSecond*600/1000, "KB/10min")
	}
	b.ReportMetric(0, "ns/op")
}

// idleJournal is the size of the journal of a run that stays span on the
// example's first chapter.
func idleJournal(b *testing.B, span time.Duration) int {
	l := launchExample(b, nil)
	defer l.plugin.Close()
	cfg, _ := l.config(false)
	cfg.HealthInterval = runner.DefaultHealthInterval
	r := runner.New(cfg)
	snaps, _ := r.Subscribe()
	go func() { _, _ = r.Run(context.Background()) }()
	for s := range snaps {
		if s.Phase == runner.PhaseRunning {
			break
		}
	}
	time.Sleep(span) // the span measured: a presenter talking
	r.Quit()
	j, err := r.Result()
	if err != nil {
		b.Fatal(err)
	}
	var size byteCount
	if err := j.Encode(&size); err != nil {
		b.Fatal(err)
	}
	return int(size)
}

// byteCount counts what is written to it.
type byteCount int

func (c *byteCount) Write(p []byte) (int, error) {
	*c += byteCount(len(p))
	return len(p), nil
}
