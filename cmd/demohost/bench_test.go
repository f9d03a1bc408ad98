package main

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkSignalToReverted measures, for a headless run of the example
// plugin with one fault active, the time from SIGINT to the fault's revert
// as journalled (ms/reverted) and to demohost's exit after tearing down and
// closing the plugin (ms/exited). The runtime is the example's in-memory
// one, so this is the host's own share of the exit path.
//
// Target: ≤ 1 s to reverted.
func BenchmarkSignalToReverted(b *testing.B) {
	var reverted, exited time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		h, report, _ := startMidChaos(b, examplePlg)
		b.StartTimer()
		sent := time.Now()
		if err := h.cmd.Process.Signal(syscall.SIGINT); err != nil {
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
	b.ReportMetric(float64(reverted)/float64(time.Millisecond)/float64(n), "ms/reverted")
	b.ReportMetric(float64(exited)/float64(time.Millisecond)/float64(n), "ms/exited")
}
