package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
)

// BenchmarkSignalToReverted measures, for a headless run of the example
// plugin with one fault active, each exit path of the host. For SIGINT,
// SIGTERM and SIGHUP: the time from the signal to the fault's revert as
// journalled (ms/reverted) and to demohost's exit after tearing down and
// closing the plugin (ms/exited). For SIGKILL, where the host cannot revert:
// the time until the plugin, having noticed its host is gone, has reverted,
// torn down and exited (ms/plugin-exited). The example's runtime is in
// memory, so this is the host's and the sdk's own share of the exit path.
//
// Target: ≤ 1 s to reverted; ≤ 2 s to plugin-exited after SIGKILL.
func BenchmarkSignalToReverted(b *testing.B) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		b.Run(sig.String(), func(b *testing.B) {
			var reverted, exited time.Duration
			n := 0
			for b.Loop() {
				b.StopTimer()
				h, report, _ := startMidChaos(b, examplePlg)
				b.StartTimer()
				sent := time.Now()
				if err := h.cmd.Process.Signal(sig); err != nil {
					b.Fatal(err)
				}
				h.wait(b)
				exited += time.Since(sent)
				b.StopTimer()
				j := readReport(b, report)
				if len(j.Chaos) != 1 || j.Chaos[0].RevertedAt == nil {
					b.Fatalf("fault not reverted: %+v", j.Chaos)
				}
				reverted += j.Chaos[0].RevertedAt.Sub(sent)
				n++
				b.StartTimer()
			}
			b.ReportMetric(ms(reverted)/float64(n), "ms/reverted")
			b.ReportMetric(ms(exited)/float64(n), "ms/exited")
		})
	}
	b.Run("killed", func(b *testing.B) {
		var gone time.Duration
		n := 0
		for b.Loop() {
			b.StopTimer()
			h, _, logFile := startMidChaos(b, examplePlg)
			pid := pluginPID(b, logFile)
			b.StartTimer()
			sent := time.Now()
			if err := h.cmd.Process.Kill(); err != nil {
				b.Fatal(err)
			}
			h.wait(b)
			testkit.WaitFor(b, 10*time.Second, "the plugin to exit", func() bool { return exited(pid) })
			gone += time.Since(sent)
			n++
		}
		b.ReportMetric(ms(gone)/float64(n), "ms/plugin-exited")
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkRatelimiterJournal runs the rate-limiter demo from its first
// chapter to its last, headless, with --report, as the recording shipped
// in recordings/ was made (its own Redis and limiter nodes, local runtime,
// the default 250 ms health interval), and reports the journal's size as
// written (KB), the run's length (s) and its size per minute of run
// (KB/min: a headless run packs every chapter's events into half a minute,
// so this is far above what a presenter's pace writes).
//
// Target: under 1 MB per 10 minutes at the default health interval.
func BenchmarkRatelimiterJournal(b *testing.B) {
	plugin := filepath.Join(b.TempDir(), "ratelimiter", "demohost-ratelimiter")
	if err := testkit.GoBuild(plugin, "plugins/ratelimiter/cmd/demohost-ratelimiter"); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		dir := b.TempDir()
		report := filepath.Join(dir, "r.json")
		res := demohost(b, nil, "--plugin", plugin, "--headless", "--report", report, "--log-file", filepath.Join(dir, "log"))
		if res.code != exitPassed {
			b.Fatalf("the rate-limiter demo exited %d (want a full run):\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		info, err := os.Stat(report)
		if err != nil {
			b.Fatal(err)
		}
		j := readReport(b, report)
		kb, secs := float64(info.Size())/1000, j.FinishedAt.Sub(j.StartedAt).Seconds()
		b.ReportMetric(kb, "KB")
		b.ReportMetric(secs, "s")
		b.ReportMetric(kb/secs*60, "KB/min")
	}
	b.ReportMetric(0, "ns/op")
}
