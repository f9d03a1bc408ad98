package tui

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/gdamore/tcell/v2/terminfo"

	"github.com/demohost/demohost/host/pluginhost"
	"github.com/demohost/demohost/host/runner"
	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/testkit"
)

// BenchmarkRenderFrame draws a full frame (render + Show) with 100 nodes,
// 20 metrics with full sparkline history, counters and events, and reports
// the mean time of one frame (ms/frame) of framesPerOp per iteration.
//
// Target: ≤ 2 ms per frame.
func BenchmarkRenderFrame(b *testing.B) {
	snap := demoSnapshot()
	snap.Health.Nodes = bigCluster(100)
	snap.Health.Metrics = nil
	for i := range 20 {
		snap.Health.Metrics = append(snap.Health.Metrics, subject.Metric{Name: fmt.Sprintf("metric_%02d", i), Value: float64(i * 10), Unit: "ops/s", Kind: subject.MetricRate})
	}
	for i := range 50 {
		snap.Events = append(snap.Events, runner.Event{At: t0, Kind: "status", Message: fmt.Sprintf("status line %d of the on-enter action", i)})
	}
	v := newView(theme{})
	for i := range historyLen {
		h := *snap.Health
		h.TakenAt = t0.Add(time.Duration(i) * time.Second)
		h.Metrics = append([]subject.Metric(nil), h.Metrics...)
		for k := range h.Metrics {
			h.Metrics[k].Value = float64(i % 17)
		}
		snap.Health = &h
		v.observe(&snap)
	}
	// render: our drawing on a SimulationScreen. sim: plus its Show, which
	// re-reads every cell. tty: a real terminfo screen (xterm-256color) on a
	// terminal that discards output, with a new health sample each frame,
	// so the sparklines move and Show writes the changed cells.
	for _, size := range []struct{ w, h int }{{120, 40}, {240, 130}} { // 240x130 shows all 100 nodes
		b.Run(fmt.Sprintf("%dx%d/render", size.w, size.h), func(b *testing.B) {
			s := newScreen(b, size.w, size.h)
			for b.Loop() {
				for range framesPerOp {
					render(s, &snap, v, t0)
				}
			}
			reportFrames(b)
		})
		b.Run(fmt.Sprintf("%dx%d/sim", size.w, size.h), func(b *testing.B) {
			s := newScreen(b, size.w, size.h)
			for b.Loop() {
				for range framesPerOp {
					render(s, &snap, v, t0)
					s.Show()
				}
			}
			reportFrames(b)
		})
		b.Run(fmt.Sprintf("%dx%d/tty", size.w, size.h), func(b *testing.B) {
			s := newTtyScreen(b, &discardTty{size: tcell.WindowSize{Width: size.w, Height: size.h}, closed: make(chan struct{})})
			frame := snap
			i := 0
			for b.Loop() {
				for range framesPerOp {
					i++
					health := *snap.Health // a new sample, as the runner hands out
					health.TakenAt = t0.Add(time.Duration(historyLen+i) * time.Second)
					frame.Health = &health
					v.observe(&frame)
					render(s, &frame, v, t0.Add(time.Duration(i)*time.Second))
					s.Show()
				}
			}
			reportFrames(b)
		})
	}
}

// framesPerOp frames are drawn per benchmark iteration, so even a
// -benchtime 1x run (make bench) times warm frames, not one cold one.
const framesPerOp = 50

// reportFrames reports the mean time of one frame.
func reportFrames(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*framesPerOp)/1000, "ms/frame")
}

// discardTty is a terminal of a fixed size that throws output away.
type discardTty struct {
	size   tcell.WindowSize
	closed chan struct{}
	once   sync.Once
}

func (t *discardTty) Start() error                          { return nil }
func (t *discardTty) Stop() error                           { return nil }
func (t *discardTty) Drain() error                          { t.once.Do(func() { close(t.closed) }); return nil }
func (t *discardTty) NotifyResize(func())                   {}
func (t *discardTty) WindowSize() (tcell.WindowSize, error) { return t.size, nil }
func (t *discardTty) Write(p []byte) (int, error)           { return len(p), nil }
func (t *discardTty) Read([]byte) (int, error)              { <-t.closed; return 0, io.EOF }
func (t *discardTty) Close() error                          { return nil }

func newTtyScreen(b *testing.B, tty *discardTty) tcell.Screen {
	ti, err := terminfo.LookupTerminfo("xterm-256color")
	if err != nil {
		b.Fatal(err)
	}
	s, err := tcell.NewTerminfoScreenFromTtyTerminfo(tty, ti)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Init(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Fini) // Fini drains the tty, which ends its reads
	return s
}

// BenchmarkIdleCPU runs the view for 10 s on a chapter with nothing to do
// while the health stream runs (the real runner and example plugin, health
// every 250 ms, the view on a terminfo screen whose terminal discards
// output) and reports the host process's CPU time as a percentage of one
// core. Run it alone: go test -run '^$' -bench Idle ./host/tui
//
// Target: ≤ 1 %.
func BenchmarkIdleCPU(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "demohost-example")
	if err := testkit.GoBuild(bin, testkit.ExamplePlugin); err != nil {
		b.Fatal(err)
	}
	// One run takes over 10 s, so the benchmark framework stops at b.N = 1.
	for range b.N {
		b.ReportMetric(idleCPU(b, bin, 10*time.Second), "%cpu")
	}
}

func idleCPU(b *testing.B, bin string, span time.Duration) float64 {
	p, err := pluginhost.Launch(pluginhost.Config{Path: bin})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	desc, err := p.Subject.Describe(ctx)
	if err != nil {
		b.Fatal(err)
	}
	options, err := subject.CheckOptions(desc, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Subject.Configure(ctx, options); err != nil {
		b.Fatal(err)
	}
	chapters, err := p.Subject.Chapters(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := subject.CheckChapters(desc, chapters); err != nil {
		b.Fatal(err)
	}
	r := runner.New(runner.Config{Plugin: p.Subject, Description: desc, Options: options, Chapters: chapters})
	settled, stopWatching := r.Subscribe()
	tty := &discardTty{size: tcell.WindowSize{Width: 120, Height: 40}, closed: make(chan struct{})}
	s := newTtyScreen(b, tty)
	runCtx, stop := context.WithCancel(ctx)
	out := make(chan error, 1)
	go func() {
		_, err := run(runCtx, s, r, Options{}, theme{})
		out <- err
	}()
	waitSettled(b, settled) // the first chapter is done: idle from here
	stopWatching()
	before, start := cpuTime(), time.Now()
	time.Sleep(span)
	used, wall := cpuTime()-before, time.Since(start)
	stop()
	<-out // the run ends as aborted; not a benchmark failure
	return 100 * used.Seconds() / wall.Seconds()
}

// waitSettled waits for a snapshot whose chapter has every expectation met.
func waitSettled(b *testing.B, snaps <-chan runner.Snapshot) {
	deadline := time.After(30 * time.Second)
	for {
		select {
		case s := <-snaps:
			if s.Current != nil && len(s.Current.Expectations) > 0 && allMet(s.Current.Expectations) {
				return
			}
		case <-deadline:
			b.Fatal("the first chapter never settled")
		}
	}
}

func allMet(es []runner.ExpectationView) bool {
	for _, e := range es {
		if e.State != runner.Met {
			return false
		}
	}
	return true
}

// cpuTime is the user+system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
